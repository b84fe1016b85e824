// Package initiative is how a platform team moves many services to one target by a date: an
// initiative selects services (owner, tier, names), says what they must reach (a signal
// passing, a dimension at or above a value, a level at or above), and by when. It judges
// scorecards against the target, sums progress per owning team, replays history into a
// burn-up and says when the teams are to be reminded. It is pure: callers bring the cards,
// the catalog and the clock.
package initiative

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/nearest"
	"github.com/releaseops/releaseops/scoring"
)

// Spec is an initiative as written in config `initiatives:` or posted to the API. It holds
// plain values only (the config loader walks its yaml tags); Compile checks and parses it.
type Spec struct {
	ID        string    `yaml:"id" json:"id"`
	Name      string    `yaml:"name" json:"name"`
	Filter    Filter    `yaml:"filter" json:"filter"`
	Target    Target    `yaml:"target" json:"target"`
	Deadline  string    `yaml:"deadline" json:"deadline"`      // YYYY-MM-DD: due by the end of that day, UTC
	Start     string    `yaml:"start" json:"start,omitempty"`  // YYYY-MM-DD: where the burn-up begins
	Reminders Reminders `yaml:"reminders" json:"reminders"`    // when owning teams are nudged in Slack
	CreatedBy string    `yaml:"-" json:"created_by,omitempty"` // who created it at run time (the API token)
	Source    string    `yaml:"-" json:"source,omitempty"`     // config or api
	CreatedAt time.Time `yaml:"-" json:"created_at,omitzero"`  // when it was created at run time
}

// Filter selects the services an initiative covers. Every set field must match; an empty
// filter covers every service.
type Filter struct {
	Owner    string   `yaml:"owner" json:"owner,omitempty"`
	Tier     *int     `yaml:"tier" json:"tier,omitempty"`
	Services []string `yaml:"services" json:"services,omitempty"`
}

// Target is what a covered service must reach: exactly one of Signal, Dimension (with Min)
// or Level.
type Target struct {
	// Signal is a built-in signal id or a custom dimension rule id; it must pass (a live
	// waiver counts, as it does in the score).
	Signal string `yaml:"signal" json:"signal,omitempty"`
	// Dimension is a dimension id that must score at least Min (0–1, as floors are written).
	Dimension string  `yaml:"dimension" json:"dimension,omitempty"`
	Min       float64 `yaml:"min" json:"min,omitempty"`
	// Level is bronze, silver or gold: the service's level must be at least this.
	Level string `yaml:"level" json:"level,omitempty"`
}

// Reminders is the nudge schedule. Nil fields take the defaults: weekly on Monday at 09:00
// UTC, and 7 days and 1 day before the deadline.
type Reminders struct {
	Weekly     *bool  `yaml:"weekly" json:"weekly,omitempty"`
	Weekday    string `yaml:"weekday" json:"weekday,omitempty"`
	Hour       *int   `yaml:"hour" json:"hour,omitempty"`               // UTC hour of every reminder
	DaysBefore []int  `yaml:"days_before" json:"days_before,omitempty"` // an empty list: none
}

// Defaults of the reminder schedule.
const (
	DefaultWeekday = time.Monday
	DefaultHour    = 9
)

// DefaultDaysBefore are the reminders before the deadline when the spec names none.
var DefaultDaysBefore = []int{7, 1}

// Kinds of target.
const (
	TargetSignal    = "signal"
	TargetDimension = "dimension"
	TargetLevel     = "level"
)

// Initiative is a checked Spec.
type Initiative struct {
	Spec
	// Kind is TargetSignal, TargetDimension or TargetLevel.
	Kind string
	// Due is the end of the deadline day (UTC): at and after it the initiative is overdue.
	Due time.Time
	// Begin is the first day of the burn-up (zero: the caller picks, see BurnUpDays).
	Begin      time.Time
	Weekly     bool
	Weekday    time.Weekday
	Hour       int
	DaysBefore []int
}

// DeadlineDay is the deadline day itself (00:00 UTC).
func (in *Initiative) DeadlineDay() time.Time { return in.Due.Add(-24 * time.Hour) }

// Overdue reports whether the deadline has passed at now.
func (in *Initiative) Overdue(now time.Time) bool { return !now.Before(in.Due) }

// Known is what a target may name: the scoring engine's signals (built-in and custom
// dimension rules) and dimensions; levels are scoring.LevelOrder.
type Known struct {
	Signals map[string]string // id → dimension id
}

// KnownFrom lists the built-in signals and the custom dimension rules of cfg.
func KnownFrom(cfg scoring.Config) Known {
	k := Known{Signals: map[string]string{}}
	for _, d := range scoring.Registry() {
		k.Signals[d.ID] = d.Dimension
	}
	for _, r := range cfg.Rules {
		if r.Dimension != "" && r.ID != "" {
			k.Signals[r.ID] = r.Dimension
		}
	}
	return k
}

// Problem is one thing wrong with a spec: Path is the field ("target.signal"), relative to
// the spec, so config and the API can each prefix their own path.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// IDPattern is what an initiative id looks like: it is part of URLs and outbox keys.
var IDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

const dateLayout = "2006-01-02"

// ParseDate reads YYYY-MM-DD as 00:00 UTC of that day.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(dateLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date YYYY-MM-DD, got %q", s)
	}
	return t.UTC(), nil
}

// Compile checks s against what the engine knows. It returns every problem at once; the
// initiative is usable only when there are none. A deadline in the past is not a problem
// here: config loads it as overdue (with a warning), the API refuses it (see PastDeadline).
func Compile(s Spec, k Known) (*Initiative, []Problem) {
	var ps []Problem
	add := func(path, format string, args ...any) { ps = append(ps, Problem{path, fmt.Sprintf(format, args...)}) }
	in := &Initiative{Spec: s}
	if !IDPattern.MatchString(s.ID) {
		add("id", "want lower-case letters, digits, '_' or '-' (at most 63, starting with a letter or digit), got %q", s.ID)
	}
	if strings.TrimSpace(s.Name) == "" {
		add("name", "required: what the teams are asked to do, in a few words")
	} else if len(s.Name) > 200 || strings.ContainsFunc(s.Name, isControl) {
		add("name", "at most 200 characters and no control characters")
	}
	if s.Filter.Tier != nil && (*s.Filter.Tier < 0 || *s.Filter.Tier > 5) {
		add("filter.tier", "must be between 0 and 5, got %d", *s.Filter.Tier)
	}
	for i, name := range s.Filter.Services {
		if strings.TrimSpace(name) == "" {
			add(fmt.Sprintf("filter.services[%d]", i), "empty service name")
		}
	}

	set := 0
	t := s.Target
	if t.Signal != "" {
		set++
		in.Kind = TargetSignal
		if _, ok := k.Signals[t.Signal]; !ok {
			add("target.signal", "unknown signal %q%s", t.Signal, suggest(t.Signal, mapKeys(k.Signals)))
		}
	}
	if t.Dimension != "" {
		set++
		in.Kind = TargetDimension
		if _, ok := scoring.DimensionByID(t.Dimension); !ok {
			add("target.dimension", "unknown dimension %q%s", t.Dimension, suggest(t.Dimension, dimensionIDs()))
		}
		if t.Min <= 0 || t.Min > 1 {
			add("target.min", "the dimension score to reach, in (0, 1] as floors are written (0.8 for 80%%), got %v", t.Min)
		}
	} else if t.Min != 0 {
		add("target.min", "only meaningful with target.dimension")
	}
	if t.Level != "" {
		set++
		in.Kind = TargetLevel
		if !slices.Contains(scoring.LevelOrder, t.Level) {
			add("target.level", "unknown level %q; levels are bronze, silver and gold", t.Level)
		}
	}
	switch {
	case set == 0:
		add("target", "required: one of signal, dimension (with min) or level")
	case set > 1:
		add("target", "name one of signal, dimension or level, not several")
	}

	if s.Deadline == "" {
		add("deadline", "required: the date (YYYY-MM-DD) by which the services must meet the target")
	} else if d, err := ParseDate(s.Deadline); err != nil {
		add("deadline", "%v", err)
	} else {
		in.Due = d.Add(24 * time.Hour)
	}
	if s.Start != "" {
		if d, err := ParseDate(s.Start); err != nil {
			add("start", "%v", err)
		} else if !in.Due.IsZero() && !d.Before(in.Due) {
			add("start", "must be before the deadline %s, got %s", s.Deadline, s.Start)
		} else {
			in.Begin = d
		}
	}

	r := s.Reminders
	in.Weekly, in.Weekday, in.Hour, in.DaysBefore = true, DefaultWeekday, DefaultHour, DefaultDaysBefore
	if r.Weekly != nil {
		in.Weekly = *r.Weekly
	}
	if r.Weekday != "" {
		wd, ok := weekdays[strings.ToLower(r.Weekday)]
		if !ok {
			add("reminders.weekday", "want a day of the week (monday … sunday), got %q", r.Weekday)
		}
		in.Weekday = wd
	}
	if r.Hour != nil {
		if *r.Hour < 0 || *r.Hour > 23 {
			add("reminders.hour", "want an hour of the day, 0 to 23 (UTC), got %d", *r.Hour)
		}
		in.Hour = *r.Hour
	}
	if r.DaysBefore != nil {
		in.DaysBefore = nil
		for i, d := range r.DaysBefore {
			if d < 1 || d > 365 {
				add(fmt.Sprintf("reminders.days_before[%d]", i), "want a number of days from 1 to 365, got %d", d)
				continue
			}
			if !slices.Contains(in.DaysBefore, d) {
				in.DaysBefore = append(in.DaysBefore, d)
			}
		}
		slices.Sort(in.DaysBefore)
		slices.Reverse(in.DaysBefore)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return in, nil
}

// PastDeadline is the problem with a deadline that has already passed at now, or nil: the API
// refuses such an initiative; config keeps it and warns.
func PastDeadline(in *Initiative, now time.Time) *Problem {
	if in.Overdue(now) {
		return &Problem{"deadline", fmt.Sprintf("%s has already passed (today is %s, UTC)", in.Spec.Deadline, now.UTC().Format(dateLayout))}
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// Matches reports whether the initiative covers svc.
func (in *Initiative) Matches(svc releaseops.Service) bool {
	f := in.Filter
	if f.Owner != "" && !strings.EqualFold(f.Owner, svc.Owner) {
		return false
	}
	if f.Tier != nil && *f.Tier != svc.Tier {
		return false
	}
	if len(f.Services) > 0 && !slices.Contains(f.Services, svc.Name) {
		return false
	}
	return true
}

// Covered returns the services the initiative covers, by name.
func (in *Initiative) Covered(services []releaseops.Service) []releaseops.Service {
	var out []releaseops.Service
	for _, s := range services {
		if in.Matches(s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b releaseops.Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TargetText says the target in words: "signal oncall_configured passing".
func (in *Initiative) TargetText() string {
	switch in.Kind {
	case TargetSignal:
		if name, ok := signalNames[in.Target.Signal]; ok {
			return name + " (" + in.Target.Signal + ") passing"
		}
		return in.Target.Signal + " passing"
	case TargetDimension:
		name := in.Target.Dimension
		if d, ok := scoring.DimensionByID(name); ok {
			name = d.Name
		}
		return fmt.Sprintf("%s at least %s%%", name, trimFloat(in.Target.Min*100))
	case TargetLevel:
		return "level " + in.Target.Level + " or above"
	}
	return ""
}

// signalNames are the built-in signals' names, for the target in words.
var signalNames = func() map[string]string {
	m := map[string]string{}
	for _, d := range scoring.Registry() {
		m[d.ID] = d.Name
	}
	return m
}()

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

func suggest(s string, known []string) string { return nearest.Suggest(s, known) }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func mapKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func dimensionIDs() []string {
	out := make([]string, len(scoring.Dimensions))
	for i, d := range scoring.Dimensions {
		out[i] = d.ID
	}
	return out
}
