package bot

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/releaseops/releaseops/digest"
)

// digestLines bounds each list of a digest, so one team with a hundred services still gets a
// digest that fits a section (and a screen); the rest is counted.
const digestLines = 15

// TeamDigestMessage renders a team's weekly digest: the week's score and band changes, the
// regressions recorded, and — where this installation has them — initiative deadlines and
// exemptions coming up.
func TeamDigestMessage(d digest.Team, publicURL string) Message {
	var b blocks
	// The owner is free text from the catalog: it goes in mrkdwn, escaped, not in the header.
	b.header(fmt.Sprintf("Weekly readiness digest (%s)", d.Slot.Period))
	scored := len(d.Moved) + len(d.Steady)
	summary := fmt.Sprintf("*%s* · %s · %s", Escape(d.Owner), digestCount(scored+len(d.Unscored), "service"), digestWeekSpan(d.Slot))
	if m := digestMeanLine(d.MeanBefore, d.MeanAfter); m != "" {
		summary += " · " + m
	}
	b.section(summary)

	var lines []string
	for i, c := range d.Moved {
		if i == digestLines {
			lines = append(lines, fmt.Sprintf("• and %d more", len(d.Moved)-i))
			break
		}
		lines = append(lines, "• "+digestChangeLine(c, publicURL))
	}
	if len(lines) == 0 {
		b.section("*Changes this week*\nNo service's score or band moved this week.")
	} else {
		b.section("*Changes this week*\n" + strings.Join(lines, "\n"))
	}
	if len(d.Steady) > 0 {
		var names []string
		for i, c := range d.Steady {
			if i == digestLines {
				names = append(names, fmt.Sprintf("and %d more", len(d.Steady)-i))
				break
			}
			names = append(names, fmt.Sprintf("%s %s (%s)", Escape(c.Service), num1(c.After.Score), Escape(c.After.Band)))
		}
		b.section("*Unchanged*: " + strings.Join(names, ", "))
	}
	if len(d.Unscored) > 0 {
		b.section("*Not scored yet*: " + strings.Join(digestEscapeAll(digestCapNames(d.Unscored)), ", ") + " (no event or sync has reached them)")
	}

	if len(d.Regressions) > 0 {
		lines = lines[:0]
		for i, r := range d.Regressions {
			if i == digestLines {
				lines = append(lines, fmt.Sprintf("• and %d more", len(d.Regressions)-i))
				break
			}
			line := fmt.Sprintf("• %s %s → %s", Link(serviceURL(publicURL, r.Service), r.Service), num1(r.From), num1(r.To))
			if r.FromBand != r.ToBand && r.ToBand != "" {
				line += fmt.Sprintf(" (%s → %s)", Escape(r.FromBand), Escape(r.ToBand))
			}
			lines = append(lines, line+", "+r.At.In(d.Slot.At.Location()).Format("Mon 2 Jan 15:04"))
		}
		b.section(fmt.Sprintf("*New regressions (%d)*\n", len(d.Regressions)) + strings.Join(lines, "\n"))
	}
	if d.Deadlines != nil {
		if len(d.Deadlines) == 0 {
			b.section(fmt.Sprintf("*Initiative deadlines*\nNothing due in the next %d days that this team still has to do.", int(digest.DeadlineHorizon.Hours()/24)))
		} else {
			lines = lines[:0]
			for _, dl := range d.Deadlines {
				lines = append(lines, fmt.Sprintf("• *%s* due %s: %s still to do", Escape(dl.Initiative), digestDue(dl.Day, dl.Deadline, d.Slot),
					strings.Join(digestEscapeAll(digestCapNames(dl.Remaining)), ", ")))
			}
			b.section("*Initiative deadlines*\n" + strings.Join(lines, "\n"))
		}
	}
	if len(d.Exemptions) > 0 { // nothing expiring is not news: no section
		lines = lines[:0]
		for i, e := range d.Exemptions {
			if i == digestLines {
				lines = append(lines, fmt.Sprintf("• and %d more", len(d.Exemptions)-i))
				break
			}
			line := fmt.Sprintf("• %s · *%s* expires %s (%s)", Link(serviceURL(publicURL, e.Service), e.Service), Escape(e.Signal), digestWhen(e.Expires, d.Slot), digestInDays(e.Expires, d.Slot))
			if e.Reason != "" {
				line += ": " + OneLine(e.Reason)
			}
			lines = append(lines, line)
		}
		b.section("*Exemptions expiring*\n" + strings.Join(lines, "\n"))
	}
	b.context("`"+Escape("/readiness <service>")+"` for a scorecard", "`/readiness worst` for the lowest scores")

	fallback := fmt.Sprintf("Weekly readiness digest for %s (%s): %s moved, %s", Escape(d.Owner), d.Slot.Period,
		digestCount(len(d.Moved), "service"), digestCount(len(d.Regressions), "new regression"))
	return b.message(fallback)
}

// OrgDigestMessage renders the organisation's weekly digest: how many services are in each
// band, the biggest movers each way and, where this installation has them, initiatives'
// progress.
func OrgDigestMessage(d digest.Org, publicURL string) Message {
	var b blocks
	b.header(fmt.Sprintf("Weekly readiness digest: all services (%s)", d.Slot.Period))
	summary := fmt.Sprintf("%s · %s", digestCount(d.Services, "service"), digestWeekSpan(d.Slot))
	if m := digestMeanLine(d.MeanBefore, d.MeanAfter); m != "" {
		summary += " · " + m
	}
	if d.Unscored > 0 {
		summary += fmt.Sprintf(" · %d not scored yet", d.Unscored)
	}
	b.section(summary)
	var fields []string
	for _, bc := range d.Bands {
		f := fmt.Sprintf("*%s*\n%d", Escape(bc.Band), bc.After)
		if bc.After != bc.Before {
			f += fmt.Sprintf(" (%s, was %d)", digestSignedInt(bc.After-bc.Before), bc.Before)
		}
		fields = append(fields, f)
	}
	b.fields(fields)
	movers := func(title string, cs []digest.Change) {
		if len(cs) == 0 {
			b.section(fmt.Sprintf("*%s*\nNone this week.", title))
			return
		}
		var lines []string
		for _, c := range cs {
			lines = append(lines, "• "+digestChangeLine(c, publicURL))
		}
		b.section(fmt.Sprintf("*%s*\n", title) + strings.Join(lines, "\n"))
	}
	movers("Biggest rises", d.Up)
	movers("Biggest falls", d.Down)
	if d.Initiatives != nil {
		if len(d.Initiatives) == 0 {
			b.section("*Initiatives*\nNo initiative is running.")
		} else {
			var lines []string
			for i, p := range d.Initiatives {
				if i == digestLines {
					lines = append(lines, fmt.Sprintf("• and %d more", len(d.Initiatives)-i))
					break
				}
				line := fmt.Sprintf("• *%s* %d of %d services (%s)", Escape(p.Initiative), p.Done, p.Total, digestShare(p.Done, p.Total))
				if p.DoneWeekAgo >= 0 && p.DoneWeekAgo != p.Done {
					line += fmt.Sprintf(", %s this week", digestSignedInt(p.Done-p.DoneWeekAgo))
				}
				if !p.Deadline.IsZero() {
					line += " · due " + digestDue(p.Day, p.Deadline, d.Slot)
				}
				lines = append(lines, line)
			}
			b.section("*Initiatives*\n" + strings.Join(lines, "\n"))
		}
	}
	b.context(Link(strings.TrimSuffix(publicURL, "/")+"/", "All services in ReleaseOps"), "`/readiness worst` for the lowest scores")
	fallback := fmt.Sprintf("Weekly readiness digest (%s): %s, %d rose, %d fell", d.Slot.Period, digestCount(d.Services, "service"), len(d.Up), len(d.Down))
	return b.message(fallback)
}

// digestChangeLine is one service's week: "checkout 82.0 (healthy) → 64.5 (watch) · -17.5".
func digestChangeLine(c digest.Change, publicURL string) string {
	name := Link(serviceURL(publicURL, c.Service), c.Service)
	switch {
	case c.Before == nil && c.After != nil:
		return fmt.Sprintf("%s first scored: %s (%s)", name, num1(c.After.Score), Escape(c.After.Band))
	case c.After == nil:
		return fmt.Sprintf("%s has no score any more", name)
	case c.BandChanged():
		arrow := "rose"
		if c.Delta < 0 || c.Delta == 0 && c.After.Score < c.Before.Score {
			arrow = "fell"
		}
		return fmt.Sprintf("%s %s (%s) → %s (%s) · %s · %s to %s", name, num1(c.Before.Score), Escape(c.Before.Band), num1(c.After.Score),
			Escape(c.After.Band), signed(c.Delta), arrow, Escape(c.After.Band))
	}
	return fmt.Sprintf("%s %s → %s (%s) · %s", name, num1(c.Before.Score), num1(c.After.Score), Escape(c.After.Band), signed(c.Delta))
}

func digestMeanLine(before, after *float64) string {
	switch {
	case after == nil:
		return ""
	case before == nil:
		return "mean " + num1(*after)
	}
	return fmt.Sprintf("mean %s → %s (%s)", num1(*before), num1(*after), signed(math.Round((*after-*before)*10)/10))
}

// digestWeekSpan is the week covered, in the schedule's zone: "Mon 23 Nov 09:00 → Mon 30 Nov 09:00 CET".
func digestWeekSpan(s digest.Slot) string {
	return s.From.Format("Mon 2 Jan 15:04") + " → " + s.At.Format("Mon 2 Jan 15:04 MST")
}

func digestDay(t time.Time, s digest.Slot) string {
	return t.In(s.At.Location()).Format("Mon 2 Jan 2006")
}

// digestDue is a deadline with how far off it is: "Thu 10 Dec 2026 (in 10 days)". A deadline
// written as a date is shown as that date, not converted to the digest's zone (where a
// midnight UTC could fall on the day before).
func digestDue(day string, due time.Time, s digest.Slot) string {
	if d, err := time.Parse(time.DateOnly, day); err == nil {
		return d.Format("Mon 2 Jan 2006") + " (" + digestDaysUntil(d, s) + ")"
	}
	return digestDay(due, s) + " (" + digestInDays(due, s) + ")"
}

// digestWhen is an instant in the schedule's zone, with the hour: a waiver written as a date
// lapses at the end of that day in UTC, which is already the next day east of UTC.
func digestWhen(t time.Time, s digest.Slot) string {
	return t.In(s.At.Location()).Format("Mon 2 Jan 15:04 MST")
}

// digestInDays counts calendar days in the schedule's zone from the slot to t, as people
// count them: something due on Saturday is "in 5 days" on Monday whatever its hour.
func digestInDays(t time.Time, s digest.Slot) string {
	local := t.In(s.At.Location())
	return digestDaysUntil(time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC), s)
}

// digestDaysUntil counts days from the slot's local date to date (midnight UTC of a day).
func digestDaysUntil(date time.Time, s digest.Slot) string {
	a := s.At.In(s.At.Location())
	n := int(math.Round(date.Sub(time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)).Hours() / 24))
	switch {
	case n == 0:
		return "today"
	case n == 1:
		return "in 1 day"
	case n < 0:
		return fmt.Sprintf("%d days ago", -n)
	}
	return fmt.Sprintf("in %d days", n)
}

func digestCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func digestSignedInt(n int) string {
	if n > 0 {
		return fmt.Sprintf("+%d", n)
	}
	return fmt.Sprintf("%d", n)
}

func digestShare(done, total int) string {
	if total == 0 {
		return "no services"
	}
	return fmt.Sprintf("%.0f%%", float64(done)*100/float64(total))
}

func digestCapNames(names []string) []string {
	if len(names) <= digestLines {
		return names
	}
	return append(names[:digestLines:digestLines], fmt.Sprintf("and %d more", len(names)-digestLines))
}

func digestEscapeAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = Escape(v)
	}
	return out
}
