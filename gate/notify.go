package gate

import (
	"context"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// Notifier queues the gate's Slack messages inside the gate's own transaction, so a message
// exists exactly when the state change that caused it committed. The app adapts the Slack
// bot's builders to it; the gate itself knows nothing of Slack.
type Notifier interface {
	// ApprovalRequested queues the request with Approve and Deny buttons (values: a.ID).
	ApprovalRequested(t *storage.Tx, a *Approval, now time.Time) error
	// ApprovalDecided queues the in-place update showing who decided and when (or expiry).
	ApprovalDecided(t *storage.Tx, a *Approval, now time.Time) error
	// BreakGlassUsed queues the post asking the channel to review a break-glass deploy.
	BreakGlassUsed(t *storage.Tx, b *BreakGlassNotice, now time.Time) error
}

// ApprovalPreparer is a Notifier that reads what an approval request shows before the
// decision's transaction begins, and keeps it in a.Prepared for ApprovalRequested: a read
// inside the transaction waits while it holds the writer lock (on PostgreSQL the exclusive
// one, for which every replica's audited writes wait).
type ApprovalPreparer interface {
	PrepareApproval(ctx context.Context, a *Approval, now time.Time)
}

// BreakGlassNotice is a deploy allowed below threshold, for the channel to review.
type BreakGlassNotice struct {
	ID          string // the gate request id
	Service     string
	Environment string
	Version     string
	CommitSHA   string
	RequestedBy string
	Caller      string // the API token's name
	Reason      string
	Channel     string
	Decision    Decision
	At          time.Time
}

// nopNotifier queues nothing; used when the app wires no Slack side.
type nopNotifier struct{}

func (nopNotifier) ApprovalRequested(*storage.Tx, *Approval, time.Time) error      { return nil }
func (nopNotifier) ApprovalDecided(*storage.Tx, *Approval, time.Time) error        { return nil }
func (nopNotifier) BreakGlassUsed(*storage.Tx, *BreakGlassNotice, time.Time) error { return nil }
