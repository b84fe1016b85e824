package risk

import (
	"fmt"
	"strings"
	"time"
)

// CalendarConfig is the organisation's business calendar: when people are at work to watch a
// deploy and fix it.
type CalendarConfig struct {
	// Timezone is an IANA zone name (Europe/Berlin); default UTC.
	Timezone string `yaml:"timezone" json:"timezone"`
	// BusinessHours is the working day, HH:MM-HH:MM (default 09:00-17:00).
	BusinessHours string `yaml:"business_hours" json:"business_hours"`
	// BusinessDays default mon..fri.
	BusinessDays []string `yaml:"business_days" json:"business_days"`
	// FridayAfternoonFrom starts the last stretch before a weekend (default 14:00; "" off).
	FridayAfternoonFrom string `yaml:"friday_afternoon_from" json:"friday_afternoon_from"`
	// Holidays are dates (2026-12-25) or dates every year (12-25), optionally with a name
	// after a space: "12-25 Christmas".
	Holidays []string `yaml:"holidays" json:"holidays"`
}

// Calendar is a compiled CalendarConfig.
type Calendar struct {
	loc       *time.Location
	hours     Span
	days      [7]bool
	friday    int // minutes; -1 off
	holidays  map[string]string
	recurring map[string]string
}

// Moment is what the calendar says of a time.
type Moment struct {
	Business        bool   `json:"business"`
	Weekend         bool   `json:"weekend"`
	Holiday         string `json:"holiday,omitempty"`
	FridayAfternoon bool   `json:"friday_afternoon"`
	Local           string `json:"local"` // "Fri 16:30 CET"
}

// CompileCalendar checks and compiles c; errors name the key under risk.calendar.
func CompileCalendar(c CalendarConfig) (*Calendar, error) {
	cal := &Calendar{holidays: map[string]string{}, recurring: map[string]string{}, friday: -1}
	var err error
	tz := c.Timezone
	if tz == "" {
		tz = "UTC"
	}
	if cal.loc, err = time.LoadLocation(tz); err != nil {
		return nil, fmt.Errorf("timezone: unknown time zone %q (want an IANA name such as Europe/Berlin)", c.Timezone)
	}
	bh := c.BusinessHours
	if bh == "" {
		bh = "09:00-17:00"
	}
	if cal.hours, err = parseSpan(bh); err != nil {
		return nil, fmt.Errorf("business_hours: %w", err)
	}
	days := c.BusinessDays
	if len(days) == 0 {
		days = []string{"mon-fri"}
	}
	for _, d := range days {
		ds, err := parseDays(d)
		if err != nil {
			return nil, fmt.Errorf("business_days: %w", err)
		}
		for _, wd := range ds {
			cal.days[wd] = true
		}
	}
	if f := c.FridayAfternoonFrom; f != "" {
		if cal.friday, err = parseClock(f); err != nil {
			return nil, fmt.Errorf("friday_afternoon_from: %w", err)
		}
	}
	for i, h := range c.Holidays {
		date, name, _ := strings.Cut(strings.TrimSpace(h), " ")
		if name == "" {
			name = "a holiday"
		}
		if _, err := time.Parse("2006-01-02", date); err == nil {
			cal.holidays[date] = name
			continue
		}
		if _, err := time.Parse("01-02", date); err == nil {
			cal.recurring[date] = name
			continue
		}
		return nil, fmt.Errorf("holidays: entry %d %q: want YYYY-MM-DD or MM-DD (every year), then an optional name", i, h)
	}
	return cal, nil
}

// Location is the calendar's zone.
func (c *Calendar) Location() *time.Location { return c.loc }

// At says what t is in the calendar.
func (c *Calendar) At(t time.Time) Moment {
	lt := t.In(c.loc)
	m := Moment{Local: lt.Format("Mon 15:04 MST")}
	if name, ok := c.holidays[lt.Format("2006-01-02")]; ok {
		m.Holiday = name
	} else if name, ok := c.recurring[lt.Format("01-02")]; ok {
		m.Holiday = name
	}
	min := lt.Hour()*60 + lt.Minute()
	m.Weekend = !c.days[lt.Weekday()]
	m.Business = !m.Weekend && m.Holiday == "" && min >= c.hours.Start && min < c.hours.End
	// The last business day of the week, late: whatever breaks waits for the weekend.
	m.FridayAfternoon = c.friday >= 0 && m.Business && min >= c.friday && c.lastBusinessDay(lt)
	return m
}

// lastBusinessDay reports whether the next business day after lt's is more than a day away.
func (c *Calendar) lastBusinessDay(lt time.Time) bool {
	next := time.Date(lt.Year(), lt.Month(), lt.Day()+1, 12, 0, 0, 0, c.loc)
	return !c.days[next.Weekday()] || c.holiday(next) != ""
}

func (c *Calendar) holiday(lt time.Time) string {
	if name, ok := c.holidays[lt.Format("2006-01-02")]; ok {
		return name
	}
	return c.recurring[lt.Format("01-02")]
}

// Hours reports the business hours span.
func (c *Calendar) Hours() Span { return c.hours }
