package bot

import (
	"fmt"
	"strings"
	"time"
)

// ObservedMessage is the post to the service's channel when the gate, in observe mode, let a
// deploy through that enforcement would have stopped. would is "would block" or "would need
// approval"; modeFrom is the setting that chose observe mode. It has no buttons: no approval
// was requested, and saying so keeps the channel from waiting for one.
func ObservedMessage(r ApprovalRequest, would, modeFrom string, at time.Time, publicURL string) Message {
	var b blocks
	b.header(fmt.Sprintf("👀 Observe mode: %s to %s %s", r.Service, r.Environment, would))
	b.section(approvalSummary(r))
	what := fmt.Sprintf("*Allowed in observe mode* (%s) at %s. Enforced, the gate %s.", Escape(modeFrom), at.UTC().Format("2006-01-02 15:04 UTC"), Escape(would))
	if strings.Contains(would, "approval") {
		what += " No approval was requested."
	}
	b.section(what)
	if len(r.Reasons) > 0 {
		b.section(approvalReasons(r))
	}
	ctx := "Nothing to do now: this records what enforcement would change."
	if publicURL != "" {
		ctx += " " + Link(strings.TrimSuffix(publicURL, "/")+"/gate/report", "Gate report") + " · " + Link(serviceURL(publicURL, r.Service), "Open in ReleaseOps")
	}
	b.context(ctx)
	first := ""
	if len(r.Reasons) > 0 {
		first = ": " + r.Reasons[0].Text
	}
	return b.message(fmt.Sprintf("Observe mode: %s %s to %s %s%s", Escape(r.Service), Escape(versionOf(r)), Escape(r.Environment), Escape(would), Escape(first)))
}
