package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/storage"
)

// initiativeSet holds the initiatives of the config and reads those created at run time from
// the database at each use, so every replica sees an initiative as soon as it is stored.
type initiativeSet struct {
	configured []*initiative.Initiative
	known      initiative.Known
	live       *liveJudge
}

// wireInitiatives loads the configured initiatives, says which deserve a look, and mounts
// the API. Pages and nudges read them through the App methods below.
func (a *App) wireInitiatives() {
	a.initiatives = &initiativeSet{configured: a.Config.ConfiguredInitiatives(), known: initiative.KnownFrom(a.Config.Scoring),
		live: newLiveJudge()}
	for _, w := range a.Config.InitiativeWarnings(a.Now(), a.catalogServices()) {
		a.Log.Warn("initiative: " + w)
	}
	a.Bot.RegisterNudgeSender(a.Outbox)
	api := a.Server.API()
	api.GET("/initiatives", a.listInitiatives, a.Server.Require("read"))
	api.GET("/initiatives/:id", a.getInitiative, a.Server.Require("read"))
	api.POST("/initiatives", a.createInitiative, a.Server.Require("gate"))
	api.DELETE("/initiatives/:id", a.deleteInitiative, a.Server.Require("gate"))
}

// startInitiatives runs the nudge scheduler and the burn-up recorder under their leases (one
// replica sends the reminders, one records and backfills the burn-ups), and judges every
// initiative's cards once in the background, so that a replica's first request does not.
func (a *App) startInitiatives(ctx context.Context) {
	a.runLeased(ctx, leaseNudges, a.runNudges)
	a.runLeased(ctx, leaseBurnUp, a.runBurnUp)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := a.InitiativeReports(wctx); err != nil && ctx.Err() == nil {
			a.Log.Warn("initiatives: judge the stored cards", "err", err)
		}
	}()
}

// catalogServices is every service the catalog knows, by name.
func (a *App) catalogServices() []releaseops.Service {
	names := a.Catalog.Names()
	out := make([]releaseops.Service, 0, len(names))
	for _, n := range names {
		if s, ok := a.Catalog.Get(n); ok {
			out = append(out, s)
		}
	}
	return out
}

// allInitiatives returns the configured initiatives, then those created at run time, by id.
// A stored one that no longer compiles (the config since dropped the custom rule it names)
// is logged and left out rather than failing every page.
func (a *App) allInitiatives(ctx context.Context) ([]*initiative.Initiative, error) {
	rows, err := a.DB.ListInitiatives(ctx)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(a.initiatives.configured)
	for _, r := range rows {
		in, err := a.storedInitiative(r)
		if err != nil {
			a.Log.Warn("initiative left out", "id", r.ID, "err", err)
			continue
		}
		out = append(out, in)
	}
	return out, nil
}

func (a *App) storedInitiative(r storage.InitiativeRow) (*initiative.Initiative, error) {
	var s initiative.Spec
	if err := json.Unmarshal(r.Spec, &s); err != nil {
		return nil, fmt.Errorf("decode stored initiative %s: %w", r.ID, err)
	}
	s.Source, s.CreatedBy, s.CreatedAt = "api", r.CreatedBy, r.CreatedAt
	in, ps := initiative.Compile(s, a.initiatives.known)
	if len(ps) > 0 {
		return nil, fmt.Errorf("stored initiative %s no longer compiles: %s", r.ID, joinProblems(ps))
	}
	return in, nil
}

func joinProblems(ps []initiative.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// progress evaluates the initiatives against the services' latest stored cards.
func (a *App) progress(ctx context.Context, ins []*initiative.Initiative) ([]initiative.Report, []releaseops.Service, error) {
	services := a.catalogServices()
	reps, err := a.initiatives.live.progress(ctx, a, ins, services)
	return reps, services, err
}

// InitiativeReports is every initiative's progress now, per owning team, without burn-ups:
// the digests read it (with initiative.DueFor and initiative.OrgProgress), and so do the
// initiatives list and its API. The teams' slices are shared with later calls (a report is
// reused while nothing changed): callers copy what they modify.
func (a *App) InitiativeReports(ctx context.Context) ([]initiative.Report, error) {
	ins, err := a.allInitiatives(ctx)
	if err != nil {
		return nil, err
	}
	reps, _, err := a.progress(ctx, ins)
	return reps, err
}

// InitiativeReport is one initiative's progress with its burn-up; false when there is none
// with the id. The burn-up's past days are the stored points (recorded or replayed in the
// background, see initiatives_burnup.go) and today's is the live progress: nothing is
// replayed here. Days not stored yet are counted in Backfilling and left out.
func (a *App) InitiativeReport(ctx context.Context, id string) (initiative.Report, bool, error) {
	ins, err := a.allInitiatives(ctx)
	if err != nil {
		return initiative.Report{}, false, err
	}
	i := slices.IndexFunc(ins, func(in *initiative.Initiative) bool { return in.ID == id })
	if i < 0 {
		return initiative.Report{}, false, nil
	}
	in := ins[i]
	reps, _, err := a.progress(ctx, ins[i:i+1])
	if err != nil {
		return initiative.Report{}, false, err
	}
	rep := reps[0]
	stored, err := a.storedPoints(ctx, in, rep.At)
	if err != nil {
		return initiative.Report{}, false, err
	}
	rep.BurnUp, rep.Backfilling = in.BurnUpOf(rep.At, stored, rep)
	return rep, true, nil
}

// storedPoints reads the initiative's stored points over its burn-up's past days, by day,
// keeping only those of its current fingerprint.
func (a *App) storedPoints(ctx context.Context, in *initiative.Initiative, now time.Time) (map[string]initiative.Point, error) {
	past := in.PastDays(now)
	out := map[string]initiative.Point{}
	if len(past) == 0 {
		return out, nil
	}
	rows, err := a.DB.InitiativeDays(ctx, in.ID, initiative.Day(past[0]), initiative.Day(past[len(past)-1]))
	if err != nil {
		return nil, err
	}
	fp := in.Fingerprint()
	for _, r := range rows {
		if r.Fingerprint == fp {
			out[r.Day] = initiative.Point{Day: r.Day, At: r.At, Done: r.Done, Total: r.Total, Source: r.Source}
		}
	}
	return out, nil
}
