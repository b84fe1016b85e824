package initiative

import (
	"slices"
	"time"
)

// Slot is one scheduled reminder.
type Slot struct {
	At time.Time `json:"at"`
	// DaysBefore is the days_before entry the slot is for; 0 for a weekly reminder. A weekly
	// reminder falling on a days_before moment is that one.
	DaysBefore int `json:"days_before,omitempty"`
}

// Key names the slot in outbox keys: one nudge per team and slot, whichever replica sends it.
func (s Slot) Key() string { return s.At.UTC().Format("20060102T1504Z") }

// Slots lists the reminders in (from, to], oldest first: the weekly ones (on Weekday at
// Hour UTC) until the deadline, and one at Hour UTC DaysBefore days before the deadline day.
// No reminder falls before the initiative was created (CreatedAt), nor at or after Due.
func (in *Initiative) Slots(from, to time.Time) []Slot {
	if to.After(in.Due) {
		to = in.Due.Add(-time.Nanosecond)
	}
	if !in.CreatedAt.IsZero() && from.Before(in.CreatedAt) {
		from = in.CreatedAt
	}
	if !to.After(from) {
		return nil
	}
	at := map[time.Time]int{}
	for _, d := range in.DaysBefore {
		t := in.DeadlineDay().Add(time.Duration(-d)*24*time.Hour + time.Duration(in.Hour)*time.Hour)
		if t.After(from) && !t.After(to) {
			at[t] = d
		}
	}
	if in.Weekly {
		day := from.UTC().Truncate(24 * time.Hour)
		for day.Weekday() != in.Weekday {
			day = day.Add(24 * time.Hour)
		}
		for t := day.Add(time.Duration(in.Hour) * time.Hour); !t.After(to); t = t.Add(7 * 24 * time.Hour) {
			if _, dup := at[t]; t.After(from) && !dup {
				at[t] = 0
			}
		}
	}
	out := make([]Slot, 0, len(at))
	for t, d := range at {
		out = append(out, Slot{At: t, DaysBefore: d})
	}
	slices.SortFunc(out, func(a, b Slot) int { return a.At.Compare(b.At) })
	return out
}

// DueSlot is the latest reminder at or before now and after now-grace: the one to send now.
// Older reminders missed while no replica ran are not sent late: the next one will come.
func (in *Initiative) DueSlot(now time.Time, grace time.Duration) (Slot, bool) {
	s := in.Slots(now.Add(-grace), now)
	if len(s) == 0 {
		return Slot{}, false
	}
	return s[len(s)-1], true
}
