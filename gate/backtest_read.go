package gate

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// BacktestRequest says which stored deploys to replay.
type BacktestRequest struct {
	Services []string
	// Since and Until bound the deploys rated; the failure-rate window before Since is read
	// too, so the first rated deploys have the history the gate would have had.
	Since, Until time.Time
	// Thresholds give the band a score put a service in, per environment.
	Thresholds func(env string) scoring.Thresholds
}

// ReadBacktest reads the stored production deploys of the services with what the risk
// would have known at each one's time: the band from the score history before it, the last
// on-call read before it, and the services' incidents (the replay opens and closes them as
// it walks). Change sizes and release ids are not stored with deploys (the gate asks GitHub
// at request time), so the replay rates change size "unknown", as the gate does without a
// commit. The result is in time order.
func ReadBacktest(ctx context.Context, db *storage.DB, p *TimingPolicy, req BacktestRequest) (risk.BacktestInput, error) {
	in := risk.BacktestInput{From: req.Since}
	if p == nil || p.Model == nil {
		return in, fmt.Errorf("backtest: release risk is off: the risk config does not compile")
	}
	warm := req.Since.AddDate(0, 0, -p.Model.Config().FailureRateDays)
	for _, svc := range req.Services {
		if err := ctx.Err(); err != nil {
			return in, fmt.Errorf("backtest: %w", err)
		}
		ds, incs, err := backtestService(ctx, db, p, req, svc, warm)
		if err != nil {
			return in, err
		}
		in.Deploys = append(in.Deploys, ds...)
		in.Incidents = append(in.Incidents, incs...)
	}
	sort.SliceStable(in.Deploys, func(i, j int) bool {
		a, b := in.Deploys[i], in.Deploys[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.ID < b.ID
	})
	return in, nil
}

func backtestService(ctx context.Context, db *storage.DB, p *TimingPolicy, req BacktestRequest, svc string, warm time.Time) ([]risk.BacktestDeploy, []risk.BacktestIncident, error) {
	facts, err := db.FactsForService(ctx, svc, warm)
	if err != nil {
		return nil, nil, fmt.Errorf("backtest %s: %w", svc, err)
	}
	hist, err := db.History(ctx, svc, warm.AddDate(0, 0, -30))
	if err != nil {
		return nil, nil, fmt.Errorf("backtest %s: %w", svc, err)
	}
	var oncalls []releaseops.Fact
	var deploys []risk.BacktestDeploy
	incidents := map[string]*risk.BacktestIncident{}
	var order []string
	for _, sf := range facts {
		f := sf.Fact
		if f.At.After(req.Until) {
			continue
		}
		switch {
		case f.Kind == releaseops.FactOnCall && f.OnCall != nil:
			oncalls = append(oncalls, f)
		case f.Kind == releaseops.FactIncident && f.Incident != nil:
			order = noteIncident(incidents, order, svc, f)
		case f.Kind == releaseops.FactDeploy:
			failed, ok := p.outcome(f.Deploy)
			if !ok {
				continue
			}
			th := scoring.DefaultThresholds
			if req.Thresholds != nil {
				th = req.Thresholds(f.Deploy.Environment)
			}
			deploys = append(deploys, risk.BacktestDeploy{Service: svc, ID: f.Deploy.ID, At: f.At, Failed: failed,
				Band: bandsAt(hist, th)(f.At), ChangeUnknownWhy: "change sizes are not stored with deploys; the backtest does not ask GitHub"})
		}
	}
	sort.SliceStable(oncalls, func(i, j int) bool { return oncalls[i].At.Before(oncalls[j].At) })
	for i := range deploys {
		d := &deploys[i]
		// The last read at or before the deploy, judged as of the deploy: a shift that had
		// ended by then is no coverage.
		k := sort.Search(len(oncalls), func(j int) bool { return oncalls[j].At.After(d.At) })
		if k > 0 {
			d.OnCall = onCallOf(oncalls[k-1], d.At)
		}
	}
	incs := make([]risk.BacktestIncident, 0, len(order))
	for _, id := range order {
		incs = append(incs, *incidents[id])
	}
	return deploys, incs, nil
}

// noteIncident folds one incident fact into the incident's life: opened at its creation (or
// first sight), resolved at the first resolution seen.
func noteIncident(incidents map[string]*risk.BacktestIncident, order []string, svc string, f releaseops.Fact) []string {
	inc := f.Incident
	bi, ok := incidents[inc.ID]
	if !ok {
		opened := inc.CreatedAt
		if opened.IsZero() || opened.After(f.At) {
			opened = f.At
		}
		bi = &risk.BacktestIncident{Service: svc, ID: inc.ID, Title: inc.Title, Priority: inc.Priority, URL: inc.URL, Opened: opened}
		incidents[inc.ID] = bi
		order = append(order, inc.ID)
	}
	if bi.Title == "" {
		bi.Title = inc.Title
	}
	resolved := time.Time{}
	switch {
	case inc.ResolvedAt != nil:
		resolved = *inc.ResolvedAt
	case inc.Status == "resolved":
		resolved = f.At
	}
	if !resolved.IsZero() && (bi.Resolved.IsZero() || resolved.Before(bi.Resolved)) {
		bi.Resolved = resolved
	}
	return order
}
