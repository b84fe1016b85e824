package config

import (
	"strings"
	"testing"
	"time"
)

func TestBadDigestConfigNamesItsPath(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       string
	}{
		{"unknown day", "digests:\n  team: {enabled: true, day: mondays}\n", `digests.team.day: must be a weekday (monday … sunday), got "mondays"`},
		{"hour too high", "digests:\n  team: {enabled: true, hour: 24}\n", "digests.team.hour: must be an hour from 0 to 23, got 24"},
		{"negative hour", "digests:\n  org: {enabled: true, channel: C0ORG, hour: -1}\n", "digests.org.hour: must be an hour from 0 to 23, got -1"},
		{"unknown zone", "digests:\n  team: {enabled: true, timezone: Europe/Atlantis}\n", `digests.team.timezone: unknown time zone "Europe/Atlantis"`},
		{"org zone", "digests:\n  org: {enabled: true, channel: C0ORG, timezone: Mars/Olympus}\n", `digests.org.timezone: unknown time zone "Mars/Olympus"`},
		{"org day", "digests:\n  org: {enabled: true, channel: C0ORG, day: someday}\n", `digests.org.day: must be a weekday`},
		{"org without a channel", "digests:\n  org: {enabled: true}\n", "digests.org.channel: required when digests.org.enabled is true"},
		{"catch-up a week", "digests:\n  catch_up: 168h\n", "digests.catch_up: must be at least 0"},
		{"catch-up negative", "digests:\n  catch_up: -1h\n", "digests.catch_up: invalid duration"},
		{"unknown key", "digests:\n  team: {enabled: true, time_zone: UTC}\n", "digests.team.time_zone: unknown key"},
		{"hour not a number", "digests:\n  team: {hour: nine}\n", "digests.team.hour: want a whole number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(problems(t, tc.yaml), "\n")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems %q do not contain %q", got, tc.want)
			}
		})
	}
}

func TestDigestDefaultsAndAGoodSchedule(t *testing.T) {
	cfg, err := Parse([]byte("slack:\n  default_channel: C0ALL\ndigests:\n  team: {enabled: true, day: Friday, hour: 0, timezone: Europe/Berlin}\n  org: {enabled: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	team := cfg.Digests.Team
	if d, ok := team.Weekday(); !ok || d != time.Friday || team.HourOfDay() != 0 {
		t.Errorf("team schedule = %v %v hour %d, want Friday at 0 (an explicit 0 is midnight, not the default)", d, ok, team.HourOfDay())
	}
	if loc, err := team.Location(); err != nil || loc.String() != "Europe/Berlin" {
		t.Errorf("team zone = %v, %v", loc, err)
	}
	org := cfg.Digests.Org.Schedule()
	if d, _ := org.Weekday(); d != time.Monday || org.HourOfDay() != 9 {
		t.Errorf("org defaults = %v hour %d, want Monday at 9", d, org.HourOfDay())
	}
	if loc, _ := org.Location(); loc != time.UTC {
		t.Errorf("org zone = %v, want UTC", loc)
	}
	if cfg.OrgDigestChannel() != "C0ALL" || cfg.DigestCatchUp() != DefaultDigestCatchUp {
		t.Errorf("org channel %q, catch-up %s", cfg.OrgDigestChannel(), cfg.DigestCatchUp())
	}
	if d := Default(); d.Digests.Team.Enabled || d.Digests.Org.Enabled {
		t.Error("digests must be off by default")
	}
}
