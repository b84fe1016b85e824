package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// leaseExemptions is the lease of the reminder and expiry loop: one replica reminds.
const leaseExemptions = "exemption-reminders"

// exemptionPoll caps the loop's sleep: a request approved on another replica is seen within
// it (its reminder is days away anyway).
const exemptionPoll = time.Minute

// Run reminds and expires exemptions at their time until ctx ends, and at start catches up
// on those that came due while no replica ran it.
func (x *Exemptions) Run(ctx context.Context) {
	x.init()
	for {
		if err := x.Tick(ctx); err != nil && ctx.Err() == nil {
			x.Log.Error("exemption reminders", "err", err)
		}
		wait := exemptionPoll
		if next, ok, err := x.DB.NextExemptionEvent(ctx, x.RemindBefore); err == nil && ok {
			wait = min(wait, max(next.Sub(x.Now()), time.Second))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-x.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Tick does what is due at now: the reminder to the owner's channel of each waiver ending
// within RemindBefore (once: the reminded mark and the outbox key), and for each waiver that
// ended, an audit entry and a rescore so the stored card stops showing it.
func (x *Exemptions) Tick(ctx context.Context) error {
	x.init()
	now := x.Now().UTC()
	due, err := x.DB.ExemptionsToRemind(ctx, now, x.RemindBefore)
	if err != nil {
		return err
	}
	for _, r := range due {
		err := x.DB.Writer.Do(ctx, func(t *storage.Tx) error {
			marked, err := storage.MarkExemptionReminded(t, r.ID, now)
			if err != nil || !marked {
				return err
			}
			ch := x.ownerChannel(r.Service)
			if ch == "" {
				x.Log.Warn("exemption reminder not posted: the service has no slack_channel and slack.default_channel is empty", "exemption", r.ID, "service", r.Service)
				return nil
			}
			msg := bot.ExemptionReminderMessage(x.view(r, ""), now, x.Config.PublicURL)
			_, err = bot.EnqueuePost(t, "exemption:"+r.ID+":reminder", r.Service, ch, msg, nil, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("remind exemption %s: %w", r.ID, err)
		}
	}
	configDue, err := x.remindConfigWaivers(ctx, now)
	if err != nil {
		return err
	}
	lapsed, err := x.DB.ExemptionsLapsed(ctx, now)
	if err != nil {
		return err
	}
	if len(due) > 0 || configDue {
		x.Outbox.Wake()
	}
	if err := x.expire(ctx, lapsed, now); err != nil {
		return err
	}
	return x.repairStale(ctx, now)
}

// expire rescores the services of the exemptions that ended and marks and audits each end.
func (x *Exemptions) expire(ctx context.Context, lapsed []storage.ExemptionRow, now time.Time) error {
	if len(lapsed) == 0 {
		return nil
	}
	// The stored card is what the gate reads, so the services are rescored before the expiry
	// is marked: were the mark first, a failed or cancelled rescore (a shutdown) would leave
	// the card waived with nothing left to retry it. A rescore repeated after a failed mark
	// only scores the same input again.
	if x.Rescore != nil {
		services := make([]string, 0, len(lapsed))
		for _, r := range lapsed {
			services = append(services, r.Service)
		}
		if err := x.Rescore(ctx, slices.Compact(slices.Sorted(slices.Values(services)))); err != nil {
			return fmt.Errorf("rescore after exemptions ended: %w", err)
		}
	}
	for _, r := range lapsed {
		err := x.DB.Writer.Do(ctx, func(t *storage.Tx) error {
			if marked, err := storage.MarkExemptionLapsed(t, r.ID, now); err != nil || !marked {
				return err
			}
			return gate.AppendAudit(t, now, gate.AuditExemptionExpired, r.Service, "releaseops", map[string]any{
				"exemption": r.ID, "signal": r.Signal, "expires_at": r.ExpiresAt.Format(time.RFC3339), "approved_by": r.DecidedBy})
		})
		if err != nil {
			return fmt.Errorf("expire exemption %s: %w", r.ID, err)
		}
	}
	return nil
}

// staleWindow is how long after an exemption is decided or ends the loop checks that its
// service's stored card was scored after it: a rescoring round that read the waivers just
// before stores within seconds.
const staleWindow = 10 * time.Minute

// repairStale rescores the services whose stored card predates an exemption decided or ended
// lately. The approval's own rescore does not settle it: a round of the rescoring worker (on
// this replica or the one holding its lease) that read the waivers before the approval may
// store its cards after that rescore, and the service would stay unwaived until its next
// event.
func (x *Exemptions) repairStale(ctx context.Context, now time.Time) error {
	if x.Rescore == nil {
		return nil
	}
	stale, err := x.DB.ServicesWithStaleWaivers(ctx, now.Add(-staleWindow), now)
	if err != nil || len(stale) == 0 {
		return err
	}
	x.Log.Info("rescoring services whose card predates an exemption's change", "services", stale)
	if err := x.Rescore(ctx, stale); err != nil {
		return fmt.Errorf("rescore cards that predate an exemption: %w", err)
	}
	return nil
}

// Wake makes Run look again now.
func (x *Exemptions) Wake() {
	x.init()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// remindConfigWaivers queues the reminder of each scoring.waivers entry ending within
// RemindBefore. A config waiver has no stored row to mark, so its outbox key (the service,
// signal and expiry) is what makes it once; the key is read before anything is written, so
// the days before the end cost one read per waiver and tick. It reports whether it queued any.
func (x *Exemptions) remindConfigWaivers(ctx context.Context, now time.Time) (bool, error) {
	queued := false
	for _, w := range x.configWaivers() {
		if !w.ExpiresAt.After(now) || w.ExpiresAt.After(now.Add(x.RemindBefore)) {
			continue
		}
		key := fmt.Sprintf("exemption:config:%s:%s:%d:reminder", w.Service, w.Signal, w.ExpiresAt.UnixMilli())
		if _, err := x.DB.GetOutbox(ctx, key); err == nil {
			continue
		} else if !errors.Is(err, storage.ErrNotFound) {
			return queued, err
		}
		ch := x.ownerChannel(w.Service)
		if ch == "" {
			continue
		}
		msg := bot.ExemptionReminderMessage(x.view(w, ""), now, x.Config.PublicURL)
		err := x.DB.Writer.Do(ctx, func(t *storage.Tx) error {
			_, err := bot.EnqueuePost(t, key, w.Service, ch, msg, nil, now)
			return err
		})
		if err != nil {
			return queued, fmt.Errorf("remind config waiver of %s %s: %w", w.Service, w.Signal, err)
		}
		queued = true
	}
	return queued, nil
}
