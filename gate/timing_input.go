package gate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// ChangeSource reads the size of a change between two commits (GitHub's compare).
type ChangeSource interface {
	Compare(ctx context.Context, repo, base, head string) (*risk.Change, error)
}

// TimingPolicy is what the gate needs to weigh timing: the risk model, the windows and
// blackouts, the trust ladder and the quorum rules, and where to read change sizes.
type TimingPolicy struct {
	Model   *risk.Model
	Windows *risk.Windows
	Ladder  risk.LadderConfig
	// Quorum returns the approvals an approval needs for band, tier and risk level.
	Quorum func(band string, tier int, level risk.Level) int
	// Changes, if set, is asked for the change size; it gets CompareTimeout (default 2 s)
	// and the gate answers without the size when it takes longer, saying so.
	Changes        ChangeSource
	CompareTimeout time.Duration
	// ProductionEnvs are the environments whose deploys count as production (default
	// "production" and "prod").
	ProductionEnvs []string

	mu    sync.Mutex
	cache map[string]*risk.Change // "repo base head" → change: a commit pair's diff never changes
}

const compareCacheMax = 4096

func (p *TimingPolicy) production(env string) bool {
	envs := p.ProductionEnvs
	if len(envs) == 0 {
		envs = []string{"production", "prod"}
	}
	for _, e := range envs {
		if e == env {
			return true
		}
	}
	return false
}

// deployHistory is how many recent deploys the risk and the ladder see, and historyMargin how
// much score history before the oldest of them the ladder's bands are read from.
const (
	deployHistory = 500
	historyMargin = 30 * 24 * time.Hour
)

// inputsQuery says what decide reads for req: with the timing model, its facts, recent
// deploys, their score history and, for a release, the release's other services.
func (g *Gate) inputsQuery(req *Request, exclude int64, now time.Time) storage.GateQuery {
	q := storage.GateQuery{Service: req.Service, Exclude: exclude}
	p := g.Timing
	if p == nil || p.Model == nil {
		return q
	}
	cfg := p.Model.Config()
	q.Timing = true
	q.FactsSince = now.Add(-time.Duration(cfg.FailureRateDays) * 24 * time.Hour)
	q.DeploysBefore, q.DeployLimit, q.HistoryMargin = now.Add(time.Second), deployHistory, historyMargin
	if req.Release != "" {
		q.Release, q.ReleaseSince = req.Release, now.Add(-cfg.ReleaseWindow.Std())
	}
	return q
}

// timing weighs what the risk, the window and the ladder need for this request, from the
// inputs decide read (inputsQuery).
func (g *Gate) timing(ctx context.Context, req *Request, card *scoring.Scorecard, now time.Time, inputs *storage.GateInputs) (*Timing, error) {
	p := g.Timing
	if p == nil || p.Model == nil {
		return nil, nil
	}
	svc, _ := g.Catalog.Get(req.Service)
	base := Decide(card, *req, g.Policy, now) // the band after floors, before timing
	in := risk.Input{Service: req.Service, Environment: req.Environment, Now: now, Release: req.Release}
	if base.Band != BandUnknown {
		in.Band = base.Band
	}
	facts := inputs.Facts
	open := map[string]risk.Incident{}
	var incidentTimes []time.Time
	for _, f := range facts {
		switch {
		case f.Kind == releaseops.FactOnCall && f.OnCall != nil:
			in.OnCall = onCallOf(f.Fact, now)
		case f.Kind == releaseops.FactIncident && f.Incident != nil:
			inc := f.Incident
			// Sync reads an incident's whole life, webhooks one transition: either says resolved.
			if inc.Status == "resolved" || inc.ResolvedAt != nil && !inc.ResolvedAt.After(now) {
				delete(open, inc.ID)
				continue
			}
			if _, seen := open[inc.ID]; !seen {
				since := inc.CreatedAt
				if since.IsZero() {
					since = f.At
				}
				open[inc.ID] = risk.Incident{ID: inc.ID, Title: inc.Title, Priority: inc.Priority, URL: inc.URL, Since: since}
				incidentTimes = append(incidentTimes, since)
			}
		}
	}
	for _, i := range open {
		in.Incidents = append(in.Incidents, i)
	}
	sortIncidents(in.Incidents)
	deploys := inputs.Deploys
	var ladder []risk.LadderDeploy
	var lastCommit string
	bandAt := func(time.Time) string { return "" }
	if len(deploys) > 0 { // the history from 30 days before the oldest of them
		bandAt = bandsAt(inputs.History, g.Policy.ThresholdsFor(req.Environment))
	}
	for _, f := range deploys { // newest first
		d := f.Deploy
		failed, ok := p.outcome(d) // the same reading the slots and the backtest make
		if !ok {
			continue
		}
		in.Deploys = append(in.Deploys, risk.Deploy{ID: d.ID, At: f.At, Failed: failed})
		if in.LastProductionDeploy.IsZero() {
			in.LastProductionDeploy = f.At
		}
		if lastCommit == "" && !failed && d.CommitSHA != "" {
			lastCommit = d.CommitSHA
		}
		ladder = append(ladder, risk.LadderDeploy{ID: d.ID, At: f.At, Band: bandAt(f.At), Failed: failed})
	}
	in.Change, in.ChangeUnknownWhy = p.change(ctx, svc.Repo, lastCommit, req.CommitSHA)
	if req.Release != "" {
		in.ReleaseServices = inputs.ReleaseServices
	}
	a := p.Model.Assess(in)
	l := p.Ladder.Climb(ladder, incidentTimes, now)
	t := &Timing{Risk: &a, Ladder: &l, LadderConfig: p.Ladder, Window: p.Windows.At(now, req.Environment, req.Service, svc.Tier)}
	if p.Quorum != nil {
		tier := svc.Tier
		t.Quorum = func(band string, level risk.Level) int { return p.Quorum(band, tier, level) }
	}
	return t, nil
}

// change returns the diff since the last production commit, or why it is unknown.
func (p *TimingPolicy) change(ctx context.Context, repo, base, head string) (*risk.Change, string) {
	switch {
	case head == "":
		return nil, "the request has no commit_sha"
	case base == "":
		return nil, "no earlier production deploy with a commit to compare with"
	case base == head:
		return &risk.Change{Base: base, Head: head}, ""
	case repo == "":
		return nil, "the service names no repository"
	case p.Changes == nil:
		return nil, "no GitHub API credentials to compare commits"
	}
	key := repo + " " + base + " " + head
	p.mu.Lock()
	c, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return c, ""
	}
	timeout := p.CompareTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := p.Changes.Compare(cctx, repo, base, head)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || cctx.Err() != nil {
			return nil, fmt.Sprintf("GitHub did not answer the compare within %s", timeout)
		}
		return nil, "GitHub's compare failed: " + err.Error()
	}
	p.mu.Lock()
	if p.cache == nil || len(p.cache) >= compareCacheMax {
		p.cache = map[string]*risk.Change{}
	}
	p.cache[key] = c
	p.mu.Unlock()
	return c, ""
}

func onCallOf(f releaseops.Fact, now time.Time) *risk.OnCall {
	oc := &risk.OnCall{Source: f.Evidence.Describe()}
	for _, l := range f.OnCall.Levels {
		if l.Level != 1 && len(f.OnCall.Levels) > 1 {
			continue
		}
		if l.User != "" && (l.Until.IsZero() || l.Until.After(now)) {
			oc.Covered, oc.Who, oc.Until = true, l.User, l.Until
		}
		break
	}
	return oc
}

func sortIncidents(is []risk.Incident) {
	sort.Slice(is, func(i, j int) bool {
		if !is[i].Since.Equal(is[j].Since) {
			return is[i].Since.Before(is[j].Since)
		}
		return is[i].ID < is[j].ID
	})
}

// bandsAt gives the band a service's score history put it in at each time: the ladder counts
// only deploys made in the mature band. One read of the history, searched per deploy.
func bandsAt(hist []storage.HistoryPoint, th scoring.Thresholds) func(time.Time) string {
	return func(at time.Time) string {
		i := sort.Search(len(hist), func(i int) bool { return hist[i].At.After(at) })
		if i == 0 {
			return ""
		}
		return bandOf(hist[i-1].Score, th)
	}
}
