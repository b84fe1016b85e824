package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/nearest"
	"github.com/releaseops/releaseops/storage"
)

// RequestExemption implements bot.ExemptionHandler: it checks the request, then stores it,
// audits it and queues its post to the approvers in one transaction. A refusal stores
// nothing and says what to change.
func (x *Exemptions) RequestExemption(ctx context.Context, r bot.ExemptionRequest) (bot.ExemptionReply, error) {
	x.init()
	if p := x.checkRequest(&r); p != "" {
		return bot.ExemptionReply{Problem: p}, nil
	}
	channel := x.Config.ExemptionChannel()
	signalName, _ := x.Engine.SignalName(r.Signal)
	row := storage.ExemptionRow{ID: newExemptionID(), Service: r.Service, Signal: r.Signal, Days: r.Days, Reason: r.Reason,
		RequestedBy: r.RequestedBy, OriginKey: "slack:" + r.Invocation, Channel: channel}
	current := x.signalNow(ctx, r.Service, r.Signal)
	var problem string
	err := x.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		problem = "" // the writer may run this function again
		now := x.Now().UTC()
		row.CreatedAt = now
		// The same invocation answered again (a retried write) is told the same.
		if prev, err := storage.ExemptionByOriginTx(t, row.OriginKey); err == nil {
			row = prev
			return nil
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if pending, ok, err := storage.PendingExemptionTx(t, r.Service, r.Signal); err != nil {
			return err
		} else if ok {
			problem = fmt.Sprintf("%s already has a pending exemption request for %s (%s, by %s): the approvers decide that one first.",
				r.Service, r.Signal, pending.ID, pending.RequestedBy)
			return nil
		}
		if _, err := storage.InsertExemption(t, row); err != nil {
			return err
		}
		if err := gate.AppendAudit(t, now, gate.AuditExemptionRequest, r.Service, r.RequestedBy, map[string]any{
			"exemption": row.ID, "signal": r.Signal, "days": r.Days, "reason": r.Reason, "channel": channel}); err != nil {
			return err
		}
		_, err := bot.EnqueuePost(t, requestPostKey(row.ID), r.Service, channel, bot.ExemptionRequestMessage(x.view(row, current)), nil, now)
		return err
	})
	if err != nil {
		return bot.ExemptionReply{}, fmt.Errorf("exemption request for %s %s: %w", r.Service, r.Signal, err)
	}
	if problem != "" {
		return bot.ExemptionReply{Problem: problem}, nil
	}
	x.Outbox.Wake()
	return bot.ExemptionReply{ID: row.ID, Service: row.Service, Signal: row.Signal, SignalName: signalName, Days: row.Days,
		Channel: channel, Approvers: x.Config.Exemptions.Approvers}, nil
}

// checkRequest returns why a request cannot be taken, or "". It trims the reason in place.
func (x *Exemptions) checkRequest(r *bot.ExemptionRequest) string {
	if !x.Config.ExemptionsEnabled() {
		return "Exemptions are not set up on this ReleaseOps (exemptions.approvers is empty)."
	}
	if x.Config.ExemptionChannel() == "" {
		return "Exemptions have nowhere to ask the approvers: set exemptions.channel or slack.default_channel."
	}
	if _, ok := x.Catalog.Get(r.Service); !ok {
		p := fmt.Sprintf("No service named %s.", r.Service)
		if near := x.Catalog.Closest(r.Service, 3); len(near) > 0 {
			p += " Did you mean " + strings.Join(near, ", ") + "?"
		}
		return p + " Nothing was requested."
	}
	if _, ok := x.Engine.SignalName(r.Signal); !ok {
		ids := x.Engine.SignalIDs()
		p := fmt.Sprintf("No signal %s.", r.Signal)
		if near := nearest.Among(r.Signal, ids, 3); len(near) > 0 {
			p += " Did you mean " + strings.Join(near, ", ") + "?"
		} else {
			p += " The signals are: " + strings.Join(ids, ", ") + "."
		}
		return p + " The service's page in ReleaseOps lists the id of each of its signals. Nothing was requested."
	}
	maxDays := x.Config.ExemptionMaxDays()
	switch {
	case r.Days <= 0:
		return fmt.Sprintf("An exemption lasts at least 1 day, not %d. Nothing was requested.", r.Days)
	case r.Days > maxDays:
		return fmt.Sprintf("An exemption lasts at most %d days (exemptions.max_days), not %d: ask for %d or fewer, and again when it ends. Nothing was requested.",
			maxDays, r.Days, maxDays)
	}
	r.Reason = strings.Join(strings.FieldsFunc(r.Reason, unicode.IsSpace), " ")
	switch {
	case r.Reason == "":
		return "An exemption needs a reason: the approvers decide on it. Nothing was requested."
	case utf8.RuneCountInString(r.Reason) > maxReason:
		return fmt.Sprintf("The reason is %d characters; keep it within %d and link the details. Nothing was requested.", utf8.RuneCountInString(r.Reason), maxReason)
	}
	return ""
}
