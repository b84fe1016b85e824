package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// HandleExemptionClick implements bot.ExemptionHandler. Only exemptions.approvers decide,
// never the requester (under any name gate.users gives them), and the first decision wins:
// the conditional update decides between a double click or clicks on two replicas. Every
// click is audited, accepted or refused with why. Errors are storage failures.
func (x *Exemptions) HandleExemptionClick(ctx context.Context, id, slackUserID string, approve bool) (bot.ClickResult, error) {
	x.init()
	want := storage.ExemptionDenied
	if approve {
		want = storage.ExemptionApproved
	}
	var text string
	var granted *storage.ExemptionRow
	err := x.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		text, granted = "", nil // the writer may run this function again
		now := x.Now().UTC()
		audit := func(service string, detail map[string]any) error {
			detail["exemption"], detail["action"] = id, want
			return gate.AppendAudit(t, now, gate.AuditExemptionClick, service, slackUserID, detail)
		}
		refuse := func(service, why string) error {
			text = why
			return audit(service, map[string]any{"accepted": false, "refused": why})
		}
		r, err := storage.GetExemptionTx(t, id)
		if errors.Is(err, storage.ErrNotFound) {
			return refuse("", "There is no exemption request "+id+".")
		}
		if err != nil {
			return err
		}
		if r.State != storage.ExemptionPending {
			return refuse(r.Service, decidedText(r))
		}
		if !x.isApprover(slackUserID) {
			return refuse(r.Service, fmt.Sprintf("Only the exemption approvers may decide this request (%s); your click changed nothing.",
				strings.Join(x.Config.Exemptions.Approvers, ", ")))
		}
		if x.samePerson(r.RequestedBy, slackUserID) {
			return refuse(r.Service, fmt.Sprintf("You requested this exemption of %s for %s, so another approver must decide it.", r.Signal, r.Service))
		}
		expires := now.Truncate(time.Millisecond).Add(time.Duration(r.Days) * 24 * time.Hour)
		won, err := storage.DecideExemption(t, id, want, slackUserID, now, expires)
		if err != nil {
			return err
		}
		if !won { // cannot happen under the single writer, but the UPDATE is the guarantee
			return refuse(r.Service, "Someone else decided this request first.")
		}
		r.State, r.DecidedBy, r.DecidedAt = want, slackUserID, now.Truncate(time.Millisecond)
		detail := map[string]any{"accepted": true, "signal": r.Signal, "requested_by": r.RequestedBy}
		if approve {
			r.ExpiresAt = expires
			detail["expires_at"] = expires.Format(time.RFC3339)
		}
		if err := audit(r.Service, detail); err != nil {
			return err
		}
		if err := x.announceDecision(t, r, now); err != nil {
			return err
		}
		if approve {
			text = fmt.Sprintf("Approved: %s of %s is waived until %s.", r.Signal, r.Service, expires.Format("2006-01-02 15:04 UTC"))
			granted = &r
		} else {
			text = fmt.Sprintf("Denied: the exemption of %s for %s.", r.Signal, r.Service)
		}
		return nil
	})
	if err != nil {
		return bot.ClickResult{}, fmt.Errorf("click on exemption %s: %w", id, err)
	}
	x.Outbox.Wake()
	if granted != nil {
		x.rescoreLater(granted.Service)
	}
	return bot.ClickResult{Ephemeral: text}, nil
}

// announceDecision replaces the request in the approvers' channel and, once approved, tells
// the service's own channel that one of its signals is waived, and until when.
func (x *Exemptions) announceDecision(t *storage.Tx, r storage.ExemptionRow, now time.Time) error {
	msg := bot.ExemptionDecidedMessage(x.view(r, ""))
	if r.Channel != "" {
		if _, err := bot.EnqueueUpdate(t, "exemption:"+r.ID+":"+r.State, r.Service, r.Channel, requestPostKey(r.ID), msg, now); err != nil {
			return fmt.Errorf("queue exemption update: %w", err)
		}
	}
	if r.State != storage.ExemptionApproved {
		return nil
	}
	if ch := x.ownerChannel(r.Service); ch != "" && ch != r.Channel {
		if _, err := bot.EnqueuePost(t, "exemption:"+r.ID+":granted", r.Service, ch, msg, nil, now); err != nil {
			return fmt.Errorf("queue exemption notice: %w", err)
		}
	}
	return nil
}

// ownerChannel is where posts about a service go: its slack_channel, else
// slack.default_channel.
func (x *Exemptions) ownerChannel(service string) string {
	if svc, ok := x.Catalog.Get(service); ok && svc.SlackChannel != "" {
		return svc.SlackChannel
	}
	return x.Config.Slack.DefaultChannel
}

// rescoreLater rescores a service whose waivers changed, after the click is answered: the
// click has Slack's 3 s, a rescore reads the service's history.
func (x *Exemptions) rescoreLater(service string) {
	if x.Rescore == nil {
		return
	}
	x.inflight.Add(1)
	go func() {
		defer x.inflight.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := x.Rescore(ctx, []string{service}); err != nil {
			x.Log.Error("rescore after an exemption decision", "service", service, "err", err)
		}
	}()
}

// Settle waits for the rescores that decisions started (tests, shutdown).
func (x *Exemptions) Settle() { x.inflight.Wait() }

func decidedText(r storage.ExemptionRow) string {
	at := r.DecidedAt.UTC().Format("2006-01-02 15:04 UTC")
	return fmt.Sprintf("This exemption request was already %s by %s at %s; your click changed nothing.", r.State, r.DecidedBy, at)
}
