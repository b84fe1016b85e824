package scoring

import (
	"cmp"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// facts is the input of one Score call, sorted and grouped once so that every signal reads
// the same deterministic view. Facts later than now are ignored.
type facts struct {
	now time.Time
	svc *releaseops.Service

	all    []*releaseops.Fact           // sorted by factLess
	byKind [numKinds][]*releaseops.Fact // indexed like kinds

	deploys []*deployRec // sorted by start, then key
	prs     []*prRec     // merged PRs, sorted by merge time, then repo and number

	branch    *branchView    // built on first use
	incidents []*incidentRec // built on first use

	// sync is the input's sync coverage, sorted, and syncStale is sync.stale_after: set by
	// every Score call, since neither is part of the fact index.
	sync      []releaseops.SyncCoverage
	syncStale time.Duration

	// prod memoises prodDeploys per window: seven signals ask for the same list.
	prod map[time.Duration][]*deployRec
}

func newFacts(in *Input) *facts {
	x, _, _ := buildIndex(in)
	return x
}

// buildIndex indexes in's facts from scratch. It also returns the deploy builder, for Index
// to extend, and whether a fact was left out for being later than in.Now.
func buildIndex(in *Input) (x *facts, deploys *deployBuilder, skipped bool) {
	x = &facts{now: in.Now, svc: &in.Service}
	n := len(in.Facts)
	// One sequential pass over the input: kind, time key and position of each usable fact.
	kindOf := make([]int8, n)
	keys := make([]uint64, 0, n)
	idx := make([]int32, 0, n)
	var counts [numKinds]int
	for i := range in.Facts {
		f := &in.Facts[i]
		k := kindIndex(f)
		kindOf[i] = int8(k)
		if k < 0 {
			continue
		}
		if f.At.After(in.Now) {
			skipped = true
			continue
		}
		counts[k]++
		keys = append(keys, timeKey(f.At))
		idx = append(idx, int32(i))
	}
	radixSort(keys, idx)
	// Facts at the same instant take the full order.
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(idx[i:j], func(a, b int32) int { return factCmp(&in.Facts[a], &in.Facts[b]) })
		}
		i = j
	}
	x.all = make([]*releaseops.Fact, len(idx))
	// One backing array for every kind, cut to the exact counts.
	backing := make([]*releaseops.Fact, len(idx))
	for k, c := range counts {
		x.byKind[k], backing = backing[:0:c], backing[c:]
	}
	for i, j := range idx {
		f := &in.Facts[j]
		x.all[i] = f
		k := kindOf[j]
		x.byKind[k] = append(x.byKind[k], f)
	}
	deployFacts := x.of(releaseops.FactDeploy)
	deploys = newDeployBuilder(len(deployFacts))
	for _, f := range deployFacts { // in time order
		if r, isNew := deploys.add(f); isNew {
			x.deploys = append(x.deploys, r)
		}
	}
	sortDeploys(x.deploys)
	x.prs = buildPRs(x.of(releaseops.FactPullRequest), x.of(releaseops.FactReview))
	return x, deploys, skipped
}

// timeKey maps a time to an unsigned key with the same order (times before 1678 all map to 0;
// factCmp orders them).
func timeKey(t time.Time) uint64 {
	if !t.After(minKeyTime) {
		return 0
	}
	return uint64(t.UnixNano()) ^ 1<<63
}

var minKeyTime = time.Unix(0, math.MinInt64)

// radixSort sorts keys ascending, carrying idx along: linear time and stable, which matters
// at 10,000 facts.
func radixSort(keys []uint64, idx []int32) {
	n := len(keys)
	if n < 2 {
		return
	}
	tmpK, tmpI := make([]uint64, n), make([]int32, n)
	src, srcI := keys, idx
	for shift := 0; shift < 64; shift += 8 {
		var count [257]int
		for _, k := range src {
			count[(k>>shift)&0xff+1]++
		}
		if count[(src[0]>>shift)&0xff+1] == n {
			continue // every key has the same digit here
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for i, k := range src {
			d := (k >> shift) & 0xff
			tmpK[count[d]], tmpI[count[d]] = k, srcI[i]
			count[d]++
		}
		src, tmpK = tmpK, src
		srcI, tmpI = tmpI, srcI
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
		copy(idx, srcI)
	}
}

// kinds are the fact kinds scoring reads, numbered by their position.
var kinds = [...]releaseops.FactKind{
	releaseops.FactDeploy, releaseops.FactPullRequest, releaseops.FactReview, releaseops.FactBranchProtection,
	releaseops.FactRuleset, releaseops.FactPush, releaseops.FactCIRun, releaseops.FactRelease,
	releaseops.FactVulnerability, releaseops.FactIncident, releaseops.FactPagerDutyService, releaseops.FactTerraformRun,
	releaseops.FactAssessment, releaseops.FactProtectionRule, releaseops.FactGateDecision, releaseops.FactNotification,
	releaseops.FactRepoState,
}

const numKinds = len(kinds)

// kindNum is the position of a kind in kinds, or -1.
func kindNum(k releaseops.FactKind) int {
	for i, kk := range kinds {
		if kk == k {
			return i
		}
	}
	return -1
}

// kindIndex numbers the fact's kind for grouping, or -1 when the kind is unknown or its typed
// payload (the one Kind names) is missing.
func kindIndex(f *releaseops.Fact) int {
	var ok bool
	var i int
	switch f.Kind {
	case releaseops.FactDeploy:
		ok, i = f.Deploy != nil, 0
	case releaseops.FactPullRequest:
		ok, i = f.PullRequest != nil, 1
	case releaseops.FactReview:
		ok, i = f.Review != nil, 2
	case releaseops.FactBranchProtection:
		ok, i = f.BranchProtection != nil, 3
	case releaseops.FactRuleset:
		ok, i = f.Ruleset != nil, 4
	case releaseops.FactPush:
		ok, i = f.Push != nil, 5
	case releaseops.FactCIRun:
		ok, i = f.CIRun != nil, 6
	case releaseops.FactRelease:
		ok, i = f.Release != nil, 7
	case releaseops.FactVulnerability:
		ok, i = f.Vulnerability != nil, 8
	case releaseops.FactIncident:
		ok, i = f.Incident != nil, 9
	case releaseops.FactPagerDutyService:
		ok, i = f.PagerDutyService != nil, 10
	case releaseops.FactTerraformRun:
		ok, i = f.TerraformRun != nil, 11
	case releaseops.FactAssessment:
		ok, i = f.Assessment != nil, 12
	case releaseops.FactProtectionRule:
		ok, i = f.ProtectionRule != nil, 13
	case releaseops.FactGateDecision:
		ok, i = f.GateDecision != nil, 14
	case releaseops.FactNotification:
		ok, i = f.Notification != nil, 15
	case releaseops.FactRepoState:
		ok, i = f.RepoState != nil, 16
	}
	if !ok {
		return -1
	}
	return i // the position of f.Kind in kinds (TestKindIndex checks)
}

// of returns the facts of one kind, oldest first.
func (x *facts) of(kind releaseops.FactKind) []*releaseops.Fact {
	if k := kindNum(kind); k >= 0 {
		return x.byKind[k]
	}
	return nil
}

// factCmp is a total order on facts so that the input order never shows in the output:
// time, then the delivery that carried the fact, then the fact's own identity.
func factCmp(a, b *releaseops.Fact) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Evidence.Source, b.Evidence.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Evidence.Delivery, b.Evidence.Delivery); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return cmp.Compare(factKey(a), factKey(b))
}

// factKey identifies a fact within its kind, for ordering facts that share a delivery.
func factKey(f *releaseops.Fact) string {
	switch f.Kind {
	case releaseops.FactDeploy:
		return f.Deploy.ID + "\x00" + f.Deploy.Status + "\x00" + f.Deploy.Environment
	case releaseops.FactPullRequest:
		return f.PullRequest.Repo + "#" + strconv.Itoa(f.PullRequest.Number)
	case releaseops.FactReview:
		return f.Review.Repo + "#" + strconv.Itoa(f.Review.PRNumber) + "\x00" + f.Review.Reviewer + "\x00" + f.Review.State
	case releaseops.FactBranchProtection:
		return f.BranchProtection.Repo + "\x00" + f.BranchProtection.Pattern
	case releaseops.FactRuleset:
		return f.Ruleset.Repo + "\x00" + strconv.FormatInt(f.Ruleset.ID, 10)
	case releaseops.FactPush:
		return f.Push.Repo + "\x00" + f.Push.Ref + "\x00" + f.Push.After
	case releaseops.FactCIRun:
		return f.CIRun.Repo + "\x00" + f.CIRun.Name + "\x00" + f.CIRun.HeadSHA + "\x00" + f.CIRun.Status + "\x00" + f.CIRun.Conclusion
	case releaseops.FactIncident:
		return f.Incident.ID + "\x00" + f.Incident.Status
	case releaseops.FactTerraformRun:
		return f.TerraformRun.RunID + "\x00" + f.TerraformRun.Trigger
	case releaseops.FactAssessment:
		return f.Assessment.Workspace + "\x00" + f.Assessment.Trigger
	case releaseops.FactNotification:
		return f.Notification.Kind + "\x00" + f.Notification.Channel + "\x00" + f.Notification.Ref
	case releaseops.FactGateDecision:
		return f.GateDecision.Environment + "\x00" + f.GateDecision.Version + "\x00" + f.GateDecision.CommitSHA
	case releaseops.FactPagerDutyService:
		return f.PagerDutyService.ID + "\x00" + f.PagerDutyService.EventType
	case releaseops.FactRelease:
		return f.Release.Repo + "\x00" + f.Release.Tag + "\x00" + f.Release.Action
	case releaseops.FactVulnerability:
		return f.Vulnerability.Repo + "\x00" + f.Vulnerability.Tool + "\x00" + strconv.Itoa(f.Vulnerability.Number)
	case releaseops.FactProtectionRule:
		return f.ProtectionRule.Repo + "\x00" + strconv.FormatInt(f.ProtectionRule.DeploymentID, 10)
	case releaseops.FactRepoState:
		// One snapshot per repository is the latest state; GitHub names are case-insensitive.
		return lowerASCII(f.RepoState.Repo)
	}
	return ""
}

// since reports whether t is within the window ending at now, boundary included.
func (x *facts) since(t time.Time, window time.Duration) bool {
	return !t.Before(x.now.Add(-window)) && !t.After(x.now)
}

// repoMatches reports whether a repository named in a fact is the service's (when the catalog
// names one; facts were already mapped to the service, so a catalog without a repo accepts all).
func (x *facts) repoMatches(repo string) bool {
	return x.svc.Repo == "" || repo == "" || strings.EqualFold(repo, x.svc.Repo)
}

// isProduction reports whether an environment name is production.
func isProduction(env string) bool {
	return strings.EqualFold(env, "production") || strings.EqualFold(env, "prod")
}

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

// prRec is a merged pull request with the approvals it received.
type prRec struct {
	fact      *releaseops.Fact
	pr        *releaseops.PullRequest
	approvals []*releaseops.Fact // latest approving review per reviewer, not by the author
}

// prID identifies a pull request: repository (lowercase) and number.
type prID struct {
	repo string
	n    int
}

func prKey(repo string, n int) prID { return prID{lowerASCII(repo), n} }

// lowerASCII lowercases s, without allocating when it has no uppercase letter.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

func buildPRs(prFacts, reviews []*releaseops.Fact) []*prRec {
	byKey := make(map[prID]*prRec, len(prFacts))
	recs := make([]prRec, 0, len(prFacts))
	var out []*prRec
	for _, f := range prFacts {
		k := prKey(f.PullRequest.Repo, f.PullRequest.Number)
		if r := byKey[k]; r != nil { // a redelivered or edited merge: keep the latest
			r.fact, r.pr = f, f.PullRequest
			continue
		}
		recs = append(recs, prRec{fact: f, pr: f.PullRequest})
		r := &recs[len(recs)-1]
		byKey[k] = r
		out = append(out, r)
	}
	// A reviewer's latest approved / changes_requested / dismissed review decides; comments do not.
	type rk struct {
		pr       prID
		reviewer string
	}
	latest := make(map[rk]*releaseops.Fact, len(reviews))
	var order []rk
	for _, f := range reviews {
		rv := f.Review
		switch strings.ToLower(rv.State) {
		case "approved", "changes_requested", "dismissed":
		default:
			continue
		}
		k := rk{prKey(rv.Repo, rv.PRNumber), lowerASCII(rv.Reviewer)}
		if _, ok := latest[k]; !ok {
			order = append(order, k)
		}
		latest[k] = f
	}
	for _, k := range order {
		f := latest[k]
		r := byKey[k.pr]
		if r == nil || !strings.EqualFold(f.Review.State, "approved") {
			continue
		}
		if r.pr.Author != "" && strings.EqualFold(r.pr.Author, f.Review.Reviewer) {
			continue
		}
		r.approvals = append(r.approvals, f)
	}
	slices.SortFunc(out, func(a, b *prRec) int { // (repo, number) is unique: a total order
		if c := a.mergedAt().Compare(b.mergedAt()); c != 0 {
			return c
		}
		ka, kb := prKey(a.pr.Repo, a.pr.Number), prKey(b.pr.Repo, b.pr.Number)
		if c := cmp.Compare(ka.repo, kb.repo); c != 0 {
			return c
		}
		return cmp.Compare(ka.n, kb.n)
	})
	return out
}

// mergedAt is when the PR merged (the fact time when the payload has none).
func (p *prRec) mergedAt() time.Time {
	if p.pr.MergedAt.IsZero() {
		return p.fact.At
	}
	return p.pr.MergedAt
}

// incidentRec is one PagerDuty incident: when it was triggered and, if so, resolved.
type incidentRec struct {
	id         string
	triggered  time.Time
	resolved   time.Time // zero while open
	first      *releaseops.Fact
	resolvedBy *releaseops.Fact
	inc        *releaseops.Incident
}

func (x *facts) incidentRecs() []*incidentRec {
	if x.incidents != nil {
		return x.incidents
	}
	byID := map[string]*incidentRec{}
	out := []*incidentRec{}
	for _, f := range x.of(releaseops.FactIncident) {
		in := f.Incident
		if x.svc.PagerDutyServiceID != "" && in.ServiceID != "" && in.ServiceID != x.svc.PagerDutyServiceID {
			continue
		}
		r := byID[in.ID]
		if r == nil {
			r = &incidentRec{id: in.ID, triggered: f.At, first: f}
			byID[in.ID] = r
			out = append(out, r)
		}
		r.inc = in
		if !in.CreatedAt.IsZero() && in.CreatedAt.Before(r.triggered) {
			r.triggered = in.CreatedAt
		}
		if strings.EqualFold(in.Status, "resolved") || strings.HasSuffix(in.EventType, ".resolved") {
			if r.resolvedBy == nil {
				r.resolved, r.resolvedBy = f.At, f
			}
		} else if r.resolvedBy != nil && (strings.HasSuffix(in.EventType, ".reopened") || strings.EqualFold(in.Status, "triggered")) {
			r.resolved, r.resolvedBy = time.Time{}, nil
		}
	}
	slices.SortFunc(out, func(a, b *incidentRec) int { // ids are unique: a total order
		if c := a.triggered.Compare(b.triggered); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	x.incidents = out
	return out
}

// matchBranch reports whether a GitHub branch pattern (fnmatch style) names the branch.
func matchBranch(pattern, branch string) bool {
	if pattern == branch {
		return true
	}
	ok, err := path.Match(pattern, branch)
	return err == nil && ok
}

// rulesetCovers reports whether a ruleset's include list covers the default branch.
func rulesetCovers(includes []string, branch string) bool {
	for _, inc := range includes {
		switch inc {
		case "~DEFAULT_BRANCH", "~ALL":
			return true
		}
		if matchBranch(strings.TrimPrefix(inc, "refs/heads/"), branch) {
			return true
		}
	}
	return false
}

// evidenceOf collects the evidence of facts: newest first, deduplicated, at most maxEvidence.
func evidenceOf(fs ...*releaseops.Fact) []releaseops.Evidence {
	out := make([]releaseops.Evidence, 0, min(len(fs), maxEvidence))
	for _, f := range fs {
		if f == nil {
			continue
		}
		out = append(out, f.Evidence)
	}
	return tidyEvidence(out)
}

// newest keeps the tail of facts collected in time order, enough to pick the evidence from
// (two per item, for signals that cite pairs such as a deploy and the incident after it).
func newest(fs []*releaseops.Fact) []*releaseops.Fact {
	return fs[max(0, len(fs)-2*maxEvidence):]
}

// maxEvidence bounds the evidence listed per signal; the reason carries the counts.
const maxEvidence = 5

func tidyEvidence(ev []releaseops.Evidence) []releaseops.Evidence {
	slices.SortFunc(ev, func(a, b releaseops.Evidence) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Event, b.Event); c != 0 {
			return c
		}
		return cmp.Compare(a.Delivery, b.Delivery)
	})
	ev = slices.CompactFunc(ev, func(a, b releaseops.Evidence) bool {
		return a.Source == b.Source && a.Event == b.Event && a.Delivery == b.Delivery && a.At.Equal(b.At)
	})
	if len(ev) > maxEvidence {
		ev = ev[:maxEvidence]
	}
	if ev == nil {
		ev = []releaseops.Evidence{}
	}
	return ev
}
