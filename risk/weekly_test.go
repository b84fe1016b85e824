package risk

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseWeekly(t *testing.T) {
	w, err := ParseWeekly([]string{"mon-fri 09:00-17:00", "sat 10:00-12:00", "sun 00:00-24:00", "mon 17:00-18:30"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Span{{540, 1020}, {1020, 1110}}; !slices.Equal(w[time.Monday], want) {
		t.Errorf("monday %v, want %v (touching ranges are fine, sorted)", w[time.Monday], want)
	}
	if want := []Span{{540, 1020}}; !slices.Equal(w[time.Friday], want) {
		t.Errorf("friday %v", w[time.Friday])
	}
	if want := []Span{{0, 1440}}; !slices.Equal(w[time.Sunday], want) {
		t.Errorf("sunday %v", w[time.Sunday])
	}
	if w.Empty() {
		t.Error("Empty() on a week with hours")
	}
	if !(Weekly{}).Empty() {
		t.Error("Empty() false on no hours")
	}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 6, 8, 8, 59, 0, 0, time.UTC), false}, // Monday
		{time.Date(2026, 6, 8, 9, 0, 0, 0, time.UTC), true},
		{time.Date(2026, 6, 8, 17, 0, 0, 0, time.UTC), true}, // the second range
		{time.Date(2026, 6, 8, 18, 29, 59, 0, time.UTC), true},
		{time.Date(2026, 6, 8, 18, 30, 0, 0, time.UTC), false},
		{time.Date(2026, 6, 12, 17, 0, 0, 0, time.UTC), false}, // Friday
		{time.Date(2026, 6, 13, 11, 59, 0, 0, time.UTC), true}, // Saturday
		{time.Date(2026, 6, 13, 12, 0, 0, 0, time.UTC), false},
		{time.Date(2026, 6, 14, 0, 0, 0, 0, time.UTC), true}, // Sunday all day
		{time.Date(2026, 6, 14, 23, 59, 59, 0, time.UTC), true},
	} {
		if got := w.Contains(c.at, time.UTC); got != c.want {
			t.Errorf("Contains(%s) = %v, want %v", c.at.Format("Mon 15:04:05"), got, c.want)
		}
	}
	// Contains reads the wall clock of the zone.
	ny := mustZone(t, "America/New_York")
	if !w.Contains(time.Date(2026, 6, 8, 13, 0, 0, 0, time.UTC), ny) || w.Contains(time.Date(2026, 6, 8, 12, 59, 0, 0, time.UTC), ny) {
		t.Error("Contains in America/New_York: 13:00 UTC is 09:00 EDT")
	}
}

func TestParseWeeklyRefuses(t *testing.T) {
	for _, c := range []struct {
		name    string
		entries []string
		words   []string
	}{
		{"inverted hours", []string{"mon-fri 17:00-09:00"}, []string{`entry 0 "mon-fri 17:00-09:00"`, "inverted", "split a range over midnight in two"}},
		{"empty hours", []string{"mon 09:00-09:00"}, []string{"inverted or empty"}},
		{"overlap across entries", []string{"mon-fri 09:00-12:00", "wed 11:00-13:00"}, []string{`entry 1 "wed 11:00-13:00" overlaps`, "09:00", "12:00", "Wednesday"}},
		{"overlap inside", []string{"mon 09:00-17:00", "mon 10:00-11:00"}, []string{"overlaps"}},
		{"same range twice", []string{"tue 09:00-10:00", "tue 09:00-10:00"}, []string{"overlaps"}},
		{"a day twice in one entry", []string{"mon,mon 09:00-10:00"}, []string{"overlaps"}},
		{"no hours", []string{"mon-fri"}, []string{"want days and hours"}},
		{"unknown day", []string{"funday 09:00-17:00"}, []string{`unknown day "funday"`}},
		{"inverted day range", []string{"fri-mon 09:00-17:00"}, []string{"day range fri-mon is inverted"}},
		{"not a clock", []string{"mon 9-17"}, []string{"want a time as HH:MM"}},
		{"past midnight", []string{"mon 23:00-24:30"}, []string{"want a time as HH:MM"}},
		{"25 o'clock", []string{"mon 09:00-25:00"}, []string{"want a time as HH:MM"}},
		{"no dash", []string{"mon 09:00"}, []string{"want hours as HH:MM-HH:MM"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseWeekly(c.entries)
			if err == nil {
				t.Fatalf("ParseWeekly(%q) accepted", c.entries)
			}
			wantWords(t, "error", err.Error(), c.words...)
		})
	}
	// sat-sun wraps to Sunday; so does mon-sun.
	for _, e := range []string{"sat-sun 10:00-12:00", "mon-sun 10:00-12:00"} {
		w, err := ParseWeekly([]string{e})
		if err != nil || len(w[time.Sunday]) != 1 || len(w[time.Saturday]) != 1 {
			t.Errorf("%s: %v %v", e, w, err)
		}
	}
}

func TestWeeklyNextOpen(t *testing.T) {
	w, _ := ParseWeekly([]string{"mon-fri 09:00-17:00"})
	fri := time.Date(2026, 6, 12, 18, 0, 0, 0, time.UTC)
	if got, ok := w.NextOpen(fri, time.UTC, 7*24*time.Hour); !ok || !got.Equal(time.Date(2026, 6, 15, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("Friday 18:00: %v %v, want Monday 09:00", got, ok)
	}
	in := time.Date(2026, 6, 12, 12, 0, 0, 0, time.UTC)
	if got, ok := w.NextOpen(in, time.UTC, time.Hour); !ok || !got.Equal(in) {
		t.Errorf("inside: %v %v, want now", got, ok)
	}
	if _, ok := w.NextOpen(fri, time.UTC, 24*time.Hour); ok {
		t.Error("Friday 18:00 with a 24h limit: found an opening")
	}
	if _, ok := (Weekly{}).NextOpen(fri, time.UTC, 30*24*time.Hour); ok {
		t.Error("no hours: found an opening")
	}
	// Early on a business day: the same day's opening.
	early := time.Date(2026, 6, 10, 3, 0, 0, 0, time.UTC)
	if got, _ := w.NextOpen(early, time.UTC, 24*time.Hour); !got.Equal(time.Date(2026, 6, 10, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("Wednesday 03:00: %v", got)
	}
	// A window crossing midnight is two entries: NextOpen at the end of the first continues at 00:00.
	w2, _ := ParseWeekly([]string{"fri 22:00-24:00", "sat 00:00-02:00"})
	if !w2.Contains(time.Date(2026, 6, 13, 0, 30, 0, 0, time.UTC), time.UTC) || !w2.Contains(time.Date(2026, 6, 12, 23, 59, 0, 0, time.UTC), time.UTC) {
		t.Error("fri 22:00-24:00 + sat 00:00-02:00: not open across midnight")
	}
}

func TestWeeklyNextOpenBerlinDST(t *testing.T) {
	berlin := mustZone(t, "Europe/Berlin")
	w, _ := ParseWeekly([]string{"mon-fri 09:00-17:00"})
	for _, c := range []struct {
		name     string
		from     time.Time
		want     time.Time
		wantWall string
	}{
		// Spring: the weekend is 47 hours; Monday 09:00 is 07:00 UTC, not 08:00.
		{"spring", time.Date(2026, 3, 27, 17, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC), "Mon 09:00 CEST"},
		// Autumn: the weekend is 49 hours; Monday 09:00 is 08:00 UTC.
		{"autumn", time.Date(2026, 10, 23, 16, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 8, 0, 0, 0, time.UTC), "Mon 09:00 CET"},
	} {
		got, ok := w.NextOpen(c.from, berlin, 7*24*time.Hour)
		if !ok || !got.Equal(c.want) || got.In(berlin).Format("Mon 15:04 MST") != c.wantWall {
			t.Errorf("%s: %v %v, want %v (%s)", c.name, got, ok, c.want, c.wantWall)
		}
	}
}

func TestSpanClock(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{{"00:00", 0, true}, {"09:30", 570, true}, {"24:00", 1440, true}, {"24:01", 0, false}, {"23:60", 0, false}, {"-1:00", 0, false}, {"nine", 0, false}} {
		got, err := parseClock(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseClock(%q) = %d, %v", c.in, got, err)
		}
	}
	if clock(570) != "09:30" || clock(1440) != "24:00" {
		t.Error("clock")
	}
	if _, err := parseSpan("17:00-09:00"); err == nil || !strings.Contains(err.Error(), "inverted") {
		t.Errorf("parseSpan inverted: %v", err)
	}
}
