package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/storage"
)

// ClickResult is what an Approve or Deny click did.
type ClickResult struct {
	// Text is shown to the clicker only: the outcome, or why the click was refused.
	Text string
	// Accepted is true when this click decided the approval.
	Accepted bool
	// Changed is true when the approval's message was queued for an update (decided or
	// found expired).
	Changed bool
	// Approval is the approval after the click; nil if there is no such approval.
	Approval *Approval
}

// Click applies an approver's Approve (approve=true) or Deny click. Only the service's
// approvers decide, never the requester; the first decision wins. Every click is audited,
// accepted or refused with why. Errors are storage failures, not refusals.
func (g *Gate) Click(ctx context.Context, approvalID, slackUserID string, approve bool) (ClickResult, error) {
	g.init()
	want := StateDenied
	if approve {
		want = StateApproved
	}
	var res ClickResult
	var decided *Approval
	err := g.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		res, decided = ClickResult{}, nil // the writer may run this function again
		now := g.Now().UTC()
		refuse := func(a *Approval, service, why string) error {
			res.Text = why
			return appendAudit(t, now, audit{Kind: AuditClick, Service: service, Actor: slackUserID, ApprovalID: approvalID,
				Detail: map[string]any{"action": want, "accepted": false, "refused": why}})
		}
		row, err := storage.GetApprovalTx(t, approvalID)
		if errors.Is(err, storage.ErrNotFound) {
			return refuse(nil, "", "There is no approval "+approvalID+".")
		}
		if err != nil {
			return err
		}
		a, err := approvalOf(row)
		if err != nil {
			return err
		}
		res.Approval = a
		if a.State == StatePending && !now.Before(a.ExpiresAt) {
			// The expiry loop has not got to it yet: expire it now, then refuse.
			if err := g.expireTx(t, a, now); err != nil {
				return err
			}
			res.Changed = true
		}
		if a.State != StatePending {
			return refuse(a, a.Service, alreadyText(a))
		}
		svc, ok := g.Catalog.Get(a.Service)
		if !ok || !svc.IsApprover(slackUserID) {
			who := "no approvers are configured"
			if ok && len(svc.Approvers) > 0 {
				who = "the approvers are " + mentions(svc.Approvers)
			}
			return refuse(a, a.Service, fmt.Sprintf("Only the approvers of %s may decide this deploy (%s).", a.Service, who))
		}
		if g.isRequester(a.RequestedBy, slackUserID) {
			return refuse(a, a.Service, fmt.Sprintf("You requested this deploy of %s, so another approver must decide it.", a.Service))
		}
		won, err := storage.DecideApproval(t, a.ID, want, slackUserID, now)
		if err != nil {
			return err
		}
		if !won { // cannot happen under the single writer, but the UPDATE is the guarantee
			return refuse(a, a.Service, "Someone else decided this approval first.")
		}
		at := now.Truncate(time.Millisecond)
		a.State, a.DecidedBy, a.DecidedAt = want, slackUserID, &at
		if err := g.concludeTx(t, a, now, audit{Kind: AuditClick, Service: a.Service, Actor: slackUserID, ApprovalID: a.ID,
			Detail: map[string]any{"action": want, "accepted": true}}); err != nil {
			return err
		}
		res.Text, res.Accepted, res.Changed, decided = fmt.Sprintf("%s: %s to %s.", capitalize(want), a.Service, a.Environment), true, true, a
		return nil
	})
	if err != nil {
		return ClickResult{}, fmt.Errorf("click on approval %s: %w", approvalID, err)
	}
	if res.Changed {
		g.queued()
	}
	if decided != nil {
		g.recordOutcome(ctx, decided)
	}
	return res, nil
}

// concludeTx does what every end of an approval does, in its transaction: audit it, queue the
// Slack update and, if GitHub waits, its answer.
func (g *Gate) concludeTx(t *storage.Tx, a *Approval, now time.Time, entry audit) error {
	entries := []audit{entry}
	if a.Callback != nil {
		state, comment := reviewOf(a.gateDecision(), a.Service, a.Reasons, a.outcomeText())
		if err := enqueueReview(t, a.Callback, a.Service, state, comment, now); err != nil {
			return err
		}
		entries = append(entries, audit{Kind: AuditReviewQueued, Service: a.Service, Actor: "releaseops", ApprovalID: a.ID,
			Detail: map[string]any{"delivery": a.Callback.Delivery, "repo": a.Callback.Repo, "environment": a.Callback.Environment, "state": state}})
	}
	if err := appendAudit(t, now, entries...); err != nil {
		return err
	}
	if err := g.Notifier.ApprovalDecided(t, a, now); err != nil {
		return fmt.Errorf("queue approval update: %w", err)
	}
	return nil
}

// recordOutcome records how an approval ended as an internal event with a gate_decision
// fact, after the decision committed. The audit log already holds it; this is the evidence
// scoring and the events API read, so a failure is logged, not returned.
func (g *Gate) recordOutcome(ctx context.Context, a *Approval) {
	score := 0.0
	if a.Score != nil {
		score = *a.Score
	}
	_, err := g.Pipeline.RecordInternal(ctx, ingest.Internal{
		Type: "gate.approval", DeliveryID: "approval:" + a.ID + ":" + a.State, Service: a.Service, Body: a,
		Facts: []releaseops.Fact{{Kind: releaseops.FactGateDecision, GateDecision: &releaseops.GateDecision{
			Environment: a.Environment, Version: a.Version, CommitSHA: a.CommitSHA, Decision: a.State, Score: score,
			ApprovalID: a.ID, RequestedBy: a.RequestedBy}}},
	})
	if err != nil {
		g.Log.Error("record approval outcome", "approval", a.ID, "state", a.State, "err", err)
	}
}

// isRequester reports whether the Slack user is the one who asked for the deploy: by Slack id
// directly, or through the gate.users mapping (case-insensitive on the requester's name).
func (g *Gate) isRequester(requestedBy, slackUserID string) bool {
	rb := strings.TrimSpace(requestedBy)
	rb = strings.TrimSuffix(strings.TrimPrefix(rb, "<@"), ">")
	rb = strings.TrimPrefix(rb, "@")
	if rb == "" {
		return false
	}
	if rb == slackUserID {
		return true
	}
	for name, id := range g.Users {
		if id == slackUserID && strings.EqualFold(strings.TrimPrefix(name, "@"), rb) {
			return true
		}
	}
	return false
}

func alreadyText(a *Approval) string {
	at := ""
	if a.DecidedAt != nil {
		at = " at " + a.DecidedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	switch a.State {
	case StateExpired:
		return fmt.Sprintf("This approval expired%s with no decision; the deploy was denied. Ask the gate again.", at)
	default:
		return fmt.Sprintf("This approval was already %s by %s%s.", a.State, mention(a.DecidedBy), at)
	}
}

// gateDecision is the gate's final answer for the approval: allow only when approved.
func (a *Approval) gateDecision() string {
	if a.State == StateApproved {
		return Allow
	}
	return Block
}

func (a *Approval) outcomeText() string {
	switch a.State {
	case StateApproved, StateDenied:
		return fmt.Sprintf("%s in Slack by %s", a.State, a.DecidedBy)
	case StateExpired:
		return "no approver decided within the approval timeout, so the deploy is denied"
	}
	return a.State
}

// mention names a Slack user in click answers. Those are plain text (the bot escapes them),
// so the id is shown as is rather than as a <@mention>.
func mention(id string) string {
	if id == "" {
		return "someone"
	}
	return id
}

func mentions(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = mention(id)
	}
	return strings.Join(out, ", ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
