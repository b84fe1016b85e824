package risk_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/risk"
)

// slxUpdate reports whether golden files are to be rewritten: -update (the package's flag,
// in the same test binary) or RELEASEOPS_UPDATE_GOLDEN=1.
func slxUpdate() bool {
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
		return true
	}
	return os.Getenv("RELEASEOPS_UPDATE_GOLDEN") == "1"
}

func slxModel(t *testing.T, tz string) *risk.Model {
	t.Helper()
	c := risk.DefaultConfig()
	c.Calendar = risk.CalendarConfig{Timezone: tz, FridayAfternoonFrom: "14:00", Holidays: []string{"2026-12-25 Christmas Day"}}
	m, p := risk.Compile(c)
	if len(p) > 0 {
		t.Fatalf("Compile: %v", p)
	}
	return m
}

func slxWindows(t *testing.T, ws []risk.WindowConfig, bs []risk.BlackoutConfig) *risk.Windows {
	t.Helper()
	w, p := risk.CompileWindows(ws, bs)
	if len(p) > 0 {
		t.Fatalf("CompileWindows: %v", p)
	}
	return w
}

// slxHistory is a fixed synthetic history, in UTC: the service deploys on weekday mornings
// and has failed on Mondays at 09:00; the organisation deploys mostly on weekdays 10:00-15:00
// and fails more often at 16:00.
func slxHistory(m *risk.Model) (own, org risk.HourHistory) {
	base := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC) // a Monday
	var ownD, orgD []risk.Deploy
	for week := 0; week < 8; week++ {
		for day := 0; day < 5; day++ {
			d := base.AddDate(0, 0, 7*week+day)
			ownD = append(ownD, risk.Deploy{At: d.Add(9 * time.Hour), Failed: day == 0 && week%2 == 0})
			ownD = append(ownD, risk.Deploy{At: d.Add(11 * time.Hour)})
			for h := 10; h <= 16; h++ {
				for k := 0; k < 3; k++ {
					orgD = append(orgD, risk.Deploy{At: d.Add(time.Duration(h) * time.Hour), Failed: h == 16 && k < 2 || h == 13 && k == 0 && week%4 == 0})
				}
			}
		}
	}
	own = m.CountHours(ownD)
	org = m.CountHours(orgD)
	org.Merge(&own)
	return own, org
}

func TestSlotsGolden(t *testing.T) {
	m := slxModel(t, "UTC")
	own, org := slxHistory(m)
	win := slxWindows(t, []risk.WindowConfig{{Environment: "production", Hours: []string{"mon-thu 09:00-17:00", "fri 09:00-12:00"}}},
		[]risk.BlackoutConfig{{Name: "quarter-end", Reason: "finance closes the books", From: "2026-11-26T12:00", To: "2026-11-26T15:00", AllowOverride: true}})
	in := risk.SlotInput{Service: "checkout", Environment: "production", Now: time.Date(2026, 11, 25, 7, 20, 0, 0, time.UTC), Hours: 30,
		Own: own, Org: org, Windows: win,
		OnCall: &risk.OnCall{Covered: true, Who: "alice", Until: time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)}}
	got := m.Slots(in)
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", "slots.golden.json")
	if slxUpdate() {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with RELEASEOPS_UPDATE_GOLDEN=1 to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("slots differ from %s (RELEASEOPS_UPDATE_GOLDEN=1 to accept):\n%s", path, b)
	}
	// The same input ranks the same way.
	again, _ := json.MarshalIndent(m.Slots(in), "", "  ")
	if !bytes.Equal(append(again, '\n'), b) {
		t.Fatal("Slots is not deterministic")
	}
	// The best slot is an open, in-window weekday hour the history favours, and the ranking
	// never puts a lower score above a higher one among open slots.
	if best := got[0]; !best.Open || best.NeedsHuman || best.Start.Weekday() != time.Wednesday && best.Start.Weekday() != time.Thursday {
		t.Errorf("best slot = %+v", best)
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if a.Open == b.Open && (a.Score < b.Score || a.Score == b.Score && !a.Start.Before(b.Start)) {
			t.Errorf("slots %d and %d out of order: %v %v / %v %v", i-1, i, a.Start, a.Score, b.Start, b.Score)
		}
	}
}

func TestSlotsBlackoutHoursAreClosedAndLast(t *testing.T) {
	m := slxModel(t, "UTC")
	own, org := slxHistory(m)
	win := slxWindows(t, nil, []risk.BlackoutConfig{
		{Name: "freeze", Reason: "the big launch", From: "2026-11-25T10:00", To: "2026-11-25T13:30"},
		{Name: "other-env", Reason: "staging only", From: "2026-11-25", To: "2026-11-25", Environments: []string{"staging"}},
	})
	got := m.Slots(risk.SlotInput{Service: "checkout", Environment: "production", Now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), Hours: 12,
		Own: own, Org: org, Windows: win})
	if len(got) != 12 {
		t.Fatalf("%d slots, want 12", len(got))
	}
	closed := map[int]bool{}
	for i, s := range got {
		if s.Open {
			if len(closed) > 0 {
				t.Errorf("open slot %v ranked after a closed one", s.Start)
			}
			continue
		}
		closed[s.Start.Hour()] = true
		if s.Score != 0 || len(s.Reasons) != 1 || !strings.Contains(s.Reasons[0], `blackout "freeze"`) || !strings.Contains(s.Reasons[0], "the big launch") ||
			!strings.Contains(s.Reasons[0], "next open Wed 2026-11-25 13:30 UTC") {
			t.Errorf("closed slot %d: %+v", i, s)
		}
	}
	// 10:00, 11:00, 12:00 are inside; 13:00-14:00 is closed too, the freeze lasting into it.
	for _, h := range []int{10, 11, 12, 13} {
		if !closed[h] {
			t.Errorf("%02d:00 not closed: %v", h, closed)
		}
	}
	if len(closed) != 4 {
		t.Errorf("closed hours = %v, want 10-13", closed)
	}
	// Closed slots keep time order among themselves.
	var last time.Time
	for _, s := range got[len(got)-4:] {
		if !s.Start.After(last) {
			t.Errorf("closed slots out of time order at %v", s.Start)
		}
		last = s.Start
	}
}

// Across the fall-back night in Berlin (2026-10-25, 03:00 CEST → 02:00 CET) every real hour
// is one slot: 02:00 appears twice, told apart by the zone, and none is missing; across the
// spring-forward night (2026-03-29) the missing 02:00 is not invented.
func TestSlotsAcrossDSTInBerlin(t *testing.T) {
	m := slxModel(t, "Europe/Berlin")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		name     string
		now      time.Time
		twoAM    int
		hoursDay int // local hours on the Sunday
	}{
		{"fall back", time.Date(2026, 10, 24, 12, 34, 0, 0, berlin), 2, 25},
		{"spring forward", time.Date(2026, 3, 28, 12, 34, 0, 0, berlin), 0, 23},
	} {
		got := m.Slots(risk.SlotInput{Service: "s", Environment: "production", Now: c.now, Hours: 72})
		if len(got) != 72 {
			t.Fatalf("%s: %d slots", c.name, len(got))
		}
		starts := map[time.Time]bool{}
		locals := map[string]bool{}
		first := got[0].Start
		for _, s := range got {
			if starts[s.Start] || locals[s.Local] {
				t.Errorf("%s: duplicate slot %v %s", c.name, s.Start, s.Local)
			}
			starts[s.Start], locals[s.Local] = true, true
			if s.End.Sub(s.Start) != time.Hour {
				t.Errorf("%s: slot %v is %v long", c.name, s.Start, s.End.Sub(s.Start))
			}
			if s.Start.Before(first) {
				first = s.Start
			}
		}
		if want := time.Date(c.now.Year(), c.now.Month(), c.now.Day(), 13, 0, 0, 0, berlin); !first.Equal(want) {
			t.Errorf("%s: first slot %v, want %v (now rounded up to the hour)", c.name, first, want)
		}
		for i := 0; i < 72; i++ {
			if !starts[first.Add(time.Duration(i)*time.Hour)] {
				t.Errorf("%s: hour %d after %v missing", c.name, i, first)
			}
		}
		twoAM, sunday := 0, 0
		for l := range locals {
			if strings.HasPrefix(l, "Sun") && strings.Contains(l, " 02:00 ") {
				twoAM++
			}
			if strings.HasPrefix(l, "Sun") {
				sunday++
			}
		}
		if twoAM != c.twoAM || sunday != c.hoursDay {
			t.Errorf("%s: %d slots at Sunday 02:00 (want %d), %d on Sunday (want %d)", c.name, twoAM, c.twoAM, sunday, c.hoursDay)
		}
	}
}

// A service with few deploys at an hour leans on the organisation's rate there; one with
// many, on its own.
func TestSlotsBlendOwnWithOrganisation(t *testing.T) {
	m := slxModel(t, "UTC")
	tue10 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	deploys := func(n, failed int) []risk.Deploy {
		var ds []risk.Deploy
		for i := 0; i < n; i++ {
			ds = append(ds, risk.Deploy{At: tue10.AddDate(0, 0, -7*(i+1)), Failed: i < failed})
		}
		return ds
	}
	org := m.CountHours(deploys(200, 10)) // 95% at Tuesdays 10:00
	score := func(own risk.HourHistory) float64 {
		s := m.Slots(risk.SlotInput{Service: "s", Environment: "production", Now: tue10, Hours: 1, Own: own, Org: org,
			OnCall: &risk.OnCall{Covered: true, Who: "bob"}})
		return s[0].Score
	}
	few := score(m.CountHours(deploys(2, 1)))     // 1 of 2 failed
	many := score(m.CountHours(deploys(100, 50))) // 50 of 100 failed
	none := score(risk.HourHistory{})
	if !(none > few && few > 0.8 && many < 0.6) {
		t.Errorf("none %.3f, few %.3f, many %.3f: few deploys should lean on the organisation's 95%%, many on their own 50%%", none, few, many)
	}
	// (1 + 10·org) / (2 + 10) with org = (190 + 10·(191/202)) / 210
	orgAll := 191.0 / 202
	orgCell := (190 + 10*orgAll) / 210
	if want := (1 + 10*orgCell) / 12; slxAbs(few-want) > 0.0006 {
		t.Errorf("few = %.4f, want %.4f", few, want)
	}
}

func slxAbs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// Slots start on the zone's whole hours, also where the offset is not whole hours.
func TestSlotsStartOnLocalHours(t *testing.T) {
	m := slxModel(t, "Asia/Kolkata")
	got := m.Slots(risk.SlotInput{Service: "s", Now: time.Date(2026, 11, 25, 10, 10, 0, 0, time.UTC), Hours: 3})
	want := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC) // 16:00 IST
	earliest := got[0].Start
	for _, s := range got {
		if s.Start.Before(earliest) {
			earliest = s.Start
		}
	}
	if !earliest.Equal(want) {
		t.Errorf("first slot %v, want %v", earliest, want)
	}
	exact := m.Slots(risk.SlotInput{Service: "s", Now: want, Hours: 1})
	if !exact[0].Start.Equal(want) {
		t.Errorf("now on the hour: first slot %v, want %v", exact[0].Start, want)
	}
}
