package risk

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Span is a part of a day, in minutes after midnight: [Start, End). End 1440 is midnight.
type Span struct{ Start, End int }

// Weekly is a set of allowed hours per weekday, in local time of some zone.
type Weekly [7][]Span // indexed by time.Weekday

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseWeekly reads entries such as "mon-fri 09:00-17:00", "sat 10:00-12:00" or
// "sun 00:00-24:00". A range that ends before it starts (one crossing midnight) is refused:
// write it as two entries, one each side of midnight. Overlapping ranges on one day are
// refused too: they are almost always a typo.
func ParseWeekly(entries []string) (Weekly, error) {
	var w Weekly
	for i, e := range entries {
		days, hours, ok := strings.Cut(strings.TrimSpace(e), " ")
		if !ok {
			return w, fmt.Errorf("entry %d %q: want days and hours, as in \"mon-fri 09:00-17:00\"", i, e)
		}
		ds, err := parseDays(days)
		if err != nil {
			return w, fmt.Errorf("entry %d %q: %w", i, e, err)
		}
		sp, err := parseSpan(strings.TrimSpace(hours))
		if err != nil {
			return w, fmt.Errorf("entry %d %q: %w", i, e, err)
		}
		for _, d := range ds {
			for _, o := range w[d] {
				if sp.Start < o.End && o.Start < sp.End {
					return w, fmt.Errorf("entry %d %q overlaps %s-%s on %s", i, e, clock(o.Start), clock(o.End), d)
				}
			}
			w[d] = append(w[d], sp)
			sort.Slice(w[d], func(i, j int) bool { return w[d][i].Start < w[d][j].Start })
		}
	}
	return w, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, part := range strings.Split(strings.ToLower(s), ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[from]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := dayNames[to]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", to)
		}
		if b < a && !(b == time.Sunday) {
			return nil, fmt.Errorf("day range %s is inverted (the week runs mon to sun)", part)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

func parseSpan(s string) (Span, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Span{}, fmt.Errorf("want hours as HH:MM-HH:MM, got %q", s)
	}
	start, err := parseClock(a)
	if err != nil {
		return Span{}, err
	}
	end, err := parseClock(b)
	if err != nil {
		return Span{}, err
	}
	if end <= start {
		return Span{}, fmt.Errorf("hours %s are inverted or empty: the end must come after the start (split a range over midnight in two)", s)
	}
	return Span{start, end}, nil
}

// parseClock reads HH:MM (24:00 allowed as the end of the day) into minutes.
func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, fmt.Errorf("want a time as HH:MM, got %q", s)
	}
	return hh*60 + mm, nil
}

func clock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// Contains reports whether t (in loc) falls inside the allowed hours.
func (w Weekly) Contains(t time.Time, loc *time.Location) bool {
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range w[lt.Weekday()] {
		if m >= sp.Start && m < sp.End {
			return true
		}
	}
	return false
}

// Empty reports whether no hour of the week is allowed.
func (w Weekly) Empty() bool {
	for _, d := range w {
		if len(d) > 0 {
			return false
		}
	}
	return true
}

// NextOpen returns the first moment at or after t inside the allowed hours (t itself if it is
// inside), searching up to limit ahead; false if there is none. It steps through local wall
// times, so a day of 23 or 25 hours (a DST change) is handled by the zone, not by adding 24 h.
func (w Weekly) NextOpen(t time.Time, loc *time.Location, limit time.Duration) (time.Time, bool) {
	if w.Contains(t, loc) {
		return t, true
	}
	end := t.Add(limit)
	lt := t.In(loc)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, loc)
	for ; !day.After(end); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		next := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
		if _, zoneEnd := day.ZoneBounds(); !zoneEnd.IsZero() && zoneEnd.Before(next) {
			// A DST change today: wall-clock spans do not map one to one onto instants (a start in
			// the gap, an hour twice), so walk the day by minutes and ask Contains.
			c := day
			if c.Before(t) {
				c = t.Truncate(time.Minute).Add(time.Minute) // t itself is not inside
			}
			for ; c.Before(next) && !c.After(end); c = c.Add(time.Minute) {
				if w.Contains(c, loc) {
					return c, true
				}
			}
			continue
		}
		for _, sp := range w[day.Weekday()] {
			start := time.Date(day.Year(), day.Month(), day.Day(), sp.Start/60, sp.Start%60, 0, 0, loc)
			stop := time.Date(day.Year(), day.Month(), day.Day(), sp.End/60, sp.End%60, 0, 0, loc)
			if stop.After(t) && start.Before(end) {
				if start.Before(t) {
					return t, true
				}
				// A start inside a spring-forward gap normalises past it; it is still the opening.
				return start, true
			}
		}
	}
	return time.Time{}, false
}
