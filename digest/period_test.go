package digest

import (
	"testing"
	"time"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	return loc
}

func TestLatestSlotFollowsTheZoneAcrossDaylightSaving(t *testing.T) {
	s := Schedule{Day: time.Monday, Hour: 9, Loc: berlin(t)}
	cases := []struct {
		now         time.Time
		at, from    string
		period      string
		hoursInWeek float64
	}{
		// Summer time: Monday 09:00 in Berlin is 07:00 UTC.
		{time.Date(2026, 10, 19, 7, 0, 0, 0, time.UTC), "2026-10-19T07:00:00Z", "2026-10-12T07:00:00Z", "2026-W43", 168},
		// One second before the slot is still the previous week's.
		{time.Date(2026, 10, 19, 6, 59, 59, 0, time.UTC), "2026-10-12T07:00:00Z", "2026-10-05T07:00:00Z", "2026-W42", 168},
		// Clocks went back on 25 October: the slot stays 09:00 local, 08:00 UTC, and the week
		// it covers is 169 hours long.
		{time.Date(2026, 10, 26, 8, 0, 0, 0, time.UTC), "2026-10-26T08:00:00Z", "2026-10-19T07:00:00Z", "2026-W44", 169},
		{time.Date(2026, 10, 26, 7, 30, 0, 0, time.UTC), "2026-10-19T07:00:00Z", "2026-10-12T07:00:00Z", "2026-W43", 168},
		// Clocks go forward on 28 March 2027: 167 hours.
		{time.Date(2027, 3, 29, 7, 0, 0, 0, time.UTC), "2027-03-29T07:00:00Z", "2027-03-22T08:00:00Z", "2027-W13", 167},
		// Mid-week: the latest slot is this week's Monday.
		{time.Date(2026, 12, 2, 7, 4, 0, 0, time.UTC), "2026-11-30T08:00:00Z", "2026-11-23T08:00:00Z", "2026-W49", 168},
	}
	for _, tc := range cases {
		got := s.Latest(tc.now)
		if got.At.UTC().Format(time.RFC3339) != tc.at || got.From.UTC().Format(time.RFC3339) != tc.from || got.Period != tc.period {
			t.Errorf("Latest(%s) = %s from %s %s, want %s from %s %s", tc.now.Format(time.RFC3339), got.At.UTC().Format(time.RFC3339),
				got.From.UTC().Format(time.RFC3339), got.Period, tc.at, tc.from, tc.period)
		}
		if h := got.At.Sub(got.From).Hours(); h != tc.hoursInWeek {
			t.Errorf("Latest(%s) covers %v hours, want %v", tc.now.Format(time.RFC3339), h, tc.hoursInWeek)
		}
	}
}

// At Monday 00:30 in Berlin it is still Sunday in UTC and still ISO week 48 there: the period is
// the zone's week, so a digest at midnight local is not filed under the week before.
func TestPeriodIsTheWeekInTheZoneNotInUTC(t *testing.T) {
	s := Schedule{Day: time.Monday, Hour: 0, Loc: berlin(t)}
	now := time.Date(2026, 11, 29, 23, 30, 0, 0, time.UTC) // Monday 30 November 00:30 CET
	got := s.Latest(now)
	if got.At.UTC().Format(time.RFC3339) != "2026-11-29T23:00:00Z" || got.Period != "2026-W49" {
		t.Errorf("slot %s %s, want 2026-11-29T23:00:00Z 2026-W49", got.At.UTC().Format(time.RFC3339), got.Period)
	}
	if _, w := now.ISOWeek(); w != 48 {
		t.Fatalf("the case is meant to straddle weeks in UTC, week %d", w)
	}
	// A Sunday slot belongs to the ISO week that began the Monday before; the year boundary
	// follows ISO too (Sunday 3 January 2027 is 2026-W53).
	sun := Schedule{Day: time.Sunday, Hour: 18, Loc: time.UTC}
	if got := sun.Latest(time.Date(2027, 1, 3, 18, 0, 0, 0, time.UTC)); got.Period != "2026-W53" {
		t.Errorf("Sunday 3 January 2027 is in %s, want 2026-W53", got.Period)
	}
	if got := sun.Next(time.Date(2027, 1, 3, 18, 0, 0, 0, time.UTC)); got.Period != "2027-W01" || got.At.Format(time.RFC3339) != "2027-01-10T18:00:00Z" {
		t.Errorf("next = %s %s", got.At.Format(time.RFC3339), got.Period)
	}
}

func TestDueAfterDowntime(t *testing.T) {
	s := Schedule{Day: time.Monday, Hour: 9, Loc: time.UTC}
	slot := s.Latest(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		now  time.Time
		post bool
	}{
		{time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), true},  // exactly the catch-up late
		{time.Date(2026, 12, 1, 9, 0, 1, 0, time.UTC), false}, // past it: the week is skipped
	} {
		if post, _ := Due(slot, tc.now, 24*time.Hour); post != tc.post {
			t.Errorf("Due at %s = %v, want %v", tc.now.Format(time.RFC3339), post, tc.post)
		}
	}
}

// A Sunday 02:00 schedule in Berlin meets both clock changes: the skipped hour goes out at
// 03:00 summer time, the doubled hour at its second occurrence — once each way.
func TestSlotOnAClockChangeHour(t *testing.T) {
	s := Schedule{Day: time.Sunday, Hour: 2, Loc: berlin(t)}
	spring := s.Latest(time.Date(2027, 3, 28, 12, 0, 0, 0, time.UTC))
	if got := spring.At.UTC().Format(time.RFC3339); got != "2027-03-28T01:00:00Z" {
		t.Errorf("spring-forward slot at %s, want 2027-03-28T01:00:00Z (03:00 CEST)", got)
	}
	autumn := s.Latest(time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC))
	if got := autumn.At.UTC().Format(time.RFC3339); got != "2026-10-25T01:00:00Z" {
		t.Errorf("fall-back slot at %s, want 2026-10-25T01:00:00Z (the second 02:00)", got)
	}
	// Between the two 02:00s the latest slot is still the week before's: not posted twice.
	if got := s.Latest(time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)); got.Period != "2026-W42" {
		t.Errorf("at the first 02:00 the slot is %s %s, want last week's", got.At, got.Period)
	}
}
