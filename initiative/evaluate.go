package initiative

import (
	"fmt"
	"slices"
	"strings"

	"github.com/releaseops/releaseops/scoring"
)

// States of a service against an initiative's target.
const (
	StateDone          = "done"
	StateTodo          = "todo"
	StateNotApplicable = "not_applicable" // the target does not apply to the service: left out of the count
	StateUnscored      = "unscored"       // no scorecard yet: counted as still to do
)

// Step is one thing a service still has to do to meet the target.
type Step struct {
	// What names the signal, dimension or level rule ("oncall_configured").
	What string `json:"what"`
	Name string `json:"name"`
	// Detail is where it stands and why, from the scorecard ("no on-call schedule found").
	Detail string `json:"detail"`
	// Playbook is the link to the playbook of the dimension concerned, from the scorecard.
	Playbook string `json:"playbook,omitempty"`
}

// Status is where one service stands against the target.
type Status struct {
	Service string `json:"service"`
	Owner   string `json:"owner"`
	State   string `json:"state"`
	Steps   []Step `json:"steps"`
}

// maxSteps bounds what a dimension or level target lists: the first few are what to do next.
const maxSteps = 5

// Evaluate judges one scorecard against the target; a nil card is a service not scored yet.
func (in *Initiative) Evaluate(card *scoring.Scorecard) (state string, steps []Step) {
	steps = []Step{}
	if card == nil {
		return StateUnscored, []Step{{What: "score", Name: "Not scored yet", Detail: "no event about the service has arrived and it has not been rescored yet"}}
	}
	switch in.Kind {
	case TargetSignal:
		return evalSignal(card, in.Target.Signal)
	case TargetDimension:
		return evalDimension(card, in.Target.Dimension, in.Target.Min)
	case TargetLevel:
		return evalLevel(card, in.Target.Level)
	}
	return StateNotApplicable, steps
}

func passing(o scoring.Outcome) bool { return o == scoring.OutcomePass || o == scoring.OutcomeWaived }

func evalSignal(card *scoring.Scorecard, id string) (string, []Step) {
	for _, d := range card.Dimensions {
		for _, s := range d.Signals {
			if s.ID != id {
				continue
			}
			switch {
			case !d.Applicable || s.Outcome == scoring.OutcomeNotApplicable:
				return StateNotApplicable, []Step{}
			case passing(s.Outcome):
				return StateDone, []Step{}
			}
			return StateTodo, []Step{signalStep(d, s)}
		}
	}
	// The card predates the signal, or the signal is switched off: nothing to ask for.
	return StateNotApplicable, []Step{}
}

func signalStep(d scoring.DimensionScore, s scoring.SignalResult) Step {
	detail := s.Reason
	switch {
	case detail == "":
		detail = strings.ReplaceAll(string(s.Outcome), "_", " ")
	case s.Outcome == scoring.OutcomeNoData:
		detail += " (no data yet)"
	}
	return Step{What: s.ID, Name: s.Name, Detail: detail, Playbook: d.Playbook}
}

func evalDimension(card *scoring.Scorecard, id string, min float64) (string, []Step) {
	d := card.Dimension(id)
	if d == nil || !d.Applicable {
		return StateNotApplicable, []Step{}
	}
	// Scores are rounded to 4 places on the card; compare at that precision so 0.8 meets 0.8.
	if d.Score+1e-9 >= min {
		return StateDone, []Step{}
	}
	steps := []Step{{What: d.ID, Name: d.Name, Detail: fmt.Sprintf("scores %s%%, the target is %s%%", pct(d.Score), pct(min)), Playbook: d.Playbook}}
	// The signals that lose the most points first: fixing them moves the dimension furthest.
	sigs := slices.Clone(d.Signals)
	slices.SortStableFunc(sigs, func(a, b scoring.SignalResult) int {
		ga, gb := a.Weight*(1-a.Score), b.Weight*(1-b.Score)
		switch {
		case ga > gb:
			return -1
		case ga < gb:
			return 1
		}
		return 0
	})
	for _, s := range sigs {
		if len(steps) > maxSteps || s.Outcome == scoring.OutcomeNotApplicable || passing(s.Outcome) {
			continue
		}
		steps = append(steps, signalStep(*d, s))
	}
	return StateTodo, steps
}

func evalLevel(card *scoring.Scorecard, level string) (string, []Step) {
	want := slices.Index(scoring.LevelOrder, level)
	if slices.Index(scoring.LevelOrder, card.Level) >= want {
		return StateDone, []Step{}
	}
	var steps []Step
	for _, lr := range card.Levels {
		if slices.Index(scoring.LevelOrder, lr.Level) > want {
			break
		}
		for _, r := range lr.Rules {
			if r.Passed || len(steps) == maxSteps {
				continue
			}
			name := r.Description
			if name == "" {
				name = r.ID
			}
			detail := "not met for " + lr.Level
			if r.Error != "" {
				detail += ": " + r.Error
			}
			steps = append(steps, Step{What: lr.Level + "." + r.ID, Name: name, Detail: detail, Playbook: rulePlaybook(card, r)})
		}
	}
	if len(steps) == 0 {
		// The card carries no failing rule up to the level (levels were reconfigured since it
		// was scored): say where the service stands and point at its weakest dimension.
		steps = append(steps, Step{What: "level", Name: "Level " + level, Detail: "the service is at level " + card.Level,
			Playbook: rulePlaybook(card, scoring.RuleResult{})})
	}
	return StateTodo, steps
}

// rulePlaybook finds the playbook a level rule points at: the dimension it names, or the
// dimension of a signal it reads; else the card's weakest dimension.
func rulePlaybook(card *scoring.Scorecard, r scoring.RuleResult) string {
	if r.Dimension != "" {
		if d := card.Dimension(r.Dimension); d != nil {
			return d.Playbook
		}
	}
	for _, d := range card.Dimensions {
		if r.Expr != "" && strings.Contains(r.Expr, d.ID) {
			return d.Playbook
		}
		for _, s := range d.Signals {
			if r.Expr != "" && strings.Contains(r.Expr, "."+s.ID) {
				return d.Playbook
			}
		}
	}
	if w := card.Weakest(1); len(w) == 1 {
		return w[0].Playbook
	}
	return ""
}

func pct(v float64) string { return trimFloat(v * 100) }
