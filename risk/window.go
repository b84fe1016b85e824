package risk

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// WindowConfig is one entry of gate.windows: the weekly hours in which deploys to an
// environment (optionally only some services or tiers) go out without a human. Outside them
// the gate asks for an approval ("off-hours release needs a human").
type WindowConfig struct {
	Environment string   `yaml:"environment" json:"environment"`
	Services    []string `yaml:"services" json:"services,omitempty"`
	Tiers       []int    `yaml:"tiers" json:"tiers,omitempty"`
	Timezone    string   `yaml:"timezone" json:"timezone"`
	Hours       []string `yaml:"hours" json:"hours"` // "mon-thu 09:00-17:00"
}

// BlackoutConfig is one entry of gate.blackouts: a named period in which deploys are blocked,
// or need a quorum of approvers when AllowOverride is set.
type BlackoutConfig struct {
	Name   string `yaml:"name" json:"name"`
	Reason string `yaml:"reason" json:"reason"`
	// From and To are dates (2026-12-20, To inclusive), times (2026-12-20T18:00, To
	// exclusive) or dates every year (12-20 to 01-04, which may cross the new year).
	From     string `yaml:"from" json:"from"`
	To       string `yaml:"to" json:"to"`
	Timezone string `yaml:"timezone" json:"timezone"`
	// Environments, Services, Tiers narrow it; empty: all.
	Environments  []string `yaml:"environments" json:"environments,omitempty"`
	Services      []string `yaml:"services" json:"services,omitempty"`
	Tiers         []int    `yaml:"tiers" json:"tiers,omitempty"`
	AllowOverride bool     `yaml:"allow_override" json:"allow_override"`
	// Quorum is how many distinct approvers an override needs (default 2).
	Quorum int `yaml:"quorum" json:"quorum"`
}

// Matches reports whether the blackout covers a deploy of service (of tier) to env.
func (b BlackoutConfig) Matches(env, service string, tier int) bool {
	return (len(b.Environments) == 0 || slices.Contains(b.Environments, env)) &&
		(len(b.Services) == 0 || slices.Contains(b.Services, service)) &&
		(len(b.Tiers) == 0 || slices.Contains(b.Tiers, tier))
}

type window struct {
	cfg    WindowConfig
	loc    *time.Location
	weekly Weekly
}

type blackout struct {
	cfg       BlackoutConfig
	loc       *time.Location
	from, to  time.Time // fixed periods
	recurring bool
	rFrom     [2]int // month, day
	rTo       [2]int
}

// Windows is the compiled gate.windows and gate.blackouts.
type Windows struct {
	windows   []window
	blackouts []blackout
}

// CompileWindows checks both lists; each problem names its key (gate.windows[1].hours: ...).
func CompileWindows(ws []WindowConfig, bs []BlackoutConfig) (*Windows, []string) {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, key+": "+fmt.Sprintf(format, args...)) }
	out := &Windows{}
	for i, w := range ws {
		key := fmt.Sprintf("gate.windows[%d]", i)
		if w.Environment == "" {
			add(key+".environment", "required")
		}
		loc, err := loadZone(w.Timezone)
		if err != nil {
			add(key+".timezone", "%v", err)
		}
		weekly, err := ParseWeekly(w.Hours)
		if err != nil {
			add(key+".hours", "%v", err)
		} else if weekly.Empty() {
			add(key+".hours", "no allowed hours: a window that never opens would send every deploy to a human; use a blackout for that")
		}
		for j := 0; j < i; j++ {
			if ws[j].Environment == w.Environment && scopesOverlap(ws[j], w) {
				add(key, "overlaps gate.windows[%d]: both apply to the same environment, services and tiers", j)
				break
			}
		}
		out.windows = append(out.windows, window{cfg: w, loc: loc, weekly: weekly})
	}
	for i, b := range bs {
		key := fmt.Sprintf("gate.blackouts[%d]", i)
		if b.Name == "" {
			add(key+".name", "required")
		}
		if b.Reason == "" {
			add(key+".reason", "required: the gate shows it to whoever is blocked")
		}
		if b.Quorum == 0 {
			b.Quorum = 2
		}
		if b.Quorum < 1 {
			add(key+".quorum", "must be at least 1, got %d", b.Quorum)
		}
		bo, field, err := compileBlackout(b)
		if err != nil {
			add(key+field, "%v", err)
		}
		out.blackouts = append(out.blackouts, bo)
	}
	return out, p
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin)", name)
	}
	return loc, nil
}

// compileBlackout returns the compiled blackout, or the field at fault (".to") and why.
func compileBlackout(b BlackoutConfig) (blackout, string, error) {
	bo := blackout{cfg: b}
	loc, err := loadZone(b.Timezone)
	if err != nil {
		return bo, ".timezone", err
	}
	bo.loc = loc
	if b.From == "" {
		return bo, ".from", fmt.Errorf("required")
	}
	if b.To == "" {
		return bo, ".to", fmt.Errorf("required: a blackout with no end would stop deploys for ever")
	}
	if fm, fd, ok := monthDay(b.From); ok {
		tm, td, ok := monthDay(b.To)
		if !ok {
			return bo, ".to", fmt.Errorf("%q: a yearly blackout (from MM-DD) needs a to of MM-DD too", b.To)
		}
		bo.recurring, bo.rFrom, bo.rTo = true, [2]int{fm, fd}, [2]int{tm, td}
		return bo, "", nil
	}
	if bo.from, err = parseWhen(b.From, loc, false); err != nil {
		return bo, ".from", err
	}
	if bo.to, err = parseWhen(b.To, loc, true); err != nil {
		return bo, ".to", err
	}
	if !bo.to.After(bo.from) {
		return bo, ".to", fmt.Errorf("%s is not after from %s: the period is inverted", b.To, b.From)
	}
	return bo, "", nil
}

func monthDay(s string) (int, int, bool) {
	t, err := time.Parse("01-02", s)
	if err != nil {
		return 0, 0, false
	}
	return int(t.Month()), t.Day(), true
}

// parseWhen reads a date (the whole day: its start, or for an end the next day's start) or
// a local time.
func parseWhen(s string, loc *time.Location, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if end {
			return time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc), nil
		}
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want a date (2026-12-20), a local time (2026-12-20T18:00) or MM-DD every year, got %q", s)
}

// period returns the blackout's period that contains t, if any.
func (b blackout) period(t time.Time) (from, to time.Time, ok bool) {
	if !b.recurring {
		return b.from, b.to, !t.Before(b.from) && t.Before(b.to)
	}
	lt := t.In(b.loc)
	for _, y := range []int{lt.Year() - 1, lt.Year()} {
		from := time.Date(y, time.Month(b.rFrom[0]), b.rFrom[1], 0, 0, 0, 0, b.loc)
		toYear := y
		if b.rTo[0] < b.rFrom[0] || b.rTo[0] == b.rFrom[0] && b.rTo[1] < b.rFrom[1] {
			toYear++ // crosses the new year
		}
		to := time.Date(toYear, time.Month(b.rTo[0]), b.rTo[1]+1, 0, 0, 0, 0, b.loc)
		if !t.Before(from) && t.Before(to) {
			return from, to, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// WindowStatus is the gate's answer about time: may a deploy go out now.
type WindowStatus struct {
	Open bool `json:"open"`
	// Reason says why it is not open, or which window it is open in.
	Reason     string     `json:"reason,omitempty"`
	NextOpenAt *time.Time `json:"next_open_at,omitempty"`
	// Blackout names the blackout in force; Override and Quorum say whether approvers may let
	// the deploy through and how many.
	Blackout string `json:"blackout,omitempty"`
	Override bool   `json:"override_allowed,omitempty"`
	Quorum   int    `json:"quorum,omitempty"`
	// OffHours is set outside the allowed hours (not in a blackout).
	OffHours bool `json:"off_hours,omitempty"`
}

// At says whether a deploy of service (tier) to env may go out at now.
func (w *Windows) At(now time.Time, env, service string, tier int) WindowStatus {
	if w == nil {
		return WindowStatus{Open: true}
	}
	if b, to, ok := w.blackoutAt(now, env, service, tier); ok {
		st := WindowStatus{Blackout: b.cfg.Name, Override: b.cfg.AllowOverride, Reason: fmt.Sprintf("blackout %q until %s: %s", b.cfg.Name,
			to.In(b.loc).Format("2006-01-02 15:04 MST"), b.cfg.Reason)}
		if b.cfg.AllowOverride {
			st.Quorum = b.cfg.Quorum // 2 unless configured (CompileWindows)
		}
		if next, ok := w.nextOpen(now, env, service, tier); ok {
			st.NextOpenAt = &next
		}
		return st
	}
	win := w.windowFor(env, service, tier)
	if win == nil || win.weekly.Contains(now, win.loc) {
		st := WindowStatus{Open: true}
		if win != nil {
			st.Reason = "within the release window " + strings.Join(win.cfg.Hours, ", ") + " (" + win.loc.String() + ")"
		}
		return st
	}
	st := WindowStatus{OffHours: true, Reason: fmt.Sprintf("off-hours release needs a human: %s is outside the release window %s (%s)",
		now.In(win.loc).Format("Mon 15:04 MST"), strings.Join(win.cfg.Hours, ", "), win.loc)}
	if next, ok := w.nextOpen(now, env, service, tier); ok {
		st.NextOpenAt = &next
	}
	return st
}

func (w *Windows) blackoutAt(t time.Time, env, service string, tier int) (blackout, time.Time, bool) {
	for _, b := range w.blackouts {
		if !b.cfg.Matches(env, service, tier) {
			continue
		}
		if _, to, ok := b.period(t); ok {
			return b, to, true
		}
	}
	return blackout{}, time.Time{}, false
}

// windowFor picks the most specific window: one naming the service, then one naming the
// tier, then the environment's.
func (w *Windows) windowFor(env, service string, tier int) *window {
	var best *window
	rank := -1
	for i := range w.windows {
		c := w.windows[i].cfg
		if c.Environment != env {
			continue
		}
		r := 0
		switch {
		case len(c.Services) > 0 && slices.Contains(c.Services, service):
			r = 2
		case len(c.Services) > 0:
			continue
		case len(c.Tiers) > 0 && slices.Contains(c.Tiers, tier):
			r = 1
		case len(c.Tiers) > 0:
			continue
		}
		if r > rank {
			best, rank = &w.windows[i], r
		}
	}
	return best
}

// nextOpen is the first moment after now that is in no blackout and inside the window,
// looking 60 days ahead.
func (w *Windows) nextOpen(now time.Time, env, service string, tier int) (time.Time, bool) {
	t := now
	limit := now.Add(60 * 24 * time.Hour)
	win := w.windowFor(env, service, tier)
	for i := 0; i < 1000 && t.Before(limit); i++ {
		moved := false
		if _, to, ok := w.blackoutAt(t, env, service, tier); ok {
			t, moved = to, true
		}
		if win != nil && !win.weekly.Contains(t, win.loc) {
			next, ok := win.weekly.NextOpen(t, win.loc, limit.Sub(t))
			if !ok {
				return time.Time{}, false
			}
			t, moved = next, true
		}
		if !moved {
			return t, true
		}
	}
	return time.Time{}, false
}

func scopesOverlap(a, b WindowConfig) bool {
	switch {
	case len(a.Services) > 0 || len(b.Services) > 0:
		return len(a.Services) > 0 && len(b.Services) > 0 && slices.ContainsFunc(a.Services, func(s string) bool { return slices.Contains(b.Services, s) })
	case len(a.Tiers) > 0 || len(b.Tiers) > 0:
		return len(a.Tiers) > 0 && len(b.Tiers) > 0 && slices.ContainsFunc(a.Tiers, func(t int) bool { return slices.Contains(b.Tiers, t) })
	}
	return true
}
