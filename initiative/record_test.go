package initiative

import (
	"testing"
	"time"
)

func TestRecordDayWithinGraceOnly(t *testing.T) {
	in := compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2027-01-15", Start: "2026-11-20"})
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 12, 2, 0, 0, 30, 0, time.UTC), "2026-12-01"},
		{time.Date(2026, 12, 2, 0, 59, 0, 0, time.UTC), "2026-12-01"},
		{time.Date(2026, 12, 2, 1, 0, 1, 0, time.UTC), ""},   // past the grace: replayed instead
		{time.Date(2026, 11, 20, 0, 0, 30, 0, time.UTC), ""}, // 11-19 is before the start
	} {
		end, ok := in.RecordDay(tc.now, time.Hour)
		if got := map[bool]string{true: Day(end), false: ""}[ok]; got != tc.want || ok && !end.Equal(EndOfDay(end)) {
			t.Errorf("RecordDay(%s) = %s %v, want %q", tc.now.Format(time.RFC3339), Day(end), ok, tc.want)
		}
	}
}

// The burn-up is the stored points of the past days, in order, then today's live one; a day
// without a stored point is left out and counted, never filled in.
func TestBurnUpOfStoredPointsAndLive(t *testing.T) {
	in := compile(t, Spec{ID: "x", Name: "X", Target: Target{Level: "bronze"}, Deadline: "2027-01-15", Start: "2026-11-28"})
	stored := map[string]Point{
		"2026-11-28": {Day: "2026-11-28", At: EndOfDay(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)), Done: 1, Total: 4, Source: SourceReplayed},
		"2026-11-30": {Day: "2026-11-30", At: time.Date(2026, 12, 1, 0, 0, 30, 0, time.UTC), Done: 2, Total: 4, Source: SourceRecorded},
		"2026-12-01": {Day: "2026-12-01", At: time.Date(2026, 12, 2, 0, 0, 30, 0, time.UTC), Done: 3, Total: 4, Source: SourceRecorded},
		"2026-11-01": {Day: "2026-11-01", Done: 9, Total: 9}, // outside the span
	}
	live := Report{At: t0, Done: 4, Total: 5}
	points, missing := in.BurnUpOf(t0, stored, live)
	if missing != 1 || len(points) != 4 {
		t.Fatalf("points %+v, missing %d; want 4 points and 2026-11-29 missing", points, missing)
	}
	want := []string{"2026-11-28", "2026-11-30", "2026-12-01", "2026-12-02"}
	for i, p := range points {
		if p.Day != want[i] {
			t.Errorf("point %d is %s, want %s", i, p.Day, want[i])
		}
	}
	if last := points[3]; last.Source != SourceLive || last.Done != 4 || last.Total != 5 || !last.At.Equal(t0) {
		t.Errorf("today's point = %+v", last)
	}
}

// The fingerprint changes with what the points count (filter, target), not with the rest.
func TestFingerprintFollowsFilterAndTarget(t *testing.T) {
	base := Spec{ID: "x", Name: "X", Target: Target{Signal: "structured_logging"}, Deadline: "2027-01-15"}
	fp := compile(t, base).Fingerprint()
	renamed := base
	renamed.Name, renamed.Deadline = "Another name", "2027-03-01"
	if compile(t, renamed).Fingerprint() != fp {
		t.Error("renaming or moving the deadline changed the fingerprint")
	}
	owner := base
	owner.Filter.Owner = "team-payments"
	level := base
	level.Target = Target{Level: "silver"}
	if compile(t, owner).Fingerprint() == fp || compile(t, level).Fingerprint() == fp {
		t.Error("another filter or target kept the fingerprint")
	}
}
