package bot

import (
	"fmt"
	"strings"

	"github.com/releaseops/releaseops/risk"
)

// RiskMessage renders /readiness risk <service> [version]: the risk of deploying now, its
// factors biggest first, the release window, the trust rung and what the gate would answer.
func RiskMessage(p RiskPreview, publicURL string) Message {
	var b blocks
	what := p.Service
	if p.Version != "" {
		what += " " + p.Version
	}
	env := p.Environment
	if env == "" {
		env = ProductionEnv
	}
	esc := Escape(what)
	if p.Risk == nil {
		b.header(fmt.Sprintf("⚪ %s to %s now — release risk off", what, env))
		b.section("Release risk is off on this ReleaseOps (its config did not compile; the problems are in the log), so only readiness decides.\n" +
			"*The gate would answer now:* " + decisionText(p) + gateReasons(p.Reasons))
		riskContext(&b, p.Service, publicURL)
		return b.message(fmt.Sprintf("%s to %s now: release risk is off; the gate would answer %s", esc, Escape(env), Escape(p.Decision)))
	}
	a := p.Risk
	b.header(fmt.Sprintf("%s %s to %s now — risk %.0f, %s", riskEmoji(a.Level), what, env, a.Score, a.Level))
	summary := fmt.Sprintf("*Release risk* %s / 100 · *Level* %s", num1(a.Score), Escape(string(a.Level)))
	if p.Band != "" {
		summary += " · *Band* " + Escape(p.Band)
	}
	if p.Score != nil {
		summary += " · *Readiness* " + num1(*p.Score)
	}
	b.section(summary)
	b.section("*The gate would answer now:* " + decisionText(p) + gateReasons(p.Reasons))
	if len(a.Factors) > 0 {
		b.section(factorLines(a.Factors))
	}
	var status []string
	if p.Window != nil {
		status = append(status, WindowLine(*p.Window))
	}
	if p.Trust != nil {
		status = append(status, TrustLine(p.Trust))
	}
	if len(status) > 0 {
		b.section(strings.Join(status, "\n"))
	}
	riskContext(&b, p.Service, publicURL)
	fallback := fmt.Sprintf("%s to %s now: release risk %.0f (%s); the gate would answer %s", esc, Escape(env), a.Score, Escape(string(a.Level)), Escape(p.Decision))
	if len(a.Factors) > 0 && a.Factors[0].Points > 0 {
		fallback += "; biggest factor: " + Escape(a.Factors[0].Reason)
	}
	return b.message(fallback)
}

// factorLines lists every factor, biggest share of the score first (Assess's order), each
// with the reason a person can act on. An unknown factor says so: it is rated, not zero.
func factorLines(fs []risk.Factor) string {
	lines := []string{"*Factors*, biggest first"}
	for _, f := range fs {
		mark := ""
		if f.Unknown {
			mark = " _unknown_"
		}
		lines = append(lines, fmt.Sprintf("• *%s* +%s%s — %s", factorName(f.ID), num1(f.Points), mark, OneLine(f.Reason)))
	}
	return strings.Join(lines, "\n")
}

// gateReasons are the gate's reasons under its answer. The risk_factors reason repeats the
// factors listed below it, so it is left out here.
func gateReasons(rs []PreviewReason) string {
	var lines []string
	for _, r := range rs {
		if r.Kind == "risk_factors" {
			continue
		}
		line := "\n• " + OneLine(r.Text)
		if r.Playbook != "" {
			line += " " + Link(r.Playbook, "playbook")
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "")
}

// WindowLine says whether the release window is open now, and if not when it opens. A
// blackout's reason names it, so the name is only shown when there is no reason.
func WindowLine(w risk.WindowStatus) string {
	var text string
	switch {
	case w.Blackout != "":
		text = "⛔ *Window:* closed by a blackout"
		if w.Reason == "" {
			text += " " + OneLine(w.Blackout)
		}
	case !w.Open:
		text = "⏰ *Window:* closed, off-hours: a human must approve"
	default:
		text = "✅ *Window:* open"
	}
	if w.Reason != "" {
		text += " — " + OneLine(w.Reason)
	}
	if w.Blackout != "" && w.Override {
		text += fmt.Sprintf("; %d approvers may override it", w.Quorum)
	}
	if w.NextOpenAt != nil {
		text += "; next open " + w.NextOpenAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	return text
}

func riskContext(b *blocks, service, publicURL string) {
	b.context("A preview: nothing was recorded and nobody was asked.",
		fmt.Sprintf("`/readiness window %s` for the best times to deploy", Escape(service)),
		Link(serviceURL(publicURL, service), "Open in ReleaseOps"))
}

// WindowMessage renders /readiness window <service>: the best open slots of the next hours
// with their reasons, and how many are closed or need a human.
func WindowMessage(service string, hours int, slots []risk.Slot, publicURL string) Message {
	var b blocks
	b.header(fmt.Sprintf("🗓 Best times to deploy %s to production", service))
	var open, closed, human int
	var firstClosed string
	for _, s := range slots {
		switch {
		case !s.Open:
			closed++
			if firstClosed == "" && len(s.Reasons) > 0 {
				firstClosed = s.Reasons[0]
			}
		case s.NeedsHuman:
			open++
			human++
		default:
			open++
		}
	}
	if open == 0 {
		text := fmt.Sprintf("No open slot in the next %d hours.", hours)
		if firstClosed != "" {
			text = fmt.Sprintf("No open slot in the next %d hours — %s.", hours, OneLine(strings.TrimPrefix(firstClosed, "closed: ")))
		}
		b.section(text)
		windowContext(&b, service, hours, closed, human, publicURL)
		return b.message(fmt.Sprintf("%s: no open slot in the next %d hours", Escape(service), hours))
	}
	b.section(fmt.Sprintf("The next %d hours ranked by expected success: the history of deploys at that weekday and hour (the service's, then the organisation's), on-call coverage, blackouts and business hours.", hours))
	var best []string
	shown := 0
	for _, s := range slots {
		if !s.Open || shown == windowSlots {
			continue
		}
		shown++
		b.section(slotText(shown, s))
		best = append(best, fmt.Sprintf("%s (%s)", Escape(s.Local), pct(s.Score)))
	}
	windowContext(&b, service, hours, closed, human, publicURL)
	return b.message(fmt.Sprintf("Best times to deploy %s: %s", Escape(service), strings.Join(best, ", ")))
}

func slotText(n int, s risk.Slot) string {
	line := fmt.Sprintf("*%d. %s* · %s expected success", n, Escape(s.Local), pct(s.Score))
	if s.NeedsHuman {
		line += " · ⏰ outside the release window: needs a human"
	}
	if !strings.HasSuffix(s.Local, " UTC") { // readers in other zones compare in UTC
		line += " · " + s.Start.UTC().Format("15:04 UTC")
	}
	for _, r := range s.Reasons {
		line += "\n• " + OneLine(r)
	}
	return line
}

func windowContext(b *blocks, service string, hours, closed, human int, publicURL string) {
	var counts []string
	if closed > 0 {
		counts = append(counts, plural(closed, "hour closed by a blackout", "hours closed by blackouts"))
	}
	if human > 0 {
		counts = append(counts, plural(human, "open hour needs a human (off-hours)", "open hours need a human (off-hours)"))
	}
	summary := ""
	if len(counts) > 0 {
		summary = "Of the next " + fmt.Sprint(hours) + " hours: " + strings.Join(counts, ", ") + "."
	}
	b.context(summary, fmt.Sprintf("`releaseops window %s` or `GET /api/v1/services/%s/windows` for every hour", Escape(service), Escape(pathEscape(service))),
		Link(serviceURL(publicURL, service), "Open in ReleaseOps"))
}
