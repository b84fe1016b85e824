package bot

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops/scoring"
)

// Exemption is an exemption request as its messages show it.
type Exemption struct {
	ID          string
	Service     string
	Signal      string // the signal id
	SignalName  string
	Days        int
	Reason      string
	RequestedBy string // Slack user id
	// Current is the signal's outcome and reason when the request was made, "" when the service
	// had no score.
	Current   string
	Playbook  string
	Approvers []string
	State     string // pending, approved, denied, expired
	DecidedBy string
	DecidedAt time.Time
	ExpiresAt time.Time
}

func (e Exemption) what() string {
	if e.SignalName != "" && e.SignalName != e.Signal {
		return fmt.Sprintf("%s (`%s`)", Escape(e.SignalName), Escape(e.Signal))
	}
	return "`" + Escape(e.Signal) + "`"
}

func (e Exemption) summary() string {
	lines := []string{
		fmt.Sprintf("*Signal* %s of *%s* · *For* %s · *Requested by* %s", e.what(), Escape(e.Service), plural(e.Days, "day", "days"), Mention(e.RequestedBy)),
		"*Reason:* " + Escape(e.Reason),
	}
	if e.Current != "" {
		lines = append(lines, "*Now:* "+Escape(e.Current))
	}
	return strings.Join(lines, "\n")
}

// ExemptionRequestMessage asks the approvers to approve or deny a request.
func ExemptionRequestMessage(e Exemption) Message {
	var b blocks
	b.header(fmt.Sprintf("🟦 Exemption requested: %s · %s", e.Service, e.Signal))
	b.section(e.summary())
	approve := slack.NewButtonBlockElement(ActionExemptApprove, e.ID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)
	deny := slack.NewButtonBlockElement(ActionExemptDeny, e.ID, slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)).WithStyle(slack.StyleDanger)
	b.add(slack.NewActionBlock("exemption:"+e.ID, approve, deny))
	ctx := []string{}
	if len(e.Approvers) > 0 {
		ctx = append(ctx, "Approvers: "+mentionList(e.Approvers)+" (not the requester)")
	}
	ctx = append(ctx, "Approved, the signal counts as passing for "+plural(e.Days, "day", "days")+" from the approval", Link(e.Playbook, "playbook"), "Exemption "+OneLine(e.ID))
	b.context(ctx...)
	return b.message(fmt.Sprintf("Exemption requested by %s: %s of %s for %s: %s", Mention(e.RequestedBy), Escape(e.Signal), Escape(e.Service),
		plural(e.Days, "day", "days"), Escape(e.Reason)))
}

// ExemptionDecidedMessage replaces the request once decided: who, when, until when, no
// more buttons.
func ExemptionDecidedMessage(e Exemption) Message {
	var b blocks
	var head, line string
	at := expiryDate(e.DecidedAt)
	switch e.State {
	case "approved":
		head = fmt.Sprintf("✅ Exemption approved: %s · %s", e.Service, e.Signal)
		line = fmt.Sprintf("Approved by %s at %s; waived until %s", Mention(e.DecidedBy), at, expiryDate(e.ExpiresAt))
	case "denied":
		head = fmt.Sprintf("⛔ Exemption denied: %s · %s", e.Service, e.Signal)
		line = fmt.Sprintf("Denied by %s at %s", Mention(e.DecidedBy), at)
	default:
		head = fmt.Sprintf("Exemption %s: %s · %s", e.State, e.Service, e.Signal)
		line = Escape(e.State) + " at " + at
	}
	b.header(head)
	b.section(e.summary())
	b.section("*" + line + "*")
	b.context("Exemption " + OneLine(e.ID))
	return b.message(fmt.Sprintf("Exemption of %s for %s: %s", Escape(e.Signal), Escape(e.Service), line))
}

// ExemptionReminderMessage tells the owner's channel that a waiver ends soon.
func ExemptionReminderMessage(e Exemption, now time.Time, publicURL string) Message {
	var b blocks
	left := e.ExpiresAt.Sub(now)
	b.header(fmt.Sprintf("⏳ Exemption ends soon: %s · %s", e.Service, e.Signal))
	who := fmt.Sprintf("*Requested by* %s · *approved by* %s", Mention(e.RequestedBy), Mention(e.DecidedBy))
	if e.DecidedBy == "" {
		who = "*Written in scoring.waivers by* " + Mention(e.RequestedBy)
	}
	b.section(fmt.Sprintf("The exemption of %s for *%s* ends *%s* (in %s). From then on the signal is scored again.\n*Reason:* %s\n%s",
		e.what(), Escape(e.Service), expiryDate(e.ExpiresAt), roughDuration(left), Escape(e.Reason), who))
	b.context(Link(e.Playbook, "Playbook: how to make it pass"), Link(serviceURL(publicURL, e.Service), "Open in ReleaseOps"),
		fmt.Sprintf("Still needed? `/readiness exempt %s %s <days> <reason>`", Escape(e.Service), Escape(e.Signal)), "Exemption "+OneLine(e.ID))
	return b.message(fmt.Sprintf("The exemption of %s for %s ends %s", Escape(e.Signal), Escape(e.Service), expiryDate(e.ExpiresAt)))
}

func roughDuration(d time.Duration) string {
	if h := int(d.Round(time.Hour) / time.Hour); h < 48 {
		return plural(max(h, 1), "hour", "hours")
	}
	return plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day", "days")
}

// ExemptionRequestedMessage tells the requester what was asked and of whom.
func ExemptionRequestedMessage(r ExemptionReply) Message {
	what := "`" + Escape(r.Signal) + "`"
	if r.SignalName != "" && r.SignalName != r.Signal {
		what = Escape(r.SignalName) + " (" + what + ")"
	}
	where := "the approvers"
	if len(r.Approvers) > 0 {
		where = mentionList(r.Approvers)
	}
	if r.Channel != "" {
		where += " in " + channelRef(r.Channel)
	}
	text := fmt.Sprintf("📨 Requested: an exemption of %s for *%s*, %s. %s were asked to approve or deny it; once approved it counts from then on. (Exemption %s)",
		what, Escape(r.Service), plural(r.Days, "day", "days"), where, OneLine(r.ID))
	return TextMessage(text)
}

// ExemptionHint is the answer to a pick in the scorecard's exemption menu: the command to
// send, filled in but for the days and the reason.
func ExemptionHint(service, signal string, maxDays int, approvers []string) string {
	s := fmt.Sprintf("To request an exemption of `%s` for *%s*, send:\n`/readiness exempt %s %s <days> <reason>`\nat most %s; ",
		Escape(signal), Escape(service), Escape(service), Escape(signal), plural(maxDays, "day", "days"))
	if len(approvers) > 0 {
		s += "decided by " + mentionList(approvers) + " (not by you)."
	} else {
		s += "decided by the exemption approvers."
	}
	return s
}

// channelRef links a channel id, and shows any other name as text.
func channelRef(ch string) string {
	if slackChannelID.MatchString(ch) {
		return "<#" + ch + ">"
	}
	return OneLine(ch)
}

var slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{2,20}$`)

// maxOfferOptions is Slack's limit on an overflow menu's options.
const maxOfferOptions = 5

// exemptOfferBlock is the scorecard's "Request an exemption" menu: one option per weak
// signal, one block whatever their number.
func exemptOfferBlock(service string, weak []Weak) slack.Block {
	var opts []*slack.OptionBlockObject
	for _, w := range weak {
		if len(opts) == maxOfferOptions {
			break
		}
		if w.Signal.Outcome == scoring.OutcomeWaived || w.Signal.Outcome == scoring.OutcomeNotApplicable {
			continue
		}
		label := clipRunes(plain(w.Signal.Name), 75)
		opts = append(opts, slack.NewOptionBlockObject(service+" "+w.Signal.ID, slack.NewTextBlockObject(slack.PlainTextType, label, false, false), nil))
	}
	if len(opts) == 0 {
		return nil
	}
	menu := slack.NewOverflowBlockElement(ActionExemptOffer, opts...)
	return slack.NewSectionBlock(mrkdwn("*Request an exemption* for one of these signals: the exemption approvers decide, and it ends after the days asked"), nil, slack.NewAccessory(menu))
}
