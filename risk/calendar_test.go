package risk

import (
	"strings"
	"testing"
	"time"
)

func calModel(t *testing.T, cal CalendarConfig) *Model {
	t.Helper()
	c := DefaultConfig()
	c.Calendar = cal
	return mustModel(t, c)
}

func deployTimeAt(t *testing.T, m *Model, now time.Time) Factor {
	t.Helper()
	in := baseInput()
	in.Now = now
	return factorOf(t, m, in, FactorDeployTime)
}

func TestDeployTimeUTC(t *testing.T) {
	m := calModel(t, CalendarConfig{FridayAfternoonFrom: "14:00",
		Holidays: []string{"2026-06-17 Company day", "2026-06-18", "12-25 Christmas"}})
	at := func(y int, mo time.Month, d, h, min int) time.Time {
		return time.Date(y, mo, d, h, min, 0, 0, time.UTC)
	}
	for _, c := range []struct {
		name  string
		now   time.Time
		want  float64
		words []string
	}{
		{"business hours", at(2026, 6, 10, 11, 0), 0, []string{"Wed 11:00 UTC is within business hours"}},
		{"opening minute", at(2026, 6, 10, 9, 0), 0, []string{"within business hours"}},
		{"just before opening", at(2026, 6, 10, 8, 59), 0.7, []string{"Wed 08:59 UTC is outside business hours (09:00-17:00)"}},
		{"last minute", at(2026, 6, 10, 16, 59), 0, []string{"within business hours"}},
		{"closing minute", at(2026, 6, 10, 17, 0), 0.7, []string{"outside business hours (09:00-17:00)"}},
		{"night", at(2026, 6, 10, 3, 0), 0.7, []string{"outside business hours"}},
		{"saturday", at(2026, 6, 13, 11, 0), 1, []string{"Sat 11:00 UTC is outside the business week", "few people are around"}},
		{"sunday night", at(2026, 6, 14, 23, 59), 1, []string{"Sun 23:59 UTC is outside the business week"}},
		{"monday opening", at(2026, 6, 15, 9, 0), 0, []string{"within business hours"}},
		{"dated holiday", at(2026, 6, 17, 11, 0), 1, []string{"Wed 11:00 UTC is Company day", "few people are around"}},
		{"dated holiday, unnamed", at(2026, 6, 18, 11, 0), 1, []string{"Thu 11:00 UTC is a holiday"}},
		{"dated holiday, off hours", at(2026, 6, 17, 20, 0), 1, []string{"is Company day"}},
		{"recurring holiday", at(2026, 12, 25, 10, 0), 1, []string{"Fri 10:00 UTC is Christmas"}},
		{"recurring holiday next year, on a saturday (the holiday is named)", at(2027, 12, 25, 10, 0), 1, []string{"Sat 10:00 UTC is Christmas"}},
		{"the day after a recurring holiday", at(2026, 12, 28, 10, 0), 0, []string{"within business hours"}},
		{"friday morning", at(2026, 6, 12, 11, 0), 0, []string{"within business hours"}},
		{"friday just before the afternoon", at(2026, 6, 12, 13, 59), 0, []string{"within business hours"}},
		{"friday afternoon starts", at(2026, 6, 12, 14, 0), 0.6, []string{"Fri 14:00 UTC is the last afternoon before the weekend", "what breaks waits"}},
		{"friday afternoon, last minute", at(2026, 6, 12, 16, 59), 0.6, []string{"last afternoon before the weekend"}},
		{"friday evening is off hours", at(2026, 6, 12, 17, 0), 0.7, []string{"outside business hours"}},
		{"thursday afternoon (friday is a business day)", at(2026, 6, 11, 15, 0), 0, []string{"within business hours"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := deployTimeAt(t, m, c.now)
			if f.Value != c.want || f.Unknown {
				t.Errorf("value %v unknown %v, want %v", f.Value, f.Unknown, c.want)
			}
			wantWords(t, "reason", f.Reason, c.words...)
		})
	}
}

func TestDeployTimeValuesAreConfig(t *testing.T) {
	c := DefaultConfig()
	c.OffHours, c.Weekend, c.Holiday, c.FridayAfternoon = 0.1, 0.2, 0.3, 0.4
	c.Calendar = CalendarConfig{FridayAfternoonFrom: "15:30", Holidays: []string{"06-17"}}
	m := mustModel(t, c)
	for _, x := range []struct {
		now  time.Time
		want float64
	}{
		{time.Date(2026, 6, 10, 20, 0, 0, 0, time.UTC), 0.1},
		{time.Date(2026, 6, 13, 12, 0, 0, 0, time.UTC), 0.2},
		{time.Date(2026, 6, 17, 12, 0, 0, 0, time.UTC), 0.3},
		{time.Date(2026, 6, 12, 15, 29, 0, 0, time.UTC), 0},
		{time.Date(2026, 6, 12, 15, 30, 0, 0, time.UTC), 0.4},
	} {
		if f := deployTimeAt(t, m, x.now); f.Value != x.want {
			t.Errorf("%s: value %v, want %v (%s)", x.now, f.Value, x.want, f.Reason)
		}
	}
}

func TestDeployTimeBerlin(t *testing.T) {
	m := calModel(t, CalendarConfig{Timezone: "Europe/Berlin", FridayAfternoonFrom: "14:00", Holidays: []string{"12-25 Christmas"}})
	u := func(mo time.Month, d, h, min int) time.Time { return time.Date(2026, mo, d, h, min, 0, 0, time.UTC) }
	for _, c := range []struct {
		name  string
		now   time.Time
		want  float64
		local string
	}{
		// Winter: CET is UTC+1.
		{"winter monday, 08:00 UTC is 09:00 CET", u(3, 23, 8, 0), 0, "Mon 09:00 CET"},
		{"winter monday, 07:59 UTC is 08:59 CET", u(3, 23, 7, 59), 0.7, "Mon 08:59 CET"},
		{"winter monday, 15:59 UTC is 16:59 CET", u(3, 23, 15, 59), 0, "Mon 16:59 CET"},
		{"winter monday, 16:00 UTC is 17:00 CET", u(3, 23, 16, 0), 0.7, "Mon 17:00 CET"},
		// The spring change, Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
		{"spring DST day, before the jump", u(3, 29, 0, 59), 1, "Sun 01:59 CET"},
		{"spring DST day, after the jump", u(3, 29, 1, 0), 1, "Sun 03:00 CEST"},
		{"spring DST day, midday", u(3, 29, 10, 0), 1, "Sun 12:00 CEST"},
		// Summer: CEST is UTC+2, so 07:00 UTC is now the opening.
		{"first summer monday, 07:00 UTC is 09:00 CEST", u(3, 30, 7, 0), 0, "Mon 09:00 CEST"},
		{"first summer monday, 06:59 UTC is 08:59 CEST", u(3, 30, 6, 59), 0.7, "Mon 08:59 CEST"},
		{"first summer monday, 14:59 UTC is 16:59 CEST", u(3, 30, 14, 59), 0, "Mon 16:59 CEST"},
		{"first summer monday, 15:00 UTC is 17:00 CEST", u(3, 30, 15, 0), 0.7, "Mon 17:00 CEST"},
		{"summer friday, 11:59 UTC is 13:59 CEST", u(10, 23, 11, 59), 0, "Fri 13:59 CEST"},
		{"summer friday, 12:00 UTC is 14:00 CEST", u(10, 23, 12, 0), 0.6, "Fri 14:00 CEST"},
		// The autumn change, Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
		{"autumn DST day, first 02:30", u(10, 25, 0, 30), 1, "Sun 02:30 CEST"},
		{"autumn DST day, second 02:30", u(10, 25, 1, 30), 1, "Sun 02:30 CET"},
		{"first winter monday, 07:59 UTC is 08:59 CET", u(10, 26, 7, 59), 0.7, "Mon 08:59 CET"},
		{"first winter monday, 08:00 UTC is 09:00 CET", u(10, 26, 8, 0), 0, "Mon 09:00 CET"},
		{"winter friday, 12:59 UTC is 13:59 CET", u(10, 30, 12, 59), 0, "Fri 13:59 CET"},
		{"winter friday, 13:00 UTC is 14:00 CET", u(10, 30, 13, 0), 0.6, "Fri 14:00 CET"},
		// Holidays are local dates: 23:30 UTC on the 24th is already Christmas in Berlin.
		{"christmas starts at local midnight", u(12, 24, 23, 30), 1, "Fri 00:30 CET"},
		{"23:00 UTC on the 24th is local midnight of the 25th", u(12, 24, 23, 0), 1, "Fri 00:00 CET"},
		{"christmas eve 22:59 UTC is the 24th in Berlin too", u(12, 24, 22, 59), 0.7, "Thu 23:59 CET"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := deployTimeAt(t, m, c.now)
			if f.Value != c.want {
				t.Errorf("value %v, want %v (%s)", f.Value, c.want, f.Reason)
			}
			if !strings.HasPrefix(f.Reason, c.local+" ") {
				t.Errorf("reason %q: want it to start with the local time %q", f.Reason, c.local)
			}
		})
	}
	if f := deployTimeAt(t, m, u(12, 24, 23, 30)); !strings.Contains(f.Reason, "Christmas") {
		t.Errorf("reason %q: want Christmas", f.Reason)
	}
}

func TestCalendarBusinessDays(t *testing.T) {
	// A sun-thu week: Thursday afternoon is the last before the weekend, Friday is the weekend.
	cal, err := CompileCalendar(CalendarConfig{BusinessDays: []string{"sun-thu"}, FridayAfternoonFrom: "14:00", BusinessHours: "08:00-16:00"})
	if err != nil {
		t.Fatal(err)
	}
	thu := time.Date(2026, 6, 11, 14, 0, 0, 0, time.UTC)
	if mo := cal.At(thu); !mo.Business || !mo.FridayAfternoon || mo.Weekend {
		t.Errorf("sun-thu week, Thursday 14:00: %+v, want business and the last afternoon", mo)
	}
	if mo := cal.At(thu.Add(24 * time.Hour)); !mo.Weekend || mo.Business {
		t.Errorf("sun-thu week, Friday: %+v, want the weekend", mo)
	}
	if mo := cal.At(time.Date(2026, 6, 14, 8, 0, 0, 0, time.UTC)); !mo.Business || mo.FridayAfternoon {
		t.Errorf("sun-thu week, Sunday 08:00: %+v, want business", mo)
	}
	if mo := cal.At(time.Date(2026, 6, 14, 7, 59, 0, 0, time.UTC)); mo.Business {
		t.Errorf("business hours 08:00-16:00, Sunday 07:59: %+v, want off hours", mo)
	}
	if h := cal.Hours(); h != (Span{8 * 60, 16 * 60}) {
		t.Errorf("Hours() = %v", h)
	}
	// A list and a weekend range.
	cal, err = CompileCalendar(CalendarConfig{BusinessDays: []string{"mon,wed", "sat-sun"}})
	if err != nil {
		t.Fatal(err)
	}
	for wd, want := range map[time.Weekday]bool{time.Monday: true, time.Tuesday: false, time.Wednesday: true, time.Thursday: false,
		time.Friday: false, time.Saturday: true, time.Sunday: true} {
		day := time.Date(2026, 6, 7+int(wd), 10, 0, 0, 0, time.UTC) // 2026-06-07 is a Sunday
		if day.Weekday() != wd {
			t.Fatalf("bad test date %s", day)
		}
		if mo := cal.At(day); mo.Business != want {
			t.Errorf("mon,wed + sat-sun: %s business %v, want %v", wd, mo.Business, want)
		}
	}
	if _, err := CompileCalendar(CalendarConfig{BusinessDays: []string{"fri-mon"}}); err == nil || !strings.HasPrefix(err.Error(), "business_days:") {
		t.Errorf("fri-mon: %v, want business_days: inverted", err)
	}
	if _, err := CompileCalendar(CalendarConfig{FridayAfternoonFrom: "2pm"}); err == nil || !strings.HasPrefix(err.Error(), "friday_afternoon_from:") {
		t.Errorf("2pm: %v, want friday_afternoon_from:", err)
	}
	if loc := mustModel(t, DefaultConfig()).Calendar().Location(); loc != time.UTC {
		t.Errorf("default zone %v, want UTC", loc)
	}
}

// BUG: CalendarConfig.FridayAfternoonFrom documents "default 14:00", but CompileCalendar leaves
// the Friday-afternoon check off when it is empty, and DefaultConfig sets no calendar: under the
// documented defaults the friday_afternoon value (0.6) can never apply.
func TestFridayAfternoonDefault(t *testing.T) {
	m := mustModel(t, DefaultConfig())
	f := deployTimeAt(t, m, time.Date(2026, 6, 12, 15, 0, 0, 0, time.UTC)) // Friday 15:00 UTC
	if f.Value != DefaultConfig().FridayAfternoon {
		t.Errorf("default config, Friday 15:00: value %v (%q), want friday_afternoon %v: the documented default friday_afternoon_from is 14:00",
			f.Value, f.Reason, DefaultConfig().FridayAfternoon)
	}
}

// BUG: lastBusinessDay documents "whether the next business day after lt's is more than a day
// away", but it only checks the weekday, not the holidays: the Thursday before a Friday holiday
// (Good Friday 2026-04-03) is the last business day before a long weekend and is not flagged.
func TestLastAfternoonBeforeAHolidayWeekend(t *testing.T) {
	cal, err := CompileCalendar(CalendarConfig{FridayAfternoonFrom: "14:00", Holidays: []string{"2026-04-03 Good Friday"}})
	if err != nil {
		t.Fatal(err)
	}
	thu := time.Date(2026, 4, 2, 15, 0, 0, 0, time.UTC)
	if mo := cal.At(thu); !mo.FridayAfternoon {
		t.Errorf("Thursday 2026-04-02 15:00 before the Good Friday holiday: %+v, want FridayAfternoon (the next business day is Monday)", mo)
	}
	// The morning is not the afternoon, holiday or not.
	if mo := cal.At(thu.Add(-3 * time.Hour)); mo.FridayAfternoon {
		t.Errorf("Thursday 12:00: %+v, want no FridayAfternoon", mo)
	}
}
