package bot

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Action ids of the approval buttons; each button's value is the approval id.
const (
	ActionApprove = "releaseops_approve"
	ActionDeny    = "releaseops_deny"
)

// ApprovalHandler decides on an Approve or Deny click. The gate implements it: it checks
// that the clicker may decide (an approver of the service, not the requester), records the
// decision conditionally (a double click is harmless) and says what to show.
type ApprovalHandler interface {
	HandleApprovalClick(ctx context.Context, approvalID, slackUserID string, approve bool) (ClickResult, error)
}

// ClickResult is what the clicker sees after a click.
type ClickResult struct {
	// Ephemeral is shown only to the clicker ("Approved.", "Only approvers of checkout may
	// decide."); plain text, escaped by the bot. Empty shows nothing.
	Ephemeral string
	// Update, when not nil, replaces the clicked message (typically ApprovalDecidedMessage),
	// through the click's response_url. A handler that queues its own slack.update in the
	// decision's transaction (EnqueueUpdate) leaves it nil.
	Update *Message
}

// ApprovalRequest is what an approval message shows.
type ApprovalRequest struct {
	ID          string
	Service     string
	Environment string
	Version     string
	CommitSHA   string
	RequestedBy string   // as the pipeline named them
	Score       *float64 // nil when the service has no score
	Band        string
	// Reasons are the gate's reasons, each with its playbook when it names a dimension.
	Reasons []Reason
	// ChangeURL links what is being deployed (a pipeline run, a pull request, a compare).
	ChangeURL string
	// Approvers are the Slack user ids who may decide.
	Approvers []string
	ExpiresAt time.Time
	// Changes are the pull requests merged since the service's last production deploy:
	// what this deploy would ship.
	Changes []Change
	// Quorum is how many distinct approvers must approve; 0 or 1 means one click decides,
	// and the message says nothing about it.
	Quorum int
	// ApprovedBy are the Slack user ids whose approval counted so far, in the order given.
	ApprovedBy []string
}

// Change is one merged pull request of a pending deploy.
type Change struct {
	Number int
	Title  string
	Author string
	URL    string
}

// Reason is one reason of a gate decision: plain text, and the playbook to fix it if any.
type Reason struct {
	Text     string
	Playbook string
}

// OnCallPrefix starts the text of the reason under which the gate keeps an approval's on-call
// line (reason kind oncall). The builders lift it out onto a line of its own: it says whom a
// bad deploy would page, not why the deploy needs an approver. Riding in the reasons keeps
// the line in the approval record, so the request and the message that replaces it after the
// decision show the same people, whoever is on call by then.
const OnCallPrefix = "On call: "

// splitOnCall separates the on-call line (without its prefix) from the real reasons.
func splitOnCall(rs []Reason) (onCall string, reasons []Reason) {
	for i, r := range rs {
		if s, ok := strings.CutPrefix(r.Text, OnCallPrefix); ok && r.Playbook == "" {
			reasons = append(append(reasons, rs[:i]...), rs[i+1:]...)
			return s, reasons
		}
	}
	return "", rs
}

// onCallLine is the on-call section's text; the names came from PagerDuty, so all of it is
// escaped.
func onCallLine(s string) string { return "*On call:* " + OneLine(s) }

// Decision is how an approval ended.
type Decision struct {
	State string // approved, denied, expired
	By    string // Slack user id; empty for expired
	At    time.Time
	Note  string
}

var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// Mention renders a Slack user id as a mention, and anything else as escaped text: only ids
// ReleaseOps itself holds (approvers, clickers) become mentions.
func Mention(id string) string {
	if slackUserID.MatchString(id) {
		return "<@" + id + ">"
	}
	return OneLine(id)
}

// ApprovalRequestMessage is the message with Approve and Deny buttons for a watch-band
// deploy (SPEC §5).
func ApprovalRequestMessage(r ApprovalRequest, publicURL string) Message {
	var b blocks
	var onCall string
	onCall, r.Reasons = splitOnCall(r.Reasons)
	b.header(fmt.Sprintf("🟡 Approval needed: %s to %s", r.Service, r.Environment))
	b.section(approvalSummary(r))
	if onCall != "" {
		b.section(onCallLine(onCall))
	}
	if len(r.Reasons) > 0 {
		b.section(approvalReasons(r))
	}
	if len(r.Changes) > 0 {
		b.section(approvalChanges(r.Changes))
	}
	if r.Quorum > 1 {
		b.section(quorumLine(r))
	}
	approve := slack.NewButtonBlockElement(ActionApprove, r.ID, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)
	deny := slack.NewButtonBlockElement(ActionDeny, r.ID, slack.NewTextBlockObject(slack.PlainTextType, "Deny", false, false)).WithStyle(slack.StyleDanger)
	b.add(slack.NewActionBlock("approval:"+r.ID, approve, deny))
	var who []string
	for _, a := range r.Approvers {
		who = append(who, Mention(a))
	}
	ctx := []string{}
	if len(who) > 0 {
		ctx = append(ctx, "Approvers: "+strings.Join(who, ", "))
	}
	if !r.ExpiresAt.IsZero() {
		ctx = append(ctx, "Expires "+r.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC")+" (no decision counts as a deny)")
	}
	ctx = append(ctx, "Approval "+OneLine(r.ID))
	b.context(ctx...)
	text := fmt.Sprintf("Approval needed: %s %s to %s (score %s, %s)", Escape(r.Service), Escape(versionOf(r)), Escape(r.Environment), scoreOrNone(r.Score), Escape(bandOrUnknown(r.Band)))
	if r.Quorum > 1 {
		text += ", " + quorumCount(r)
	}
	return b.message(text)
}

// quorumCount is "1 of 2 approvals": the words the channel reads to know a click so far
// did not decide.
func quorumCount(r ApprovalRequest) string {
	return fmt.Sprintf("%d of %d approvals", len(r.ApprovedBy), r.Quorum)
}

// quorumLine says how far an approval that needs several approvers has got, and who counted.
func quorumLine(r ApprovalRequest) string {
	if len(r.ApprovedBy) == 0 {
		return fmt.Sprintf("*%s* · needs %d different approvers; the requester does not count", quorumCount(r), r.Quorum)
	}
	return fmt.Sprintf("*%s* · approved by %s", quorumCount(r), mentionList(r.ApprovedBy))
}

func mentionList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = Mention(id)
	}
	return strings.Join(out, ", ")
}

// ApprovalDecidedMessage replaces the request once decided: who, when, no more buttons.
func ApprovalDecidedMessage(r ApprovalRequest, d Decision, publicURL string) Message {
	var b blocks
	var line, head string
	at := d.At.UTC().Format("2006-01-02 15:04 UTC")
	switch d.State {
	case "approved":
		head = fmt.Sprintf("✅ Approved: %s to %s", r.Service, r.Environment)
		line = fmt.Sprintf("Approved by %s at %s", Mention(d.By), at)
		if r.Quorum > 1 && len(r.ApprovedBy) > 0 {
			line = fmt.Sprintf("Approved by %s at %s (%s)", mentionList(r.ApprovedBy), at, quorumCount(r))
		}
	case "denied":
		head = fmt.Sprintf("⛔ Denied: %s to %s", r.Service, r.Environment)
		line = fmt.Sprintf("Denied by %s at %s", Mention(d.By), at)
	case "expired":
		head = fmt.Sprintf("⌛ Expired: %s to %s", r.Service, r.Environment)
		line = fmt.Sprintf("No decision before %s: the deploy is denied", at)
	default:
		head = fmt.Sprintf("%s to %s: %s", r.Service, r.Environment, d.State)
		line = fmt.Sprintf("%s at %s", Escape(d.State), at)
	}
	if d.Note != "" {
		line += " — " + OneLine(d.Note)
	}
	var onCall string
	onCall, r.Reasons = splitOnCall(r.Reasons)
	b.header(head)
	b.section(approvalSummary(r))
	if onCall != "" {
		b.section(onCallLine(onCall))
	}
	if len(r.Reasons) > 0 {
		b.section(approvalReasons(r))
	}
	b.section("*" + line + "*")
	if r.Quorum > 1 && d.State != "approved" && len(r.ApprovedBy) > 0 {
		// Who had approved before a Deny or the timeout ended it.
		b.section(quorumLine(r))
	}
	b.context("Approval " + OneLine(r.ID))
	return b.message(fmt.Sprintf("%s %s to %s: %s", Escape(r.Service), Escape(versionOf(r)), Escape(r.Environment), line))
}

// BreakGlassMessage tells the channel that a deploy went out below threshold under break
// glass, for review (SPEC §5).
func BreakGlassMessage(r ApprovalRequest, by, reason string, at time.Time, publicURL string) Message {
	var b blocks
	b.header(fmt.Sprintf("🚨 Break glass: %s to %s", r.Service, r.Environment))
	b.section(approvalSummary(r))
	b.section(fmt.Sprintf("*Allowed below threshold* by %s at %s\n*Reason:* %s", OneLine(by), at.UTC().Format("2006-01-02 15:04 UTC"), Escape(reason)))
	if len(r.Reasons) > 0 {
		b.section(approvalReasons(r))
	}
	b.context("Please review this deploy. " + Link(serviceURL(publicURL, r.Service), "Open in ReleaseOps"))
	return b.message(fmt.Sprintf("Break glass: %s %s to %s by %s: %s", Escape(r.Service), Escape(versionOf(r)), Escape(r.Environment), OneLine(by), Escape(reason)))
}

func approvalSummary(r ApprovalRequest) string {
	parts := []string{fmt.Sprintf("*Score* %s %s (%s)", bandEmoji(r.Band), scoreOrNone(r.Score), Escape(bandOrUnknown(r.Band)))}
	if v := versionOf(r); v != "" {
		change := "`" + Escape(v) + "`"
		if r.ChangeURL != "" {
			change = Link(r.ChangeURL, v)
		}
		parts = append(parts, "*Change* "+change)
	}
	if r.RequestedBy != "" {
		parts = append(parts, "*Requested by* "+OneLine(r.RequestedBy))
	}
	return strings.Join(parts, " · ")
}

func approvalReasons(r ApprovalRequest) string {
	var lines []string
	for _, reason := range r.Reasons {
		line := "• " + Escape(reason.Text)
		if reason.Playbook != "" {
			line += " — " + Link(reason.Playbook, "playbook")
		}
		lines = append(lines, line)
	}
	return "*Reasons*\n" + strings.Join(lines, "\n")
}

// maxApprovalChanges keeps the request short; the full list is one click away in GitHub.
const maxApprovalChanges = 10

func approvalChanges(cs []Change) string {
	lines := []string{"*Pull requests since the last production deploy*"}
	for i, c := range cs {
		if i == maxApprovalChanges {
			lines = append(lines, fmt.Sprintf("…and %d more", len(cs)-maxApprovalChanges))
			break
		}
		title := fmt.Sprintf("#%d %s", c.Number, c.Title)
		line := "• " + Escape(title)
		if c.URL != "" {
			line = "• " + Link(c.URL, title)
		}
		if c.Author != "" {
			line += " — " + Escape(c.Author)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

func versionOf(r ApprovalRequest) string {
	if r.Version != "" {
		return r.Version
	}
	return short(r.CommitSHA)
}

func scoreOrNone(s *float64) string {
	if s == nil {
		return "none"
	}
	return num1(*s)
}

func bandOrUnknown(b string) string {
	if b == "" {
		return "unknown"
	}
	return b
}
