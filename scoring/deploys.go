package scoring

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// deployRec is one deploy: the started event and the final event of the same deploy, paired by
// deploy id (a trailing -started / -finished style suffix is ignored, so "deploy-8842-started"
// and "deploy-8842-finished" are one deploy).
type deployRec struct {
	key        string
	env        string
	kind       string
	status     string // the final status, or "started" while none arrived
	started    *releaseops.Fact
	final      *releaseops.Fact
	start, end time.Time // end is zero while unfinished
	strategy   string
	phases     int
	health     *bool
	flags      *bool
	snapshot   *bool
	rto        *float64
	version    string
	commit     string
	facts      []*releaseops.Fact
}

func (d *deployRec) production() bool { return isProduction(d.env) }

// isDeploy reports whether the record is a regular deploy (not a rollback or rehearsal).
func (d *deployRec) isDeploy() bool { return d.kind == "" || d.kind == releaseops.KindDeploy }

func (d *deployRec) finished() bool { return d.final != nil }

func (d *deployRec) succeeded() bool { return d.status == releaseops.DeploySucceeded }

// failedOrRolledBack reports the deploy's own failure (not an incident after it).
func (d *deployRec) failedOrRolledBack() bool {
	return d.status == releaseops.DeployFailed || d.status == releaseops.DeployRolledBack
}

// phased reports a progressive rollout: canary, blue/green, or rolling in more than one phase.
func (d *deployRec) phased() bool {
	switch strings.ToLower(d.strategy) {
	case "canary", "blue_green", "blue-green", "bluegreen":
		return true
	case "rolling":
		return d.phases > 1
	}
	return false
}

// deployKey is the pairing key of a deploy event: its id without a trailing status word
// (-started, -finished, -succeeded, -failed, -rolled_back, ...).
func deployKey(d *releaseops.Deploy) string {
	id := d.ID
	if id == "" {
		return d.Environment + "@" + d.CommitSHA + "@" + d.Version
	}
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return id
	}
	switch lowerASCII(id[i+1:]) {
	case "started", "start", "finished", "finish", "succeeded", "success", "failed", "failure",
		"rolled_back", "completed", "complete", "done":
		return id[:i]
	case "back":
		if j := len(id) - len("-rolled-back"); j > 0 && strings.EqualFold(id[j:], "-rolled-back") {
			return id[:j]
		}
	}
	return id
}

// deployBuilder pairs deploy events into deploy records. Index keeps one across Scores, so
// that new events extend the records instead of every event being paired again.
type deployBuilder struct {
	byKey map[string]*deployRec
	recs  []deployRec        // allocated in chunks; pointers into a chunk stay valid
	slots []*releaseops.Fact // two per new deploy, for its usual started and final events
	hint  int                // expected number of events, for the chunk sizes
}

func newDeployBuilder(events int) *deployBuilder {
	return &deployBuilder{byKey: make(map[string]*deployRec, events/2+1), slots: make([]*releaseops.Fact, 0, events+events/4+2), hint: events}
}

// add applies one deploy event, in time order, and reports whether it started a new record.
func (b *deployBuilder) add(f *releaseops.Fact) (r *deployRec, isNew bool) {
	r, isNew = b.record(f)
	r.apply(f)
	return r, isNew
}

// record returns the deploy record of f's key, creating it (starting at f) if there is none.
func (b *deployBuilder) record(f *releaseops.Fact) (r *deployRec, isNew bool) {
	k := deployKey(f.Deploy)
	r = b.byKey[k]
	if r == nil {
		isNew = true
		if len(b.recs) == cap(b.recs) {
			b.recs = make([]deployRec, 0, min(b.hint/2+1, 512))
		}
		b.recs = append(b.recs, deployRec{key: k, status: releaseops.DeployStarted, start: f.At})
		r = &b.recs[len(b.recs)-1]
		// Most deploys have a started and a final event: give each two slots of one
		// shared array; a third event makes append copy that deploy's facts out.
		if len(b.slots)+2 <= cap(b.slots) {
			r.facts = b.slots[len(b.slots) : len(b.slots) : len(b.slots)+2]
			b.slots = b.slots[:len(b.slots)+2]
		}
		b.byKey[k] = r
	}
	return r, isNew
}

// apply folds one more of the deploy's events, in time order, into the record.
func (r *deployRec) apply(f *releaseops.Fact) {
	d := f.Deploy
	r.facts = append(r.facts, f)
	if d.Environment != "" {
		r.env = d.Environment
	}
	if d.Kind != "" {
		r.kind = d.Kind
	}
	if d.Strategy != "" {
		r.strategy = d.Strategy
	}
	if d.Phases > 0 {
		r.phases = d.Phases
	}
	if d.HealthChecks != nil {
		r.health = d.HealthChecks
	}
	if d.FeatureFlags != nil {
		r.flags = d.FeatureFlags
	}
	if d.Snapshot != nil {
		r.snapshot = d.Snapshot
	}
	if d.RTOSeconds != nil {
		r.rto = d.RTOSeconds
	}
	if d.Version != "" {
		r.version = d.Version
	}
	if d.CommitSHA != "" {
		r.commit = d.CommitSHA
	}
	if d.Status == releaseops.DeployStarted {
		if r.started == nil {
			r.started = f
		}
	} else {
		r.final = f
		r.status = d.Status
		r.end = f.At
		if d.FinishedAt != nil && !d.FinishedAt.IsZero() {
			r.end = *d.FinishedAt
		}
	}
	if d.StartedAt != nil && !d.StartedAt.IsZero() && d.StartedAt.Before(r.start) {
		r.start = *d.StartedAt
	}
}

// sortDeploys orders records by start, then key.
func sortDeploys(out []*deployRec) {
	slices.SortFunc(out, func(a, b *deployRec) int { // keys are unique: a total order
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
}
