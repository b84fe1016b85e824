package config

import (
	"fmt"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
)

// validateInitiatives refuses what no initiative can mean: an unknown signal, dimension or
// level, a malformed date, two initiatives with one id. A past deadline and a filter that
// matches no service are warnings (InitiativeWarnings): the config still loads.
func (c *Config) validateInitiatives(add func(path, format string, args ...any)) {
	known := initiative.KnownFrom(c.Scoring)
	ids := map[string]int{}
	for i, s := range c.Initiatives {
		path := fmt.Sprintf("initiatives[%d]", i)
		_, ps := initiative.Compile(s, known)
		for _, p := range ps {
			add(path+"."+p.Path, "%s", p.Msg)
		}
		if j, dup := ids[s.ID]; dup && s.ID != "" {
			add(path+".id", "%q is already initiatives[%d]", s.ID, j)
		} else {
			ids[s.ID] = i
		}
	}
}

// ConfiguredInitiatives returns the initiatives of the config, checked and in config order.
// Load refused a config with a bad one, so none is left out of a loaded config.
func (c *Config) ConfiguredInitiatives() []*initiative.Initiative {
	known := initiative.KnownFrom(c.Scoring)
	out := make([]*initiative.Initiative, 0, len(c.Initiatives))
	for _, s := range c.Initiatives {
		s.Source = "config"
		if in, ps := initiative.Compile(s, known); len(ps) == 0 {
			out = append(out, in)
		}
	}
	return out
}

// InitiativeWarnings lists, with their YAML paths, the initiatives that load but deserve a
// look at now: a deadline already past (the initiative shows as overdue) and a filter that
// matches none of services (the catalog the caller knows: check-config knows `services:`,
// serve the whole catalog).
func (c *Config) InitiativeWarnings(now time.Time, services []releaseops.Service) []string {
	var out []string
	for i, in := range c.ConfiguredInitiatives() {
		path := fmt.Sprintf("initiatives[%d]", i)
		if p := initiative.PastDeadline(in, now); p != nil {
			out = append(out, fmt.Sprintf("%s.%s: %s; the initiative is shown as overdue", path, p.Path, p.Msg))
		}
		if len(in.Covered(services)) == 0 {
			out = append(out, fmt.Sprintf("%s.filter: matches none of the %d catalogued services; the initiative covers nothing until one matches", path, len(services)))
		}
	}
	return out
}
