package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// initiativeSet holds the initiatives of the config and reads those created at run time from
// the database at each use, so every replica sees an initiative as soon as it is stored.
type initiativeSet struct {
	configured []*initiative.Initiative
	known      initiative.Known

	mu   sync.Mutex
	burn map[string]burnEntry // by initiative id
}

// burnEntry is a burn-up's past days, which only late events could change: replaying them is
// the costly part, so it is done once a day per initiative (and again when its spec or the
// services it covers change). Today's point is always the live progress.
type burnEntry struct {
	key    string
	points []initiative.Point
}

// wireInitiatives loads the configured initiatives, says which deserve a look, and mounts
// the API. Pages and nudges read them through the App methods below.
func (a *App) wireInitiatives() {
	a.initiatives = &initiativeSet{configured: a.Config.ConfiguredInitiatives(), known: initiative.KnownFrom(a.Config.Scoring),
		burn: map[string]burnEntry{}}
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

// startInitiatives runs the nudge scheduler under its lease: one replica sends the reminders.
func (a *App) startInitiatives(ctx context.Context) {
	a.runLeased(ctx, leaseNudges, a.runNudges)
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

// cards reads the latest stored scorecard of each named service; a service not scored yet
// is absent.
func (a *App) cards(ctx context.Context, names []string) (map[string]*scoring.Scorecard, error) {
	out := make(map[string]*scoring.Scorecard, len(names))
	for _, n := range names {
		if _, seen := out[n]; seen {
			continue
		}
		row, err := a.DB.GetScore(ctx, n)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var card scoring.Scorecard
		if err := json.Unmarshal(row.Card, &card); err != nil {
			return nil, fmt.Errorf("decode scorecard of %s: %w", n, err)
		}
		out[n] = &card
	}
	return out, nil
}

// progress evaluates the initiatives against the services' latest cards.
func (a *App) progress(ctx context.Context, ins []*initiative.Initiative) ([]initiative.Report, []releaseops.Service, error) {
	services := a.catalogServices()
	var names []string
	for _, in := range ins {
		for _, s := range in.Covered(services) {
			names = append(names, s.Name)
		}
	}
	cards, err := a.cards(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	now := a.Now()
	out := make([]initiative.Report, len(ins))
	for i, in := range ins {
		out[i] = in.Progress(services, func(n string) *scoring.Scorecard { return cards[n] }, now)
	}
	return out, services, nil
}

// InitiativeReports is every initiative's progress now, per owning team, without burn-ups:
// the digests read it (with initiative.DueFor and initiative.OrgProgress), and so do the
// initiatives list and its API.
func (a *App) InitiativeReports(ctx context.Context) ([]initiative.Report, error) {
	ins, err := a.allInitiatives(ctx)
	if err != nil {
		return nil, err
	}
	reps, _, err := a.progress(ctx, ins)
	return reps, err
}

// InitiativeReport is one initiative's progress with its burn-up; false when there is none
// with the id.
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
	reps, services, err := a.progress(ctx, ins[i:i+1])
	if err != nil {
		return initiative.Report{}, false, err
	}
	rep := reps[0]
	past, err := a.burnUpPast(ctx, in, services)
	if err != nil {
		return initiative.Report{}, false, err
	}
	rep.BurnUp = append(past, initiative.Point{Day: rep.At.Format("2006-01-02"), At: rep.At, Done: rep.Done, Total: rep.Total})
	return rep, true, nil
}

// burnUpPast replays the covered services' stored facts through the engine at the end of each
// past day of the burn-up (initiative.Replay), from the cache when nothing changed since.
func (a *App) burnUpPast(ctx context.Context, in *initiative.Initiative, services []releaseops.Service) ([]initiative.Point, error) {
	days := in.BurnUpDays(a.Now())
	past := days[:len(days)-1]
	if len(past) == 0 {
		return []initiative.Point{}, nil
	}
	covered := in.Covered(services)
	spec, _ := json.Marshal(in.Spec)
	names := make([]string, len(covered))
	for i, s := range covered {
		names[i] = s.Name
	}
	key := fmt.Sprintf("%s|%s|%d|%s", spec, past[0].Format(time.RFC3339), len(past), strings.Join(names, ","))
	set := a.initiatives
	set.mu.Lock()
	e, ok := set.burn[in.ID]
	set.mu.Unlock()
	if ok && e.key == key {
		return slices.Clone(e.points), nil
	}
	since := past[0].Add(-a.Engine.Lookback())
	cards := make(map[string][]*scoring.Scorecard, len(covered))
	for _, svc := range covered {
		stored, err := a.DB.FactsForService(ctx, svc.Name, since)
		if err != nil {
			return nil, err
		}
		facts := make([]releaseops.Fact, len(stored))
		for i := range stored {
			facts[i] = stored[i].Fact
			facts[i].Service = svc.Name
		}
		cards[svc.Name] = initiative.Replay(a.Engine, svc, facts, past)
	}
	points := in.BurnUp(covered, past, cards)
	set.mu.Lock()
	set.burn[in.ID] = burnEntry{key: key, points: points}
	set.mu.Unlock()
	return slices.Clone(points), nil
}
