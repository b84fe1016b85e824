package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/storage"
)

const (
	// leaseNudges is the lease the nudge scheduler runs under: one replica queues reminders.
	leaseNudges = "initiative-nudges"
	// nudgeGrace is how late a reminder is still sent after its slot (a restart, a lease
	// moving): later than this it is skipped, the next one will come.
	nudgeGrace = 12 * time.Hour
	// nudgeEvery is how often the scheduler looks for a due reminder.
	nudgeEvery = time.Minute
)

// runNudges queues due reminders every minute until ctx ends.
func (a *App) runNudges(ctx context.Context) {
	log := a.Log.With("component", "initiatives")
	for {
		if n, err := a.NudgeRound(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Error("queue initiative nudges", "err", err)
		} else if n > 0 {
			log.Info("initiative nudges queued", "messages", n)
		}
		t := time.NewTimer(nudgeEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// NudgeRound queues, for each initiative with a reminder due at a.Now() (initiative.DueSlot),
// one nudge per owning team with work left and per channel its remaining services post to
// (the service's slack_channel, else slack.default_channel), listing only that team's
// remaining services. A team that is done gets none. The outbox key names the initiative,
// the slot, the team and the channel, so a reminder is queued once however many rounds,
// restarts and replicas reach it. It returns how many messages were newly queued.
func (a *App) NudgeRound(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	now := a.Now().UTC()
	ins, err := a.allInitiatives(ctx)
	if err != nil {
		return 0, err
	}
	type due struct {
		in   *initiative.Initiative
		slot initiative.Slot
	}
	var dues []due
	var ready []*initiative.Initiative
	for _, in := range ins {
		if slot, ok := in.DueSlot(now, nudgeGrace); ok {
			dues = append(dues, due{in, slot})
			ready = append(ready, in)
		}
	}
	if len(dues) == 0 {
		return 0, nil
	}
	reps, _, err := a.progress(ctx, ready)
	if err != nil {
		return 0, err
	}
	queued := 0
	for i, d := range dues {
		rep := reps[i]
		type msg struct {
			key, channel string
			n            bot.Nudge
		}
		var msgs []msg
		for _, tp := range rep.Teams {
			if len(tp.Remaining) == 0 {
				continue
			}
			byChannel := map[string][]initiative.Status{}
			for _, st := range tp.Remaining {
				ch := a.Bot.ChannelFor(a.serviceOrBare(st.Service))
				if ch == "" {
					a.Log.Warn("initiative nudge not sent: the service has no slack_channel and there is no slack.default_channel",
						"initiative", d.in.ID, "service", st.Service, "owner", tp.Owner)
					continue
				}
				byChannel[ch] = append(byChannel[ch], st)
			}
			channels := make([]string, 0, len(byChannel))
			for ch := range byChannel {
				channels = append(channels, ch)
			}
			slices.Sort(channels)
			for _, ch := range channels {
				msgs = append(msgs, msg{key: fmt.Sprintf("nudge:%s:%s:%s:%s", d.in.ID, d.slot.Key(), tp.Owner, ch), channel: ch,
					n: bot.Nudge{Initiative: rep.ID, Name: rep.Name, Target: rep.Target, Deadline: rep.Deadline, DaysLeft: rep.DaysLeft,
						Overdue: rep.Overdue, Owner: tp.Owner, DaysBefore: d.slot.DaysBefore, Done: tp.Done, Total: tp.Total, Remaining: byChannel[ch]}})
			}
		}
		if len(msgs) == 0 {
			continue
		}
		inserted := 0
		err := a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
			inserted = 0 // the writer may run fn again after a rollback
			for _, m := range msgs {
				ok, err := bot.EnqueueNudge(t, m.key, m.channel, m.n, a.Config.PublicURL, now)
				if err != nil {
					return err
				}
				if ok {
					inserted++
				}
			}
			return nil
		})
		if err != nil {
			return queued, fmt.Errorf("queue nudges of initiative %s: %w", d.in.ID, err)
		}
		queued += inserted
	}
	if queued > 0 {
		a.Outbox.Wake()
	}
	return queued, nil
}

// serviceOrBare is the catalog entry, or a bare one for a service known only from events.
func (a *App) serviceOrBare(name string) releaseops.Service {
	if s, ok := a.Catalog.Get(name); ok {
		return s
	}
	return releaseops.Service{Name: name}
}
