package config

import (
	"fmt"
	"sort"
)

// validateGateMode checks gate.mode, gate.mode_by_environment and each service's gate_mode:
// a misspelt mode must not silently enforce (or silently stop enforcing).
func (c *Config) validateGateMode(add func(path, format string, args ...any)) {
	check := func(path, v string) {
		if v != "enforce" && v != "observe" {
			add(path, "must be enforce or observe, got %q", v)
		}
	}
	check("gate.mode", c.Gate.Mode)
	envs := make([]string, 0, len(c.Gate.ModeByEnvironment))
	for env := range c.Gate.ModeByEnvironment {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	for _, env := range envs {
		check("gate.mode_by_environment."+env, c.Gate.ModeByEnvironment[env])
	}
	for i, s := range c.Services {
		if s.GateMode != "" {
			check(fmt.Sprintf("services[%d].gate_mode", i), s.GateMode)
		}
	}
}
