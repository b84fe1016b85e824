package scoring

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Formatting for reasons. Reasons are read by people in Slack and the pages; numbers are
// rounded for reading, never for scoring.

// pct formats a share as a whole percentage: 0.833 → "83%".
func pct(share float64) string {
	return strconv.FormatFloat(math.Round(share*100), 'f', -1, 64) + "%"
}

// num formats a number with at most two decimals and no trailing zeros.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// plural returns "1 review" or "2 reviews".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// age formats a duration for people: "45 min", "3.5 h", "12 days".
func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		return num(math.Floor(d.Hours()*10)/10) + " h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

// span formats a configured window: "30 days", "12 h", "90 min".
func span(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d >= 24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day", "days")
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	}
	return strconv.Itoa(int(d/time.Minute)) + " min"
}

// stamp formats a time for reasons: 2026-11-19 08:00 UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// ago says how long before now t was.
func ago(now, t time.Time) string {
	if !t.Before(now) {
		return "just now"
	}
	return age(now.Sub(t)) + " ago"
}

func quoteList(items []string, max int) string {
	q := make([]string, 0, len(items))
	for i, s := range items {
		if i == max {
			q = append(q, fmt.Sprintf("and %d more", len(items)-max))
			break
		}
		q = append(q, strconv.Quote(s))
	}
	return strings.Join(q, ", ")
}
