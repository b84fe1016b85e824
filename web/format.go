package web

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
)

// funcs format values the same way on every page. They are pure: anything that depends on
// the clock is computed by the handler into the view.
var funcs = template.FuncMap{
	"composite":    composite,
	"dim":          dimScore,
	"delta":        delta,
	"arrow":        arrow,
	"bandClass":    bandClass,
	"levelClass":   levelClass,
	"heat":         heatClass,
	"outcome":      outcomeLabel,
	"ts":           timestamp,
	"serviceURL":   serviceURL,
	"eventURL":     eventURL,
	"playbookURL":  playbookURL,
	"bar":          barWidth,
	"hours":        hours,
	"share":        share,
	"num":          num,
	"outcomeClass": outcomeClass,
	"sourceTitle":  releaseops.SourceTitle,
	"unit":         func(score float64) float64 { return score / 100 },
	"add":          func(a, b int) int { return a + b },
	"sub":          func(a, b int) int { return a - b },
	"half":         func(a int) int { return a / 2 },
}

func composite(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// dimScore rounds half away from zero first (0.625 → "0.63"), as a reader would, rather than
// to the nearest binary value.
func dimScore(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', 2, 64) }

// delta shows a trend change with its sign, so "+6.1" and "-3.0" read at a glance.
func delta(f float64) string {
	switch s := composite(f); {
	case s == "0.0" || s == "-0.0":
		return "0.0"
	case f > 0:
		return "+" + s
	default:
		return s
	}
}

func arrow(direction string) string {
	switch direction {
	case scoring.TrendUp:
		return "↑"
	case scoring.TrendDown:
		return "↓"
	}
	return "→"
}

// bandClass maps a band to its CSS class; anything unexpected gets a neutral class rather
// than a class name built from stored data.
func bandClass(band string) string {
	if scoring.BandRank(band) < 0 {
		return "band-unknown"
	}
	return "band-" + band
}

func levelClass(level string) string {
	switch level {
	case scoring.LevelBronze, scoring.LevelSilver, scoring.LevelGold:
		return "level-" + level
	}
	return "level-none"
}

// heatClass buckets a 0–1 score into six colour steps: five fifths, and 1.0 on its own so
// "fully met" stands out from "nearly".
func heatClass(score float64) string {
	switch {
	case score >= 1:
		return "h5"
	case score >= 0.8:
		return "h4"
	case score >= 0.6:
		return "h3"
	case score >= 0.4:
		return "h2"
	case score >= 0.2:
		return "h1"
	}
	return "h0"
}

func outcomeLabel(o scoring.Outcome) string {
	switch o {
	case scoring.OutcomeNoData:
		return "no data"
	case scoring.OutcomeNotApplicable:
		return "n/a"
	case "":
		return "unknown"
	}
	return string(o)
}

// outcomeClass is the CSS class of an outcome, from a fixed set.
func outcomeClass(o scoring.Outcome) string {
	switch o {
	case scoring.OutcomePass, scoring.OutcomePartial, scoring.OutcomeFail, scoring.OutcomeWaived:
		return string(o)
	case scoring.OutcomeNoData:
		return "nodata"
	case scoring.OutcomeNotApplicable, scoring.OutcomeUpcoming:
		return "na"
	}
	return "unknown"
}

// timestamp shows times in UTC, as stored, to the minute.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func serviceURL(name string) string { return "/services/" + url.PathEscape(name) }

func eventURL(source, delivery string) string {
	return "/events/" + url.PathEscape(source) + "/" + url.PathEscape(delivery)
}

func playbookURL(id string) string { return "/playbooks/" + url.PathEscape(id) }

// barWidth is a 0–1 score as a width on the 0–100 scale of the bar SVGs, clamped.
func barWidth(score float64) string {
	return strconv.FormatFloat(math.Round(min(max(score, 0), 1)*1000)/10, 'f', -1, 64)
}

func hours(h *float64) string {
	if h == nil {
		return "—"
	}
	if *h < 1 {
		return strconv.FormatFloat(*h*60, 'f', 0, 64) + " min"
	}
	return strconv.FormatFloat(*h, 'f', 1, 64) + " h"
}

func share(f *float64) string {
	if f == nil {
		return "—"
	}
	return strconv.FormatFloat(*f*100, 'f', 0, 64) + " %"
}

// num prints a float without trailing zeros (a weight of 1 is "1", not "1.000000").
func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// ago says how long before now t was, in the largest whole unit.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}
