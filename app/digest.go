package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/digest"
	"github.com/releaseops/releaseops/storage"
)

// Digest scopes, as stored in digest_runs and in outbox keys.
const (
	digestTeam = "team"
	digestOrg  = "org"
)

// digestPoll is how often the scheduler looks for a due digest. A digest goes out within
// this of its slot; the check is two small queries.
const digestPoll = time.Minute

// DigestInitiatives is what the digests need from initiatives, read once per slot.
type DigestInitiatives interface {
	// Deadlines returns, by owner, the running initiatives whose deadline lies in [from, to)
	// and that cover some of the owner's services, each with the services still short of
	// its target.
	Deadlines(ctx context.Context, from, to time.Time) (map[string][]digest.Deadline, error)
	// Progress returns every running initiative's progress at at (and a week before, where
	// known).
	Progress(ctx context.Context, at time.Time) ([]digest.Progress, error)
}

// DigestExemptions is a source of exemptions (waivers) and their expiry, read once per slot.
type DigestExemptions interface {
	// Expiring returns the exemptions in force that lapse in [from, to).
	Expiring(ctx context.Context, from, to time.Time) ([]digest.Exemption, error)
}

// digestScheduler queues the weekly digests. It runs under the digests lease, so on one
// replica; the once-per-week guarantee does not rest on that, though: a digest's week is
// claimed in digest_runs in the transaction that queues its message, so a restart, a lease
// handover or a second scheduler finds the week taken and queues nothing.
type digestScheduler struct {
	db      *storage.DB
	log     *slog.Logger
	now     func() time.Time
	catchUp time.Duration
	// team and org are nil when that digest is off.
	team, org  *digest.Schedule
	orgChannel string
	// teams lists the teams, their services and the channel of each team's digest.
	teams func() []digestTeamTarget
	// services lists every service, for the organisation digest.
	services    func() []string
	publicURL   string
	initiatives DigestInitiatives  // nil: initiatives are not part of this build
	exemptions  []DigestExemptions // none: no section for exemptions
	wake        func()
}

// digestTeamTarget is one team: its owner name, services and channel ("" when none).
type digestTeamTarget struct {
	Owner    string
	Services []string
	Channel  string
}

// scheduleOf compiles a validated config schedule.
func scheduleOf(s config.DigestSchedule) (*digest.Schedule, error) {
	if !s.Enabled {
		return nil, nil
	}
	day, ok := s.Weekday()
	if !ok {
		return nil, fmt.Errorf("digest day %q is not a weekday", s.Day)
	}
	loc, err := s.Location()
	if err != nil {
		return nil, err
	}
	return &digest.Schedule{Day: day, Hour: s.HourOfDay(), Loc: loc}, nil
}

// Run checks for due digests every digestPoll until ctx ends.
func (s *digestScheduler) Run(ctx context.Context) {
	t := time.NewTicker(digestPoll)
	defer t.Stop()
	for {
		if err := s.RunOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("weekly digests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce queues every digest whose latest slot has passed and whose week is not yet taken.
func (s *digestScheduler) RunOnce(ctx context.Context) error {
	now := s.now()
	weeks := map[time.Time]*digestWeek{}
	week := func(slot digest.Slot) (*digestWeek, error) {
		if w := weeks[slot.At]; w != nil {
			return w, nil
		}
		w, err := s.loadWeek(ctx, slot)
		if err == nil {
			weeks[slot.At] = w
		}
		return w, err
	}
	queued := 0
	if s.team != nil {
		n, err := s.teamDigests(ctx, s.team.Latest(now), now, week)
		queued += n
		if err != nil {
			return err
		}
	}
	if s.org != nil {
		n, err := s.orgDigest(ctx, s.org.Latest(now), now, week)
		queued += n
		if err != nil {
			return err
		}
	}
	if queued > 0 && s.wake != nil {
		s.wake()
	}
	return nil
}

func (s *digestScheduler) teamDigests(ctx context.Context, slot digest.Slot, now time.Time, week func(digest.Slot) (*digestWeek, error)) (int, error) {
	done, err := s.db.DigestRuns(ctx, digestTeam, slot.Period)
	if err != nil {
		return 0, err
	}
	post, late := digest.Due(slot, now, s.catchUp)
	queued := 0
	for _, team := range s.teams() {
		if _, ok := done[team.Owner]; ok {
			continue
		}
		run := storage.DigestRun{Scope: digestTeam, Team: team.Owner, Period: slot.Period, Channel: team.Channel, SlotAt: slot.At, CreatedAt: now}
		if !post || team.Channel == "" {
			if err := s.skip(ctx, run, late, team.Channel == ""); err != nil {
				return queued, err
			}
			continue
		}
		w, err := week(slot)
		if err != nil {
			return queued, err
		}
		d, ok := digest.ComposeTeam(s.teamInput(team, slot, w))
		if !ok {
			continue // no services: nothing to tell, and nothing recorded, so a team that gains one this week still gets its digest
		}
		run.Outcome, run.OutboxKey = storage.DigestQueued, fmt.Sprintf("digest:team:%s:%s", team.Owner, slot.Period)
		mark := bot.DigestMark{Scope: digestTeam, Team: team.Owner, Period: slot.Period}
		ok, err = s.queue(ctx, run, mark, bot.TeamDigestMessage(d, s.publicURL), late)
		if err != nil {
			return queued, err
		}
		if ok {
			queued++
		}
	}
	return queued, nil
}

func (s *digestScheduler) orgDigest(ctx context.Context, slot digest.Slot, now time.Time, week func(digest.Slot) (*digestWeek, error)) (int, error) {
	done, err := s.db.DigestRuns(ctx, digestOrg, slot.Period)
	if err != nil || len(done) > 0 {
		return 0, err
	}
	run := storage.DigestRun{Scope: digestOrg, Period: slot.Period, Channel: s.orgChannel, SlotAt: slot.At, CreatedAt: now}
	post, late := digest.Due(slot, now, s.catchUp)
	if !post || s.orgChannel == "" {
		return 0, s.skip(ctx, run, late, s.orgChannel == "")
	}
	w, err := week(slot)
	if err != nil {
		return 0, err
	}
	in := digest.OrgInput{Channel: s.orgChannel, Slot: slot}
	for _, name := range s.services() {
		in.Services = append(in.Services, w.services[name])
	}
	if s.initiatives != nil {
		if in.Initiatives, err = s.initiatives.Progress(ctx, slot.At); err != nil {
			return 0, fmt.Errorf("initiatives' progress for the %s digest: %w", slot.Period, err)
		}
		if in.Initiatives == nil {
			in.Initiatives = []digest.Progress{} // the feature is there; nothing is running
		}
	}
	d, ok := digest.ComposeOrg(in)
	if !ok {
		return 0, nil
	}
	run.Outcome, run.OutboxKey = storage.DigestQueued, "digest:org:"+slot.Period
	ok, err = s.queue(ctx, run, bot.DigestMark{Scope: digestOrg, Period: slot.Period}, bot.OrgDigestMessage(d, s.publicURL), late)
	if ok {
		return 1, err
	}
	return 0, err
}

// queue claims the week and queues the post in one transaction; queued is false when the
// week was already taken.
func (s *digestScheduler) queue(ctx context.Context, run storage.DigestRun, mark bot.DigestMark, msg bot.Message, late time.Duration) (bool, error) {
	// The write may still run after Do returned on ctx (it is queued): it sets only its own
	// variable, read once Do has succeeded.
	var done bool
	err := s.db.Writer.Do(ctx, func(t *storage.Tx) error {
		done = false
		claimed, err := storage.ClaimDigest(t, run)
		if err != nil || !claimed {
			return err
		}
		if _, err := bot.EnqueueDigest(t, run.OutboxKey, run.Channel, mark, msg, run.CreatedAt); err != nil {
			return err
		}
		done = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("queue the %s digest %s of %q: %w", run.Scope, run.Period, run.Team, err)
	}
	queued := done
	if queued {
		args := []any{"scope", run.Scope, "team", run.Team, "period", run.Period, "channel", run.Channel}
		if late > digestPoll {
			s.log.Info("weekly digest queued late: its slot passed while no scheduler ran", append(args, "late", late.Round(time.Second))...)
		} else {
			s.log.Info("weekly digest queued", args...)
		}
	}
	return queued, nil
}

// skip records a week that will not get its digest, so the reason is logged once.
func (s *digestScheduler) skip(ctx context.Context, run storage.DigestRun, late time.Duration, noChannel bool) error {
	run.Outcome = storage.DigestSkipped
	var done bool
	err := s.db.Writer.Do(ctx, func(t *storage.Tx) error {
		var err error
		done, err = storage.ClaimDigest(t, run)
		return err
	})
	if err != nil {
		return fmt.Errorf("record the skipped %s digest %s of %q: %w", run.Scope, run.Period, run.Team, err)
	}
	claimed := done
	if !claimed {
		return nil
	}
	if noChannel {
		s.log.Warn("weekly digest skipped: no channel (set slack_channel on the team's services, or slack.default_channel)",
			"scope", run.Scope, "team", run.Team, "period", run.Period)
		return nil
	}
	s.log.Warn("weekly digest skipped: its slot passed longer ago than digests.catch_up, while no scheduler ran; the next one goes out at its slot",
		"scope", run.Scope, "team", run.Team, "period", run.Period, "slot", run.SlotAt, "late", late.Round(time.Second), "catch_up", s.catchUp)
	return nil
}
