package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// Digests are the weekly Slack summaries (docs/digests.md): one per team in the channel of its
// services, one for the organisation in a channel of its own. Both are off unless enabled:
// a new post in every team channel is something a platform team switches on, not something
// an upgrade should start doing.
type Digests struct {
	Team DigestSchedule `yaml:"team"`
	Org  OrgDigest      `yaml:"org"`
	// CatchUp is how late a digest may still go out after its slot was missed (the service was
	// down, or no replica held the lease): within it, the missed digest is posted once; past
	// it, that week is skipped and the next slot is awaited. Default 24h; under a week.
	CatchUp releaseops.Duration `yaml:"catch_up"`
}

// DigestSchedule says when a weekly digest goes out: a weekday and an hour in a time zone.
type DigestSchedule struct {
	Enabled bool `yaml:"enabled"`
	// Day is the weekday, monday … sunday (default monday).
	Day string `yaml:"day"`
	// Hour is the hour of the day, 0–23 (default 9).
	Hour *int `yaml:"hour"`
	// Timezone is an IANA zone name (default UTC); the week a digest covers is the ISO week
	// in this zone, so a daylight-saving change does not move the slot's local hour.
	Timezone string `yaml:"timezone"`
}

// OrgDigest is the organisation digest: a schedule and where it goes.
type OrgDigest struct {
	Enabled  bool   `yaml:"enabled"`
	Day      string `yaml:"day"`
	Hour     *int   `yaml:"hour"`
	Timezone string `yaml:"timezone"`
	// Channel is the Slack channel; default slack.default_channel.
	Channel string `yaml:"channel"`
}

// Schedule is the organisation digest's day, hour and zone, read like a team schedule's.
func (o OrgDigest) Schedule() DigestSchedule {
	return DigestSchedule{Enabled: o.Enabled, Day: o.Day, Hour: o.Hour, Timezone: o.Timezone}
}

// DefaultDigestCatchUp is how late a missed digest is still posted when digests.catch_up is unset.
const DefaultDigestCatchUp = 24 * time.Hour

var weekdays = map[string]time.Weekday{
	"monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday, "thursday": time.Thursday,
	"friday": time.Friday, "saturday": time.Saturday, "sunday": time.Sunday,
}

// Weekday is the schedule's day (monday when unset); ok is false for a name that is not a day.
func (s DigestSchedule) Weekday() (time.Weekday, bool) {
	if s.Day == "" {
		return time.Monday, true
	}
	d, ok := weekdays[strings.ToLower(s.Day)]
	return d, ok
}

// HourOfDay is the schedule's hour (9 when unset).
func (s DigestSchedule) HourOfDay() int {
	if s.Hour == nil {
		return 9
	}
	return *s.Hour
}

// Location is the schedule's time zone (UTC when unset).
func (s DigestSchedule) Location() (*time.Location, error) {
	if s.Timezone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q (want an IANA name such as Europe/Berlin)", s.Timezone)
	}
	return loc, nil
}

// DigestCatchUp is digests.catch_up, or its default.
func (c *Config) DigestCatchUp() time.Duration {
	if c.Digests.CatchUp == 0 {
		return DefaultDigestCatchUp
	}
	return c.Digests.CatchUp.Std()
}

// OrgDigestChannel is where the organisation digest goes.
func (c *Config) OrgDigestChannel() string {
	if c.Digests.Org.Channel != "" {
		return c.Digests.Org.Channel
	}
	return c.Slack.DefaultChannel
}

func (c *Config) validateDigests(add func(path, format string, args ...any)) {
	check := func(path string, s DigestSchedule) {
		if _, ok := s.Weekday(); !ok {
			add(path+".day", "must be a weekday (monday … sunday), got %q", s.Day)
		}
		if h := s.HourOfDay(); h < 0 || h > 23 {
			add(path+".hour", "must be an hour from 0 to 23, got %d", h)
		}
		if _, err := s.Location(); err != nil {
			add(path+".timezone", "%v", err)
		}
	}
	check("digests.team", c.Digests.Team)
	check("digests.org", c.Digests.Org.Schedule())
	if c.Digests.Org.Enabled && c.OrgDigestChannel() == "" {
		add("digests.org.channel", "required when digests.org.enabled is true and slack.default_channel is not set")
	}
	if ca := c.Digests.CatchUp.Std(); ca < 0 || ca >= 7*24*time.Hour {
		add("digests.catch_up", "must be at least 0 (0 means %s) and under a week (a missed digest must not overlap the next one), got %s", DefaultDigestCatchUp, c.Digests.CatchUp)
	}
}
