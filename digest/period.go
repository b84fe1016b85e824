// Package digest composes the weekly digests — what a team and the organisation are told about
// their readiness over the week — from inputs the caller loads. It does no I/O and reads no
// clock: the scheduler in app/ loads the week's scores, regressions, initiative deadlines and
// expiring exemptions, and bot/ renders the result for Slack.
package digest

import (
	"fmt"
	"time"
)

// Schedule is when a weekly digest goes out: a weekday and an hour in a time zone.
type Schedule struct {
	Day  time.Weekday
	Hour int
	Loc  *time.Location
}

// Slot is one weekly occurrence of a schedule and the week it covers.
type Slot struct {
	// At is when the digest is due; it is also the end of the week covered.
	At time.Time
	// From is the previous slot: the week covered is [From, At). It is seven calendar days
	// in the schedule's zone, so across a daylight-saving change it is 167 or 169 hours.
	From time.Time
	// Period names the week, "2026-W49": the ISO week of At in the schedule's zone. It is
	// the key that makes a digest go out once.
	Period string
}

// Latest returns the most recent slot at or before now.
func (s Schedule) Latest(now time.Time) Slot {
	loc := s.Loc
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	// Days since this week's Monday, and from Monday to the schedule's day (ISO weeks start
	// on Monday; time.Weekday counts Sunday as 0).
	sinceMonday := (int(local.Weekday()) + 6) % 7
	toDay := (int(s.Day) + 6) % 7
	at := time.Date(local.Year(), local.Month(), local.Day()-sinceMonday+toDay, s.Hour, 0, 0, 0, loc)
	if at.After(now) {
		at = time.Date(local.Year(), local.Month(), local.Day()-sinceMonday+toDay-7, s.Hour, 0, 0, 0, loc)
	}
	return s.slotAt(at)
}

// Next returns the first slot after now.
func (s Schedule) Next(now time.Time) Slot {
	l := s.Latest(now).At
	return s.slotAt(time.Date(l.Year(), l.Month(), l.Day()+7, s.Hour, 0, 0, 0, l.Location()))
}

func (s Schedule) slotAt(at time.Time) Slot {
	from := time.Date(at.Year(), at.Month(), at.Day()-7, s.Hour, 0, 0, 0, at.Location())
	y, w := at.ISOWeek()
	return Slot{At: at, From: from, Period: fmt.Sprintf("%04d-W%02d", y, w)}
}

// Due says what to do with the latest slot at now, given how late a digest may still go out:
// post it (late is how long after its slot), or skip it because the slot passed longer ago
// than catchUp (the service was down across it). Periods before the latest are never
// posted: a digest of a week long past tells nobody anything they can act on.
func Due(slot Slot, now time.Time, catchUp time.Duration) (post bool, late time.Duration) {
	late = now.Sub(slot.At)
	return late <= catchUp, late
}
