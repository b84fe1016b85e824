package app

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// wireGate builds the deploy gate: POST /api/v1/gate, approvals, the audit log, the answer to
// GitHub deployment protection rules (a rescore listener and the github.protection_review
// sender) and the Approve/Deny click handler of the Slack bot.
func (a *App) wireGate() {
	cfg := a.Config
	log := a.Log.With("component", "gate")
	a.Gate = &gate.Gate{
		DB: a.DB, Catalog: a.Catalog, Pipeline: a.Pipeline,
		Policy: gate.Policy{Thresholds: cfg.Gate.Thresholds, OnUnknown: cfg.Gate.OnUnknown, StaleAfter: cfg.Gate.StaleAfter.Std(),
			Mode: gate.ModePolicy{Default: cfg.Gate.Mode, ByEnvironment: cfg.Gate.ModeByEnvironment}},
		ApprovalTimeout: cfg.Gate.ApprovalTimeout.Std(), Users: cfg.Gate.Users, DefaultChannel: cfg.Slack.DefaultChannel,
		PublicURL: cfg.PublicURL, Notifier: slackNotifier{db: a.DB, publicURL: cfg.PublicURL, catalog: a.Catalog, log: log}, Now: a.Now, Log: log, Queued: a.Outbox.Wake,
	}
	a.Gate.Timing = a.timingPolicy(log)
	logGateMode(cfg, log)
	a.Gate.Routes(a.Server.API(), a.Server.Require)
	a.Worker.Listeners = append(a.Worker.Listeners, a.Gate.Listener)
	// A GitHub App answers each rule with the token of the installation that sent it; a
	// token answers them all.
	if clients, err := a.githubClients(); err != nil {
		log.Error("GitHub protection rule answers cannot be sent", "err", err)
	} else if clients != nil {
		a.Outbox.Register(gate.KindProtectionReview, gate.NewReviewSenderFrom(clients))
	}
	if a.Bot != nil {
		a.Bot.SetApprovalHandler(clickHandler{a.Gate})
	}
}

// startGate runs the expiry loop: it expires approvals at their time, and at start those that
// expired while the process was down.
func (a *App) startGate(ctx context.Context) {
	a.runLeased(ctx, storage.LeaseExpiry, a.Gate.Run)
}

// clickHandler adapts the gate's state machine to the bot's ApprovalHandler. The gate queues
// the in-place update of the message itself, in the decision's transaction, so the click's
// answer carries only the clicker's ephemeral text.
type clickHandler struct{ g *gate.Gate }

func (h clickHandler) HandleApprovalClick(ctx context.Context, approvalID, slackUserID string, approve bool) (bot.ClickResult, error) {
	r, err := h.g.Click(ctx, approvalID, slackUserID, approve)
	if err != nil {
		return bot.ClickResult{}, err
	}
	return bot.ClickResult{Ephemeral: r.Text}, nil
}

// The gate shows a quorum's progress only through a Notifier that implements it.
var _ gate.VoteNotifier = slackNotifier{}

// slackNotifier renders the gate's messages with the bot's builders and queues them with
// the bot's payloads, inside the gate's transaction.
type slackNotifier struct {
	db        *storage.DB
	publicURL string
	catalog   *catalog.Catalog
	log       *slog.Logger
}

func (n slackNotifier) approvalRequestOf(a *gate.Approval) bot.ApprovalRequest {
	r := bot.ApprovalRequest{ID: a.ID, Service: a.Service, Environment: a.Environment, Version: a.Version, CommitSHA: a.CommitSHA,
		RequestedBy: a.RequestedBy, Score: a.Score, Band: a.Band, ExpiresAt: a.ExpiresAt}
	if svc, ok := n.catalog.Get(a.Service); ok {
		r.Approvers = svc.Approvers
	}
	for _, reason := range a.Reasons {
		// The bot links the playbook itself; the API's text carries it inline.
		r.Reasons = append(r.Reasons, bot.Reason{Text: strings.TrimSuffix(reason.Text, " — playbook "+reason.Playbook), Playbook: reason.Playbook})
	}
	if a.Callback != nil && a.Callback.Repo != "" && a.CommitSHA != "" {
		r.ChangeURL = "https://github.com/" + a.Callback.Repo + "/commit/" + a.CommitSHA
	}
	r.Quorum, r.ApprovedBy = a.Quorum, a.Voters()
	return r
}

func postKey(id string) string { return "approval:" + id + ":request" }

func (n slackNotifier) ApprovalRequested(t *storage.Tx, a *gate.Approval, now time.Time) error {
	if a.Channel == "" {
		n.log.Warn("approval not posted: the service has no slack_channel and slack.default_channel is empty", "approval", a.ID, "service", a.Service)
		return nil
	}
	msg := n.requestMessage(t, a, now)
	_, err := bot.EnqueuePost(t, postKey(a.ID), a.Service, a.Channel, msg, &bot.Notify{Kind: "approval", Ref: a.ID}, now)
	return err
}

// The gate asks for the pending changes before its transaction begins.
var _ gate.ApprovalPreparer = slackNotifier{}

// preparedChanges is what PrepareApproval keeps in Approval.Prepared.
type preparedChanges struct{ changes []bot.Change }

// PrepareApproval reads the pull requests the request will list before the gate's
// transaction, which would otherwise hold the writer lock through these reads.
func (n slackNotifier) PrepareApproval(ctx context.Context, a *gate.Approval, now time.Time) {
	a.Prepared = preparedChanges{n.readChanges(ctx, a, now)}
}

func (n slackNotifier) readChanges(ctx context.Context, a *gate.Approval, now time.Time) []bot.Change {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	changes, err := pendingChanges(ctx, n.db, a.Service, now)
	if err != nil {
		n.log.Warn("approval request without the pending pull requests", "approval", a.ID, "err", err)
	}
	return changes
}

// requestMessage is the request with its buttons, as first posted or as updated while votes
// come in short of the quorum.
func (n slackNotifier) requestMessage(t *storage.Tx, a *gate.Approval, now time.Time) bot.Message {
	r := n.approvalRequestOf(a)
	if p, ok := a.Prepared.(preparedChanges); ok {
		r.Changes = p.changes
	} else {
		// A read on the read pool: WAL readers do not wait for the writer whose transaction this is.
		r.Changes = n.readChanges(t.Context(), a, now)
	}
	return bot.ApprovalRequestMessage(r, n.publicURL)
}

// ApprovalVoted replaces the request in place with one that says "1 of 2 approvals" and who
// approved, buttons kept: the others must still see that their click is wanted. Each count
// has its own key, so a replayed transaction queues it once and the updates, on the post's
// target, arrive in order.
func (n slackNotifier) ApprovalVoted(t *storage.Tx, a *gate.Approval, now time.Time) error {
	if a.Channel == "" {
		return nil
	}
	msg := n.requestMessage(t, a, now)
	_, err := bot.EnqueueUpdate(t, "approval:"+a.ID+":votes:"+strconv.Itoa(len(a.Votes)), a.Service, a.Channel, postKey(a.ID), msg, now)
	return err
}

func (n slackNotifier) ApprovalDecided(t *storage.Tx, a *gate.Approval, now time.Time) error {
	if a.Channel == "" {
		return nil
	}
	d := bot.Decision{State: a.State, By: a.DecidedBy, At: now}
	if a.DecidedAt != nil {
		d.At = *a.DecidedAt
	}
	msg := bot.ApprovalDecidedMessage(n.approvalRequestOf(a), d, n.publicURL)
	_, err := bot.EnqueueUpdate(t, "approval:"+a.ID+":"+a.State, a.Service, a.Channel, postKey(a.ID), msg, now)
	return err
}

func (n slackNotifier) BreakGlassUsed(t *storage.Tx, b *gate.BreakGlassNotice, now time.Time) error {
	if b.Channel == "" {
		n.log.Warn("break glass not posted: the service has no slack_channel and slack.default_channel is empty", "request", b.ID, "service", b.Service)
		return nil
	}
	a := &gate.Approval{ID: b.ID, Service: b.Service, Environment: b.Environment, Version: b.Version, CommitSHA: b.CommitSHA,
		RequestedBy: b.RequestedBy, Band: b.Decision.Band, Score: b.Decision.Score, Reasons: withoutBreakGlass(b.Decision.Reasons)}
	by := b.RequestedBy
	if b.Caller != "" && !strings.Contains(by, b.Caller) {
		by = fmt.Sprintf("%s (token %s)", by, b.Caller)
	}
	msg := bot.BreakGlassMessage(n.approvalRequestOf(a), by, b.Reason, b.At, n.publicURL)
	_, err := bot.EnqueuePost(t, "break_glass:"+b.ID, b.Service, b.Channel, msg, &bot.Notify{Kind: "break_glass", Ref: b.ID}, now)
	return err
}

func withoutBreakGlass(rs []gate.Reason) []gate.Reason {
	out := make([]gate.Reason, 0, len(rs))
	for _, r := range rs {
		if r.Kind != "break_glass" {
			out = append(out, r)
		}
	}
	return out
}
