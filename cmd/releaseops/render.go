package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/releaseops/releaseops/scoring"
)

const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiAmber = "\x1b[33m"
	ansiGreen = "\x1b[32m"
	ansiDim   = "\x1b[2m"
)

// renderScorecard prints a scorecard for a person: bars and colour on a terminal, plain text
// otherwise (pipes, CI logs).
func renderScorecard(w io.Writer, c *scoring.Scorecard, color bool) {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	bandColor := map[string]string{"blocked": ansiRed, "watch": ansiAmber, "healthy": ansiGreen, "mature": ansiGreen}
	arrow := map[string]string{"up": "↑", "down": "↓", "flat": "→"}[c.Trend.Direction]
	fmt.Fprintf(w, "%s  %s  %s  level %s  trend %s %+.1f over %dd\n",
		paint(ansiBold, c.Service), paint(ansiBold, fmt.Sprintf("%.1f", c.Score)), paint(bandColor[c.Band], strings.ToUpper(c.Band)),
		c.Level, arrow, c.Trend.Delta, c.Trend.WindowDays)
	fmt.Fprintf(w, "updated %s\n", c.UpdatedAt.Format("2006-01-02 15:04:05 UTC"))
	for _, sc := range c.FailingSyncs() {
		fmt.Fprintln(w, paint(ansiRed, "⚠ "+scoring.SyncSummary(sc)))
	}
	for _, fa := range c.FloorsApplied {
		fmt.Fprintf(w, "%s\n", paint(ansiRed, fmt.Sprintf("floor: %s scored %.2f, below its floor %.2f: band capped at %s", fa.Dimension, fa.Score, fa.Min, fa.Cap)))
	}
	fmt.Fprintln(w)
	for _, d := range c.Dimensions {
		if !d.Applicable {
			fmt.Fprintf(w, "  %-26s %s  n/a  %s\n", d.Name, strings.Repeat(" ", 20), paint(ansiDim, d.Reason))
			continue
		}
		filled := int(d.Score*20 + 0.5)
		bar := strings.Repeat("█", filled) + strings.Repeat("░", 20-filled)
		col := ansiGreen
		switch {
		case d.Score < 0.6:
			col = ansiRed
		case d.Score < 0.75:
			col = ansiAmber
		}
		note := ""
		if d.NoData {
			note = "  no data"
		}
		fmt.Fprintf(w, "  %-26s %s %4.0f%%%s\n", d.Name, paint(col, bar), d.Score*100, note)
		for _, s := range d.Signals {
			if s.Outcome == scoring.OutcomePass || s.Outcome == scoring.OutcomeNotApplicable {
				continue
			}
			mark := map[scoring.Outcome]string{scoring.OutcomeFail: "✗", scoring.OutcomePartial: "◐", scoring.OutcomeNoData: "?", scoring.OutcomeWaived: "w", scoring.OutcomeUpcoming: "…"}[s.Outcome]
			fmt.Fprintf(w, "      %s %-32s %s\n", mark, s.ID, s.Reason)
			for _, e := range s.Evidence {
				fmt.Fprintf(w, "          %s\n", paint(ansiDim, "evidence: "+e.Describe()))
			}
		}
		if d.Score < 0.75 {
			fmt.Fprintf(w, "      playbook: %s\n", d.Playbook)
		}
	}
	fmt.Fprintln(w)
	dora := c.DORA
	fmt.Fprintf(w, "DORA (%dd): %d production deploys, %.1f/week", dora.WindowDays, dora.Deploys, dora.DeploysPerWeek)
	if dora.ChangeFailureRate != nil {
		fmt.Fprintf(w, ", change failure rate %.0f%%", *dora.ChangeFailureRate*100)
	}
	if dora.LeadTimeHours != nil {
		fmt.Fprintf(w, ", lead time %.1fh", *dora.LeadTimeHours)
	}
	if dora.MTTRHours != nil {
		fmt.Fprintf(w, ", MTTR %.1fh", *dora.MTTRHours)
	}
	fmt.Fprintln(w)
}
