package gate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// Wake tells the expiry loop that a new approval exists (its expiry may be the next one),
// through Notify when set.
func (g *Gate) Wake() {
	if g.Notify != nil {
		g.Notify()
		return
	}
	g.WakeLocal()
}

// WakeLocal wakes this process's expiry loop.
func (g *Gate) WakeLocal() {
	g.init()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Run expires approvals when their time comes, until ctx ends. It scans at start, so
// approvals that expired while the process was down are expired at once.
func (g *Gate) Run(ctx context.Context) {
	g.init()
	for ctx.Err() == nil {
		if _, err := g.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			g.Log.Error("expire approvals", "err", err)
		}
		wait := time.Minute
		if next, ok, err := g.DB.NextApprovalExpiry(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(g.Now()), 10*time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		case <-g.wake:
		}
		t.Stop()
	}
}

// ExpireDue expires every pending approval whose time has come and returns how many it
// expired. Each is its own conditional transition: a click that won first is left alone.
func (g *Gate) ExpireDue(ctx context.Context) (int, error) {
	g.init()
	n := 0
	for {
		due, err := g.DB.ExpiredApprovals(ctx, g.Now(), 100)
		if err != nil {
			return n, err
		}
		if len(due) == 0 {
			return n, nil
		}
		for _, r := range due {
			ok, err := g.expire(ctx, r.ID)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if len(due) < 100 {
			return n, nil
		}
	}
}

// expire expires one approval if it is still pending and due.
func (g *Gate) expire(ctx context.Context, id string) (bool, error) {
	var expired *Approval
	err := g.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		expired = nil
		row, err := storage.GetApprovalTx(t, id)
		if err != nil {
			return err
		}
		a, err := approvalOf(row)
		if err != nil {
			return err
		}
		now := g.Now().UTC()
		if a.State != StatePending || now.Before(a.ExpiresAt) {
			return nil
		}
		// The expired message still says who had approved short of the quorum.
		votes, err := storage.VotesTx(t, a.ID)
		if err != nil {
			return err
		}
		a.setVotes(votes)
		if err := g.expireTx(t, a, now); err != nil {
			return err
		}
		expired = a
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("expire approval %s: %w", id, err)
	}
	if expired == nil {
		return false, nil
	}
	g.queued()
	g.recordOutcome(ctx, expired)
	return true, nil
}

// expireTx moves a due pending approval to expired inside t and updates a to match.
func (g *Gate) expireTx(t *storage.Tx, a *Approval, now time.Time) error {
	won, err := storage.DecideApproval(t, a.ID, StateExpired, "", now)
	if err != nil || !won {
		return err
	}
	at := now.Truncate(time.Millisecond)
	a.State, a.DecidedAt = StateExpired, &at
	return g.concludeTx(t, a, now, audit{Kind: AuditExpired, Service: a.Service, Actor: "releaseops", ApprovalID: a.ID,
		Detail: map[string]any{"expires_at": a.ExpiresAt, "timeout": g.ApprovalTimeout.String()}})
}

// Approval returns an approval by id. A pending approval past its expiry is expired first,
// so no reader ever sees a pending approval that can no longer be decided.
func (g *Gate) Approval(ctx context.Context, id string) (*Approval, error) {
	g.init()
	row, err := g.DB.GetApproval(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, releaseops.Errorf(releaseops.ENOTFOUND, "no approval %q", id)
	}
	if err != nil {
		return nil, err
	}
	if row.State == StatePending && !g.Now().Before(row.ExpiresAt) {
		if _, err := g.expire(ctx, id); err != nil {
			return nil, err
		}
		if row, err = g.DB.GetApproval(ctx, id); err != nil {
			return nil, err
		}
	}
	a, err := approvalOf(row)
	if err != nil {
		return nil, err
	}
	if err := g.loadVotes(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}
