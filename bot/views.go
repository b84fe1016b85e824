package bot

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
)

const evidencePerSignal = 3

// WhyMessage renders /readiness why <service> <dimension>: each signal of the dimension with
// its score, reason, waiver and evidence, and the playbook.
func WhyMessage(card *scoring.Scorecard, dim *scoring.DimensionScore, publicURL string) Message {
	var b blocks
	score := pct(dim.Score)
	if !dim.Applicable {
		score = "n/a"
	}
	b.header(fmt.Sprintf("%s · %s — %s", card.Service, dim.Name, score))
	intro := dimensionBar(*dim)
	if dim.Reason != "" {
		intro += "\n" + Escape(dim.Reason)
	}
	intro += "\n" + Link(dim.Playbook, "Playbook: how to improve "+dim.Name)
	b.section(intro)
	for _, s := range dim.Signals {
		if b.room() < 2 {
			break
		}
		line := fmt.Sprintf("%s *%s* — %s (weight %s)\n%s", outcomeMark(s.Outcome), Escape(s.Name), signalScore(s), trimFloat(s.Weight), Escape(s.Reason))
		if s.Waiver != nil {
			line += fmt.Sprintf("\n_Waived by %s until %s: %s_", Escape(s.Waiver.Author), s.Waiver.Expires.UTC().Format("2006-01-02"), Escape(s.Waiver.Reason))
			if s.Waiver.Approver != "" {
				line += fmt.Sprintf(" _(approved by %s)_", Escape(s.Waiver.Approver))
			}
		}
		if ev := evidenceText(s.Evidence, publicURL); ev != "" {
			line += "\n" + ev
		}
		b.section(line)
	}
	b.context(updatedText(card), Link(serviceURL(publicURL, card.Service), "Open in ReleaseOps"))
	return b.message(fmt.Sprintf("%s · %s: %s", Escape(card.Service), Escape(dim.Name), score))
}

func outcomeMark(o scoring.Outcome) string {
	switch o {
	case scoring.OutcomePass:
		return "✅"
	case scoring.OutcomeWaived:
		return "🟦"
	case scoring.OutcomePartial:
		return "🟨"
	case scoring.OutcomeNotApplicable:
		return "▫️"
	case scoring.OutcomeUpcoming:
		return "⏳"
	case scoring.OutcomeNoData:
		return "❔"
	}
	return "❌"
}

func signalScore(s scoring.SignalResult) string {
	switch s.Outcome {
	case scoring.OutcomeNotApplicable, scoring.OutcomeUpcoming:
		return "n/a"
	case scoring.OutcomeNoData:
		return "no data"
	}
	return pct(s.Score)
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

// evidenceText lists up to three pieces of evidence, each linked to its stored delivery. The
// label says how ReleaseOps learned it ("read from the GitHub API at T", "github webhook push
// delivery D at T"): an API read and a webhook can disagree, and both may be listed.
// Sync observations are stored as deliveries too, so the link works for both.
func evidenceText(ev []releaseops.Evidence, publicURL string) string {
	if len(ev) == 0 {
		return ""
	}
	var parts []string
	for i, e := range ev {
		if i == evidencePerSignal {
			parts = append(parts, fmt.Sprintf("and %d more", len(ev)-i))
			break
		}
		label := e.Describe()
		if e.At.IsZero() {
			label = e.Source + " " + e.Event
		}
		u := ""
		if publicURL != "" && e.Delivery != "" {
			u = strings.TrimSuffix(publicURL, "/") + "/events/" + url.PathEscape(e.Source) + "/" + url.PathEscape(e.Delivery)
		}
		parts = append(parts, Link(u, label))
	}
	return "Evidence: " + strings.Join(parts, ", ")
}

// Ranked is one row of /readiness worst.
type Ranked struct {
	Service string
	Score   float64
	Band    string
	Level   string
	Trend   scoring.Trend
}

// WorstMessage renders /readiness worst: the lowest services, lowest first.
func WorstMessage(rows []Ranked, total int, publicURL string) Message {
	var b blocks
	b.header(fmt.Sprintf("Lowest %d of %d services", len(rows), total))
	if len(rows) == 0 {
		b.section("No service has a score yet. Scores appear once events arrive (or run `releaseops serve --demo`).")
		return b.message("No service has a score yet.")
	}
	var lines, plainLines []string
	for i, r := range rows {
		lines = append(lines, fmt.Sprintf("%d. %s %s *%s* %s · %s · %s", i+1, bandEmoji(r.Band),
			Link(serviceURL(publicURL, r.Service), r.Service), num1(r.Score), Escape(r.Band), Escape(levelOrNone(r.Level)), trendText(r.Trend)))
		plainLines = append(plainLines, fmt.Sprintf("%s %s", Escape(r.Service), num1(r.Score)))
	}
	b.section(strings.Join(lines, "\n"))
	b.context("`/readiness <service>` for a scorecard")
	return b.message("Lowest services: " + strings.Join(plainLines, ", "))
}

// HelpMessage is the usage of /readiness.
func HelpMessage(command string) Message {
	if command == "" {
		command = "/readiness"
	}
	c := Escape(command)
	var b blocks
	b.section(strings.Join([]string{
		"*" + c + "* — release readiness from ReleaseOps",
		"• `" + c + " <service> [environment]` — the scorecard: score, band, level, trend, the nine dimensions and the weakest signals",
		"• `" + c + " why <service> <dimension>` — the signals and evidence of one dimension",
		"• `" + c + " risk <service> [version]` — the release risk of deploying to production now: its factors, the release window, the trust ladder and what the gate would answer",
		"• `" + c + " window <service>` — the best times to deploy to production in the next 72 hours, with their reasons",
		"• `" + c + " exempt <service> <signal> <days> <reason>` — ask the exemption approvers to waive a signal for some days",
		"• `" + c + " worst` — the ten lowest services",
		"• `" + c + " help` — this message",
		"Dimensions: " + strings.Join(dimensionIDs(), ", "),
	}, "\n"))
	return b.message(c + " <service> [environment] | why <service> <dimension> | risk <service> [version] | window <service> | worst | help")
}

// UnknownServiceMessage answers a name the catalog does not know, with the closest names.
func UnknownServiceMessage(name string, closest []string) Message {
	var b blocks
	text := fmt.Sprintf("No service named *%s*.", OneLine(name))
	if len(closest) > 0 {
		esc := make([]string, len(closest))
		for i, c := range closest {
			esc[i] = "`" + Escape(c) + "`"
		}
		text += " Did you mean " + strings.Join(esc, ", ") + "?"
	} else {
		text += " `/readiness worst` lists services with a score."
	}
	b.section(text)
	return b.message(text)
}

// NoScoreMessage answers a known service that has not been scored yet.
func NoScoreMessage(name string) Message {
	var b blocks
	text := fmt.Sprintf("*%s* is in the catalog but has no score yet: it is scored as soon as an event about it arrives.", OneLine(name))
	b.section(text)
	return b.message(text)
}

// TextMessage is a one-section message of escaped text.
func TextMessage(text string) Message {
	var b blocks
	b.section(text)
	return b.message(text)
}

func dimensionIDs() []string {
	ids := make([]string, len(scoring.Dimensions))
	for i, d := range scoring.Dimensions {
		ids[i] = d.ID
	}
	return ids
}
