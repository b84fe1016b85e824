package app

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/releaseops/releaseops/digest"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// digestWeek is what every digest of one slot reads: each service's score at the start and
// the end of the week, and the regressions recorded in it. It is loaded once per slot.
type digestWeek struct {
	services    map[string]digest.ServiceWeek
	regressions map[string][]digest.Regression
	// deadlines by owner and exemptions by service; nil when the feature is absent.
	deadlines  map[string][]digest.Deadline
	exemptions map[string][]digest.Exemption
}

func (s *digestScheduler) loadWeek(ctx context.Context, slot digest.Slot) (*digestWeek, error) {
	w := &digestWeek{services: map[string]digest.ServiceWeek{}, regressions: map[string][]digest.Regression{}}
	for _, name := range s.services() {
		sw := digest.ServiceWeek{Service: name}
		before, ok, err := s.db.ScoreAt(ctx, name, slot.From)
		if err != nil {
			return nil, err
		}
		if ok {
			sw.Before = &digest.Point{Score: before.Score, Band: before.Band}
		}
		after, ok, err := s.db.ScoreAt(ctx, name, slot.At)
		if err != nil {
			return nil, err
		}
		if ok {
			sw.After = &digest.Point{Score: after.Score, Band: after.Band}
		}
		w.services[name] = sw
	}
	events, err := s.db.RegressionsBetween(ctx, slot.From, slot.At)
	if err != nil {
		return nil, err
	}
	for _, e := range events {
		var reg scoring.Regression
		if err := json.Unmarshal(e.Body, &reg); err != nil {
			s.log.Warn("weekly digest: a recorded regression is unreadable; left out", "service", e.Service, "at", e.At, "err", err)
			continue
		}
		w.regressions[e.Service] = append(w.regressions[e.Service], digest.Regression{Service: e.Service, At: e.At,
			From: reg.From, To: reg.To, FromBand: reg.FromBand, ToBand: reg.ToBand})
	}
	if s.initiatives != nil {
		if w.deadlines, err = s.initiatives.Deadlines(ctx, slot.At, slot.At.Add(digest.DeadlineHorizon)); err != nil {
			return nil, fmt.Errorf("initiative deadlines for the %s digests: %w", slot.Period, err)
		}
		if w.deadlines == nil {
			w.deadlines = map[string][]digest.Deadline{}
		}
	}
	if len(s.exemptions) > 0 {
		w.exemptions = map[string][]digest.Exemption{}
		for _, src := range s.exemptions {
			es, err := src.Expiring(ctx, slot.At, slot.At.Add(digest.ExpiryHorizon))
			if err != nil {
				return nil, fmt.Errorf("expiring exemptions for the %s digests: %w", slot.Period, err)
			}
			for _, e := range es {
				w.exemptions[e.Service] = append(w.exemptions[e.Service], e)
			}
		}
	}
	return w, nil
}

func (s *digestScheduler) teamInput(team digestTeamTarget, slot digest.Slot, w *digestWeek) digest.TeamInput {
	in := digest.TeamInput{Owner: team.Owner, Channel: team.Channel, Slot: slot}
	for _, name := range team.Services {
		in.Services = append(in.Services, w.services[name])
		in.Regressions = append(in.Regressions, w.regressions[name]...)
	}
	if w.deadlines != nil {
		in.Deadlines = append([]digest.Deadline{}, w.deadlines[team.Owner]...)
	}
	if w.exemptions != nil {
		in.Exemptions = []digest.Exemption{}
		for _, name := range team.Services {
			in.Exemptions = append(in.Exemptions, w.exemptions[name]...)
		}
	}
	return in
}

// digestTeams groups the catalog's services by owner. A team's digest goes to the channel
// most of its services post to (slack_channel, else slack.default_channel; the first by name
// on a tie): one digest per team, not one per channel its services happen to use. Services
// without an owner belong to no team; they are in the organisation digest only.
func (a *App) digestTeams() []digestTeamTarget {
	byOwner := map[string]*digestTeamTarget{}
	channels := map[string]map[string]int{}
	for _, name := range a.Catalog.Names() {
		svc, ok := a.Catalog.Get(name)
		if !ok || svc.Owner == "" {
			continue
		}
		t := byOwner[svc.Owner]
		if t == nil {
			t = &digestTeamTarget{Owner: svc.Owner}
			byOwner[svc.Owner] = t
			channels[svc.Owner] = map[string]int{}
		}
		t.Services = append(t.Services, name)
		if ch := a.Bot.ChannelFor(svc); ch != "" {
			channels[svc.Owner][ch]++
		}
	}
	out := make([]digestTeamTarget, 0, len(byOwner))
	for owner, t := range byOwner {
		best := 0
		for ch, n := range channels[owner] {
			if n > best || n == best && ch < t.Channel {
				t.Channel, best = ch, n
			}
		}
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Owner < out[j].Owner })
	return out
}

// wireDigests builds the weekly digest scheduler when a digest is enabled, registers the
// slack.digest sender (without a bot token, digests are kept in the outbox as disabled) and
// mounts GET /api/v1/digests.
func (a *App) wireDigests() error {
	a.Bot.RegisterDigestSender(a.Outbox)
	a.Server.API().GET("/digests", a.listDigests, a.Server.Require("read"))
	cfg := a.Config
	team, err := scheduleOf(cfg.Digests.Team)
	if err != nil {
		return fmt.Errorf("digests.team: %w", err)
	}
	org, err := scheduleOf(cfg.Digests.Org.Schedule())
	if err != nil {
		return fmt.Errorf("digests.org: %w", err)
	}
	if team == nil && org == nil {
		return nil
	}
	a.digests = &digestScheduler{db: a.DB, log: a.Log.With("component", "digests"), now: a.Now, catchUp: cfg.DigestCatchUp(),
		team: team, org: org, orgChannel: cfg.OrgDigestChannel(), teams: a.digestTeams, services: a.Catalog.Names,
		publicURL: cfg.PublicURL, wake: a.Outbox.Wake, exemptions: []DigestExemptions{configWaivers(cfg.Scoring.Waivers), storedExemptions{a.DB}},
		initiatives: initiativeDigests{a}}
	return nil
}

// startDigests runs the scheduler under its lease: on one replica at a time.
func (a *App) startDigests(ctx context.Context) {
	if a.digests != nil {
		a.runLeased(ctx, storage.LeaseDigests, a.digests.Run)
	}
}
