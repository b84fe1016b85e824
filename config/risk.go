package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/releaseops/releaseops/risk"
)

// QuorumRule says how many distinct approvers an approval needs when it matches: every field
// set must match (band of the readiness score, the service's tier, the deploy's risk level).
// The first matching rule wins; none matching: 1.
type QuorumRule struct {
	Bands     []string `yaml:"bands" json:"bands,omitempty"`
	Tiers     []int    `yaml:"tiers" json:"tiers,omitempty"`
	Risk      []string `yaml:"risk" json:"risk,omitempty"`
	Approvals int      `yaml:"approvals" json:"approvals"`
}

// DefaultQuorum: a watch-band deploy at high risk, or any tier-1 watch-band deploy, needs two
// approvers.
func DefaultQuorum() []QuorumRule {
	return []QuorumRule{
		{Bands: []string{"watch"}, Risk: []string{"high"}, Approvals: 2},
		{Bands: []string{"watch"}, Tiers: []int{1}, Approvals: 2},
	}
}

// QuorumFor is the approvals the first matching rule asks for, 1 when none matches.
func QuorumFor(rules []QuorumRule, band string, tier int, level string) int {
	for _, r := range rules {
		if (len(r.Bands) == 0 || slices.Contains(r.Bands, band)) && (len(r.Tiers) == 0 || slices.Contains(r.Tiers, tier)) &&
			(len(r.Risk) == 0 || slices.Contains(r.Risk, level)) {
			return r.Approvals
		}
	}
	return 1
}

// validateRisk checks risk:, gate.windows, gate.blackouts, gate.trust_ladder and gate.quorum,
// and that no quorum asks for more approvers than a service it can apply to has.
func (c *Config) validateRisk(add func(path, format string, args ...any)) {
	// The risk package words its problems as "key: why".
	addAll := func(problems []string) {
		for _, p := range problems {
			key, why, _ := strings.Cut(p, ": ")
			add(key, "%s", why)
		}
	}
	_, problems := risk.Compile(c.Risk)
	addAll(problems)
	_, problems = risk.CompileWindows(c.Gate.Windows, c.Gate.Blackouts)
	addAll(problems)
	addAll(risk.CheckLadder(c.Gate.TrustLadder))
	for i, r := range c.Gate.Quorum {
		key := fmt.Sprintf("gate.quorum[%d]", i)
		if r.Approvals < 1 || r.Approvals > 10 {
			add(key+".approvals", "want 1 to 10, got %d", r.Approvals)
		}
		for _, b := range r.Bands {
			if !slices.Contains([]string{"blocked", "watch", "healthy", "mature"}, b) {
				add(key+".bands", "unknown band %q (blocked, watch, healthy, mature)", b)
			}
		}
		for _, l := range r.Risk {
			if l != "low" && l != "medium" && l != "high" {
				add(key+".risk", "unknown risk level %q (low, medium, high)", l)
			}
		}
	}
	for _, svc := range c.Services {
		have := len(svc.Approvers)
		if have == 0 {
			continue // the channel's members decide; nothing to count against
		}
		for i, r := range c.Gate.Quorum {
			if (len(r.Tiers) == 0 || slices.Contains(r.Tiers, svc.Tier)) && r.Approvals > have {
				add(fmt.Sprintf("gate.quorum[%d].approvals", i), "%d approvers needed but service %s names only %d (services[].approvers)", r.Approvals, svc.Name, have)
			}
		}
		for i, b := range c.Gate.Blackouts {
			q := b.Quorum
			if q == 0 {
				q = 2
			}
			if b.AllowOverride && q > have && (len(b.Services) == 0 || slices.Contains(b.Services, svc.Name)) && (len(b.Tiers) == 0 || slices.Contains(b.Tiers, svc.Tier)) {
				add(fmt.Sprintf("gate.blackouts[%d].quorum", i), "%d approvers needed to override but service %s names only %d (services[].approvers)", q, svc.Name, have)
			}
		}
	}
}
