package bot

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Action ids of the exemption buttons. Approve and Deny carry the request id; the scorecard's
// offer (an overflow menu) carries "<service> <signal>".
const (
	ActionExemptApprove = "releaseops_exempt_approve"
	ActionExemptDeny    = "releaseops_exempt_deny"
	ActionExemptOffer   = "releaseops_exempt_offer"
)

// ExemptArgs are the arguments of /readiness exempt, as typed (the service lower-cased).
type ExemptArgs struct {
	Service string
	Signal  string
	Days    int
	Reason  string
}

// parseExempt reads exempt <service> <signal> <days> <reason...>. Days is a whole number,
// optionally with a d ("14d"); whether it is within exemptions.max_days is the handler's call.
func parseExempt(args []string) Command {
	usage := func(p string) Command { return Command{Kind: CmdUsage, Problem: p} }
	switch len(args) {
	case 1:
		return usage("exempt needs a service, a signal, a number of days and a reason")
	case 2:
		return usage("exempt needs a signal after the service, then a number of days and a reason")
	case 3:
		return usage("exempt needs a number of days after the signal, then a reason")
	case 4:
		return usage("exempt needs a reason after the number of days: the approvers decide on it")
	}
	d := strings.TrimSuffix(strings.ToLower(args[3]), "d")
	days, err := strconv.Atoi(d)
	if err != nil {
		return usage(fmt.Sprintf("exempt takes the number of days as a whole number (such as 14), not %q", args[3]))
	}
	return Command{Kind: CmdExempt, Service: strings.ToLower(args[1]), Exempt: &ExemptArgs{Service: strings.ToLower(args[1]),
		Signal: strings.ToLower(args[2]), Days: days, Reason: strings.Join(args[4:], " ")}}
}

// ExemptionHandler takes exemption requests and decides on their Approve and Deny clicks.
// The app implements it over storage, the audit log and the scoring engine.
type ExemptionHandler interface {
	// RequestExemption validates and stores a request and queues its post to the approvers,
	// in one transaction. A refusal (unknown service or signal, too many days, no reason) is
	// an ExemptionReply with Problem set, not an error; errors are storage failures.
	RequestExemption(ctx context.Context, r ExemptionRequest) (ExemptionReply, error)
	// HandleExemptionClick decides a request: only an approver, never the requester, and
	// once. Every click is audited.
	HandleExemptionClick(ctx context.Context, id, slackUserID string, approve bool) (ClickResult, error)
	// ExemptionTerms are the longest exemption one may ask for and who decides.
	ExemptionTerms() (maxDays int, approvers []string)
}

// ExemptionRequest is a /readiness exempt from a Slack user.
type ExemptionRequest struct {
	ExemptArgs
	RequestedBy string // Slack user id
	// Invocation names the command invocation; the same one never stores two requests.
	Invocation string
}

// ExemptionReply is what the requester is told.
type ExemptionReply struct {
	// Problem, when set, says why nothing was stored (plain text).
	Problem    string
	ID         string
	Service    string
	Signal     string
	SignalName string
	Days       int
	Channel    string
	Approvers  []string
}

// SetExemptionHandler installs what takes exemption requests (the app). Without one,
// /readiness exempt says exemptions are not set up and the scorecard offers none.
func (b *Bot) SetExemptionHandler(h ExemptionHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.exemptions = h
}

func (b *Bot) exemptionHandler() ExemptionHandler {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.exemptions
}

const exemptionsOff = "Exemptions are not set up on this ReleaseOps: ask an admin to list exemptions.approvers in its config. Until then waivers live in scoring.waivers."

// invoker is who ran a command, carried in the answer's context: the command parsers stay
// pure, and only the commands that record something read it.
type invoker struct {
	user       string
	invocation string
}

type invokerKey struct{}

func withInvoker(ctx context.Context, user, invocation string) context.Context {
	return context.WithValue(ctx, invokerKey{}, invoker{user: user, invocation: invocation})
}

func invokerOf(ctx context.Context) invoker {
	v, _ := ctx.Value(invokerKey{}).(invoker)
	return v
}

// exemptAnswer answers /readiness exempt.
func (b *Bot) exemptAnswer(ctx context.Context, c Command) Message {
	h := b.exemptionHandler()
	if h == nil {
		return TextMessage(Escape(exemptionsOff))
	}
	who := invokerOf(ctx)
	if who.user == "" || who.invocation == "" {
		return TextMessage("An exemption request must come from a Slack user: nothing was stored.")
	}
	r, err := h.RequestExemption(ctx, ExemptionRequest{ExemptArgs: *c.Exempt, RequestedBy: who.user, Invocation: who.invocation})
	if err != nil {
		b.d.Log.Error("exemption request", "service", c.Exempt.Service, "signal", c.Exempt.Signal, "user", who.user, "err", err)
		return TextMessage("Your request could not be stored; nothing was sent to the approvers. Please try again. (The details are in ReleaseOps' log.)")
	}
	if r.Problem != "" {
		return TextMessage("⚠️ " + Escape(r.Problem))
	}
	return ExemptionRequestedMessage(r)
}

// exemptAction handles the exemption actions of a block_actions callback and reports whether
// a was one of them.
func (b *Bot) exemptAction(ctx context.Context, cb *slack.InteractionCallback, a *slack.BlockAction) bool {
	switch a.ActionID {
	case ActionExemptApprove, ActionExemptDeny:
		b.exemptClick(ctx, cb, a)
	case ActionExemptOffer:
		b.exemptOffer(ctx, cb, a)
	default:
		return false
	}
	return true
}

func (b *Bot) exemptClick(ctx context.Context, cb *slack.InteractionCallback, a *slack.BlockAction) {
	var res ClickResult
	if h := b.exemptionHandler(); h == nil {
		res.Ephemeral = exemptionsOff
	} else if r, err := h.HandleExemptionClick(ctx, a.Value, cb.User.ID, a.ActionID == ActionExemptApprove); err != nil {
		b.d.Log.Error("exemption click", "exemption", a.Value, "user", cb.User.ID, "err", err)
		res.Ephemeral = "Your click could not be recorded; please try again. (The details are in ReleaseOps' log.)"
	} else {
		res = r
	}
	b.answerClick(ctx, cb, "exempt-click:"+a.ActionTs+":"+cb.User.ID+":"+a.Value, res)
}

// exemptOffer answers a pick in the scorecard's "Request an exemption" menu with the command
// to send, filled in but for the days and the reason: the existing interaction handling opens
// no modal, and a request without its reason is not one.
func (b *Bot) exemptOffer(ctx context.Context, cb *slack.InteractionCallback, a *slack.BlockAction) {
	service, signal, _ := strings.Cut(a.SelectedOption.Value, " ")
	var text string
	if h := b.exemptionHandler(); h == nil {
		text = Escape(exemptionsOff)
	} else {
		maxDays, approvers := h.ExemptionTerms()
		text = ExemptionHint(service, signal, maxDays, approvers)
	}
	b.answerClick(ctx, cb, "exempt-offer:"+a.ActionTs+":"+cb.User.ID+":"+a.SelectedOption.Value, ClickResult{}, TextMessage(text))
}

// answerClick queues a click's answers through its response_url: the replacement of the
// message, the clicker's ephemeral text, and any further ephemeral messages.
func (b *Bot) answerClick(ctx context.Context, cb *slack.InteractionCallback, key string, res ClickResult, extra ...Message) {
	if cb.ResponseURL == "" {
		b.d.Log.Warn("click without response_url: nothing to answer", "key", key)
		return
	}
	var ps []ResponsePayload
	if res.Update != nil {
		ps = append(ps, ResponsePayload{ResponseURL: cb.ResponseURL, ReplaceOriginal: true, ResponseType: slack.ResponseTypeInChannel, Message: *res.Update})
	}
	if res.Ephemeral != "" {
		ps = append(ps, ResponsePayload{ResponseURL: cb.ResponseURL, Message: TextMessage(Escape(res.Ephemeral))})
	}
	for _, m := range extra {
		ps = append(ps, ResponsePayload{ResponseURL: cb.ResponseURL, Message: m})
	}
	if len(ps) == 0 {
		return
	}
	if err := b.queueResponse(context.WithoutCancel(ctx), key, "", ps...); err != nil {
		b.d.Log.Error("queue click answer", "key", key, "err", err)
	}
}

// exemptionsOffered reports whether the scorecard offers exemption requests.
func (b *Bot) exemptionsOffered() bool { return b.exemptionHandler() != nil }

// expiryDate is how an exemption's expiry is written in Slack.
func expiryDate(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
