package bot

import (
	"fmt"
	"sort"
	"strings"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
)

// CardView says how to show a scorecard: for which environment's thresholds, and where the
// web pages live.
type CardView struct {
	// Env is the environment asked for ("" for the stored band).
	Env string
	// Band is the band under Env's thresholds; "" keeps the card's own.
	Band string
	// PublicURL is the base of links to the web pages.
	PublicURL string
	// Trust is the service's place on the trust ladder (production deploys); nil leaves the
	// line out: release risk is off, or the gate could not be asked.
	Trust *risk.Ladder
	// Exemptions offers a "Request an exemption" menu on the weakest signals.
	Exemptions bool
}

const weakestSignals = 5

// ScorecardMessage renders /readiness <service>: composite, band, level, trend, the nine
// dimensions with a bar each, and the weakest signals with their reasons and playbooks.
func ScorecardMessage(card *scoring.Scorecard, v CardView) Message {
	band := card.Band
	if v.Band != "" {
		band = v.Band
	}
	var b blocks
	b.header(fmt.Sprintf("%s %s — %s", bandEmoji(band), card.Service, num1(card.Score)))
	summary := fmt.Sprintf("*Score* %s / 100 · *Band* %s · *Level* %s · *Trend* %s",
		num1(card.Score), Escape(band), Escape(levelOrNone(card.Level)), trendText(card.Trend))
	if v.Env != "" {
		summary += " · *Environment* " + Escape(v.Env)
	}
	if v.Trust != nil {
		summary += "\n" + TrustLine(v.Trust)
	}
	b.section(summary)
	failing := card.FailingSyncs()
	b.context(syncWarnings(failing)...)
	fields := make([]string, 0, len(card.Dimensions))
	for _, d := range card.Dimensions {
		fields = append(fields, fmt.Sprintf("*%s*\n%s", Escape(d.Name), dimensionBar(d)))
	}
	b.fields(fields)
	weak := WeakestSignals(card, weakestSignals)
	if len(weak) > 0 {
		b.divider()
		lines := []string{"*Weakest signals*"}
		for _, w := range weak {
			lines = append(lines, fmt.Sprintf("• *%s* — %s: %s %s", Escape(w.Dimension.Name), Escape(w.Signal.Name),
				Escape(w.Signal.Reason), Link(w.Dimension.Playbook, "playbook")))
		}
		b.section(strings.Join(lines, "\n"))
		if v.Exemptions {
			if offer := exemptOfferBlock(card.Service, weak); offer != nil {
				b.add(offer)
			}
		}
	}
	upcomingSection(&b, card)
	b.context(updatedText(card), Link(serviceURL(v.PublicURL, card.Service), "Open in ReleaseOps"),
		fmt.Sprintf("`/readiness why %s <dimension>` for the evidence", Escape(card.Service)))

	fallback := fmt.Sprintf("%s: %s (%s, %s), trend %s", Escape(card.Service), num1(card.Score), Escape(band),
		Escape(levelOrNone(card.Level)), trendText(card.Trend))
	if len(weak) > 0 {
		var names []string
		for _, w := range weak {
			names = append(names, Escape(w.Signal.Name))
		}
		fallback += "; weakest: " + strings.Join(names, ", ")
	}
	if len(failing) > 0 {
		fallback += "; " + plural(len(failing), "sync failing", "syncs failing")
	}
	return b.message(fallback)
}

// syncWarnings is one context element per failing sync: a branch state resting on it stops
// counting once it is stale, and the reason on the signal is one click further than this.
func syncWarnings(failing []releaseops.SyncCoverage) []string {
	var out []string
	for i, c := range failing {
		if i == maxContextElts-1 && len(failing) > maxContextElts {
			out = append(out, fmt.Sprintf("⚠ and %d more failing syncs", len(failing)-i))
			break
		}
		out = append(out, "⚠ "+OneLine(scoring.SyncSummary(c)))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// Weak is a signal that holds a service back, with its dimension.
type Weak struct {
	Dimension scoring.DimensionScore
	Signal    scoring.SignalResult
}

// WeakestSignals returns up to n signals of applicable dimensions that are not fully met,
// lowest score first; among equals, heavier weight first, then SPEC dimension order.
func WeakestSignals(card *scoring.Scorecard, n int) []Weak {
	var out []Weak
	for _, d := range card.Dimensions {
		if !d.Applicable {
			continue
		}
		for _, s := range d.Signals {
			switch s.Outcome {
			case scoring.OutcomeFail, scoring.OutcomePartial, scoring.OutcomeNoData:
				out = append(out, Weak{Dimension: d, Signal: s})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Signal.Score != out[j].Signal.Score {
			return out[i].Signal.Score < out[j].Signal.Score
		}
		return out[i].Signal.Weight > out[j].Signal.Weight
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// dimensionBar is a ten-cell bar with the percentage, or why there is none.
func dimensionBar(d scoring.DimensionScore) string {
	if !d.Applicable {
		return "`··········` n/a"
	}
	cells := int(d.Score*10 + 0.5)
	cells = max(0, min(10, cells))
	bar := "`" + strings.Repeat("█", cells) + strings.Repeat("░", 10-cells) + "` " + pct(d.Score)
	if d.NoData {
		bar += " · no data"
	}
	return bar
}

func bandEmoji(band string) string {
	switch band {
	case scoring.BandMature:
		return "🔵"
	case scoring.BandHealthy:
		return "🟢"
	case scoring.BandWatch:
		return "🟡"
	case scoring.BandBlocked:
		return "🔴"
	}
	return "⚪"
}

func trendText(t scoring.Trend) string {
	arrow := "→"
	switch t.Direction {
	case scoring.TrendUp:
		arrow = "↑"
	case scoring.TrendDown:
		arrow = "↓"
	}
	if t.WindowDays == 0 {
		return arrow + " " + signed(t.Delta)
	}
	return fmt.Sprintf("%s %s in %d d", arrow, signed(t.Delta), t.WindowDays)
}

func levelOrNone(l string) string {
	if l == "" {
		return "none"
	}
	return l
}

func updatedText(card *scoring.Scorecard) string {
	if card.UpdatedAt.IsZero() {
		return ""
	}
	return "Updated " + card.UpdatedAt.UTC().Format("2006-01-02 15:04 UTC")
}

func serviceURL(publicURL, service string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimSuffix(publicURL, "/") + "/services/" + pathEscape(service)
}

func num1(v float64) string { return fmt.Sprintf("%.1f", v) }

func signed(v float64) string {
	if v > 0 {
		return fmt.Sprintf("+%.1f", v)
	}
	if v == 0 {
		return "±0"
	}
	return fmt.Sprintf("%.1f", v)
}

func pct(share float64) string { return fmt.Sprintf("%.0f%%", share*100) }
