package gate

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Counted is true when this click's approval counted toward the quorum without
	// reaching it: the approval stays pending.
	Counted bool
	// Changed is true when the approval's message was queued for an update (decided, a
	// vote counted, or found expired).
	Changed bool
	// Approval is the approval after the click; nil if there is no such approval.
	Approval *Approval
}

// VoteNotifier is a Notifier that can also show an approval's progress toward its quorum.
// It is optional so that a Notifier written before quorums still works: the message then
// changes only when the approval is decided.
type VoteNotifier interface {
	// ApprovalVoted queues the in-place update of the still pending request showing how many
	// of its quorum have approved, and who (a.Votes).
	ApprovalVoted(t *storage.Tx, a *Approval, now time.Time) error
}

// Click applies an approver's Approve (approve=true) or Deny click. Only the service's
// approvers decide, never the requester. An Approve is a vote: the approval is approved
// when distinct votes reach its quorum (one, unless the gate asked for more); one Deny
// denies. The first decision wins. Every click is audited, counted or refused with why, with
// the votes so far. Errors are storage failures, not refusals.
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
		var a *Approval
		entry := func(service string, detail map[string]any) audit {
			detail["action"] = want
			if a != nil {
				detail["votes"], detail["quorum"] = len(a.Votes), a.Quorum
			}
			return audit{Kind: AuditClick, Service: service, Actor: slackUserID, ApprovalID: approvalID, Detail: detail}
		}
		refuse := func(service, why string) error {
			res.Text = why
			return appendAudit(t, now, entry(service, map[string]any{"accepted": false, "refused": why}))
		}
		row, err := storage.GetApprovalTx(t, approvalID)
		if errors.Is(err, storage.ErrNotFound) {
			return refuse("", "There is no approval "+approvalID+".")
		}
		if err != nil {
			return err
		}
		if a, err = approvalOf(row); err != nil {
			return err
		}
		votes, err := storage.VotesTx(t, a.ID)
		if err != nil {
			return err
		}
		a.setVotes(votes)
		res.Approval = a
		if a.State == StatePending && !now.Before(a.ExpiresAt) {
			// The expiry loop has not got to it yet: expire it now, then refuse.
			if err := g.expireTx(t, a, now); err != nil {
				return err
			}
			res.Changed = true
			if a.State == StateExpired {
				decided = a // its outcome is recorded like the expiry loop's
			}
		}
		if a.State != StatePending {
			return refuse(a.Service, alreadyText(a))
		}
		svc, ok := g.Catalog.Get(a.Service)
		if !ok || !svc.IsApprover(slackUserID) {
			who := "no approvers are configured"
			if ok && len(svc.Approvers) > 0 {
				who = "the approvers are " + mentions(svc.Approvers)
			}
			return refuse(a.Service, fmt.Sprintf("Only the approvers of %s may decide this deploy (%s).", a.Service, who))
		}
		if g.isRequester(a.RequestedBy, slackUserID) {
			return refuse(a.Service, fmt.Sprintf("You requested this deploy of %s, so another approver must decide it.", a.Service))
		}
		// Votes count only from whoever may vote now: an approver removed from the catalog
		// since, or someone gate.users now maps to the requester, no longer counts.
		a.Votes = slices.DeleteFunc(a.Votes, func(v Vote) bool { return !svc.IsApprover(v.Approver) || g.isRequester(a.RequestedBy, v.Approver) })
		var won bool
		if approve {
			added, err := storage.AddVote(t, a.ID, slackUserID, now)
			if err != nil {
				return err
			}
			if !added {
				return refuse(a.Service, fmt.Sprintf("You already approved this deploy of %s; an approver counts once (%s so far).", a.Service, quorumCount(a)))
			}
			a.Votes = append(a.Votes, Vote{Approver: slackUserID, At: now.Truncate(time.Millisecond)})
			if len(a.Votes) < a.Quorum {
				return g.voteTx(t, a, now, entry(a.Service, map[string]any{"accepted": false, "counted": true}), &res)
			}
			// The database counts the same votes again in the conditional update.
			won, err = storage.ApproveOnQuorum(t, a.ID, slackUserID, voters(a.Votes), now)
			if err != nil {
				return err
			}
		} else if won, err = storage.DecideApproval(t, a.ID, want, slackUserID, now); err != nil {
			return err
		}
		if !won { // cannot happen under the single writer, but the UPDATE is the guarantee
			return refuse(a.Service, "Someone else decided this approval first.")
		}
		at := now.Truncate(time.Millisecond)
		a.State, a.DecidedBy, a.DecidedAt = want, slackUserID, &at
		if err := g.concludeTx(t, a, now, entry(a.Service, map[string]any{"accepted": true, "counted": approve})); err != nil {
			return err
		}
		res.Text = fmt.Sprintf("%s: %s to %s.", capitalize(want), a.Service, a.Environment)
		if approve && a.Quorum > 1 {
			res.Text = fmt.Sprintf("Approved: %s to %s (%s: %s).", a.Service, a.Environment, quorumCount(a), mentions(a.Voters()))
		}
		res.Accepted, res.Changed, decided = true, true, a
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

// voteTx records, in t, a vote that counted but did not reach the quorum: the audit entry,
// and the update of the Slack request so the channel sees how far it has got.
func (g *Gate) voteTx(t *storage.Tx, a *Approval, now time.Time, entry audit, res *ClickResult) error {
	if err := appendAudit(t, now, entry); err != nil {
		return err
	}
	if vn, ok := g.Notifier.(VoteNotifier); ok {
		if err := vn.ApprovalVoted(t, a, now); err != nil {
			return fmt.Errorf("queue approval progress: %w", err)
		}
		res.Changed = true
	}
	left := a.Quorum - len(a.Votes)
	more := "one more approver must approve"
	if left > 1 {
		more = fmt.Sprintf("%d more approvers must approve", left)
	}
	res.Text = fmt.Sprintf("Your approval counts: %s for %s to %s; %s.", quorumCount(a), a.Service, a.Environment, more)
	res.Counted = true
	return nil
}

// quorumCount is "1 of 2 approvals", as the Slack message says it.
func quorumCount(a *Approval) string {
	return fmt.Sprintf("%d of %d approvals", len(a.Votes), a.Quorum)
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
		if a.State == StateApproved && a.Quorum > 1 && len(a.Votes) > 0 {
			return fmt.Sprintf("approved in Slack by %s (%s)", strings.Join(a.Voters(), ", "), quorumCount(a))
		}
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

func voters(vs []Vote) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Approver
	}
	return out
}
