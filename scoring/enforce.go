package scoring

import (
	"fmt"
	"strings"
	"time"
)

// OutcomeUpcoming is a rule with enforce_from still ahead: evaluated and shown, but left out
// of its dimension, its level and so the gate until that date.
const OutcomeUpcoming Outcome = "upcoming"

// parseEnforceFrom reads a rule's enforce_from: a date, meaning the start of that day in UTC,
// or an RFC 3339 time. Empty is the zero time: the rule always counts.
func parseEnforceFrom(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want a date such as 2027-01-15 (the rule counts from the start of that day, UTC) or an RFC 3339 time, got %q", s)
}

// pending reports whether the rule does not count yet at now (the engine's clock).
func (cr *compiledRule) pending(now time.Time) bool {
	return !cr.enforceFrom.IsZero() && now.UTC().Before(cr.enforceFrom)
}

// enforceDate prints enforce_from as written when it is a whole day, else to the minute.
func (cr *compiledRule) enforceDate() string {
	if cr.enforceFrom.Equal(cr.enforceFrom.Truncate(24 * time.Hour)) {
		return cr.enforceFrom.Format(time.DateOnly)
	}
	return cr.enforceFrom.Format("2006-01-02 15:04 UTC")
}

// upcomingText says what a pending rule will do on its date: "fails from 2027-01-15: …" while
// it fails, "counts from 2027-01-15 (holds now): …" while it holds.
func (cr *compiledRule) upcomingText(passed bool, what string) string {
	if passed {
		return fmt.Sprintf("counts from %s (holds now): %s", cr.enforceDate(), what)
	}
	return fmt.Sprintf("fails from %s: %s", cr.enforceDate(), what)
}

// pendingRule marks a rule result whose rule does not count yet: EnforceFrom is set, and
// Upcoming says what it will do then.
func (cr *compiledRule) pendingRule(rr RuleResult, now time.Time) RuleResult {
	if !cr.pending(now) {
		return rr
	}
	from := cr.enforceFrom
	rr.EnforceFrom = &from
	what := cr.desc
	if what == "" {
		what = cr.id
	}
	if cr.level != "" {
		what += " (level " + cr.level + ")"
	}
	rr.Upcoming = cr.upcomingText(rr.Passed, what)
	return rr
}

// pendingSignal turns a dimension rule's signal into an upcoming one while its rule does not
// count: outcome upcoming (left out of the dimension), no waiver, the reason prefixed.
func (cr *compiledRule) pendingSignal(sr SignalResult, rr RuleResult, reason string, now time.Time) SignalResult {
	if !cr.pending(now) || sr.Outcome == OutcomeNotApplicable {
		return sr
	}
	sr.Outcome, sr.Waived, sr.Waiver = OutcomeUpcoming, false, nil
	sr.Reason = cr.upcomingText(rr.Error == "" && rr.Score >= 1, reason)
	return sr
}

// Upcoming lists what the card's pending rules will do on their dates, failing ones only: the
// lines the scorecard, Slack and the web show under "Upcoming".
func (c *Scorecard) Upcoming() []string {
	var out []string
	seen := map[string]bool{}
	add := func(r RuleResult) {
		if r.EnforceFrom != nil && !r.Passed && !seen[r.Upcoming] {
			seen[r.Upcoming] = true
			out = append(out, r.Upcoming)
		}
	}
	for _, l := range c.Levels {
		for _, r := range l.Rules {
			add(r)
		}
	}
	for _, r := range c.Rules {
		add(r)
	}
	return out
}
