package scoring

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// Input is everything one score depends on.
type Input struct {
	// Service is the catalog entry (the declared facts).
	Service releaseops.Service
	// Facts are the service's facts with At >= Now-Lookback(), plus the latest state facts
	// (branch_protection per pattern, ruleset per id, pagerduty_service, repo_state) of any
	// age, in any order. Facts later than Now are ignored.
	Facts []releaseops.Fact
	// Now is the scoring time.
	Now time.Time
	// Sync is what the sync framework knows of the subjects the service is read through, in
	// any order; it may be empty. A state resting on an API read is trusted only while the
	// read is fresh (see Config.SyncStaleAfter), and the card lists these records.
	Sync []releaseops.SyncCoverage
	// Waivers are the waivers granted at runtime for this service (approved exemptions), on
	// top of the config's; expired ones are shown as expired, like the config's.
	Waivers []GrantedWaiver
}

// Score computes the scorecard of one service. It is pure: the same input gives the same
// card, to the digit, whatever the order of the facts. Trend is left zero for the caller.
func (e *Engine) Score(in Input) Scorecard {
	return e.score(in, newFacts(&in))
}

// ScoreIndexed is Score for a caller that rescores the same service again and again as its
// facts grow: idx keeps the fact index between calls and is extended rather than rebuilt when
// in.Facts is the previous call's facts with new ones appended (see Index). The card is the one
// Score gives for the same input.
func (e *Engine) ScoreIndexed(in Input, idx *Index) Scorecard {
	return e.score(in, idx.facts(&in))
}

// score computes the card from x, the index of in's facts.
func (e *Engine) score(in Input, x *facts) Scorecard {
	card := Scorecard{
		Service:       in.Service.Name,
		UpdatedAt:     in.Now.UTC(),
		Dimensions:    make([]DimensionScore, len(Dimensions)),
		FloorsApplied: []FloorApplied{},
		Rules:         []RuleResult{},
	}
	x.sync, x.syncStale = sortedCoverage(in.Sync), e.syncStale
	x.branch = nil // it places re-confirmed reads by the coverage, which may differ per call
	card.Sync = x.sync
	card.DORA = x.dora(e.params["change_failure_rate"])

	for i, d := range Dimensions {
		ds := &card.Dimensions[i]
		ds.ID, ds.Name, ds.Playbook, ds.Applicable = d.ID, d.Name, e.Playbook(d.ID), true
		ds.Signals = []SignalResult{}
		switch {
		case slices.Contains(in.Service.NotApplicable, d.ID):
			ds.Applicable, ds.Reason = false, "declared not applicable in the catalog (not_applicable)"
		case d.Terraform && !in.Service.UsesTerraform():
			ds.Applicable, ds.Reason = false, "not applicable: the catalog says terraform: false"
		}
	}

	for i := range e.defs {
		def := &e.defs[i]
		ds := &card.Dimensions[dimIndex(def.Dimension)]
		p := e.params[def.ID]
		var r result
		switch {
		case !ds.Applicable:
			r = notApplicable("the dimension does not apply to this service")
		case e.disabled[def.ID]:
			r = notApplicable("switched off in scoring.signals." + def.ID)
		default:
			r = def.eval(x, p)
		}
		ds.Signals = append(ds.Signals, e.finish(in, def.ID, def.Name, p.Weight, r, false))
	}

	if len(e.dimRules) > 0 {
		for i := range card.Dimensions {
			e.settle(&card.Dimensions[i])
		}
		vars := e.vars(x, &card)
		act := vars.activation()
		for _, cr := range e.dimRules {
			ds := &card.Dimensions[dimIndex(cr.dimension)]
			var r result
			rr := e.runRule(cr, act)
			if !ds.Applicable {
				r = notApplicable("the dimension does not apply to this service")
			} else {
				r = result{score: rr.Score, value: rr.Value, reason: ruleReason(cr, rr), evidence: []releaseops.Evidence{}}
				if rr.Error != "" {
					r.outcome = OutcomeFail
				}
			}
			name := cr.desc
			if name == "" {
				name = cr.id
			}
			sr := cr.pendingSignal(e.finish(in, cr.id, name, cr.weight, r, true), rr, r.reason, in.Now)
			ds.Signals = append(ds.Signals, sr)
			rr.Score = sr.Score
			card.Rules = append(card.Rules, cr.pendingRule(rr, in.Now))
		}
	}

	var applicable []float64
	for i := range card.Dimensions {
		ds := &card.Dimensions[i]
		e.settle(ds)
		if ds.Applicable {
			applicable = append(applicable, ds.Score)
		}
	}
	card.Score = composite(applicable)
	card.Band, _ = e.Band(card.Score, "production", &card)
	card.FloorsApplied = e.breachedFloors(&card)

	// Levels see the final signals, dimensions and composite.
	vars := e.vars(x, &card)
	act := vars.activation()
	card.Level = LevelNone
	below := true
	for _, l := range e.levels {
		lr := LevelResult{Level: l.name, Passed: true, Rules: make([]RuleResult, 0, len(l.rules))}
		for _, cr := range l.rules {
			rr := cr.pendingRule(e.runRule(cr, act), in.Now)
			lr.Rules = append(lr.Rules, rr)
			lr.Passed = lr.Passed && (rr.Passed || rr.EnforceFrom != nil) // a pending rule does not count yet
			if cr.custom {
				card.Rules = append(card.Rules, rr)
			}
		}
		lr.Achieved = lr.Passed && below
		below = lr.Achieved
		if lr.Achieved {
			card.Level = l.name
		}
		card.Levels = append(card.Levels, lr)
	}
	// Custom rules are listed in config order.
	slices.SortStableFunc(card.Rules, func(a, b RuleResult) int { return e.customIndex(a.ID) - e.customIndex(b.ID) })
	return card
}

func (e *Engine) customIndex(id string) int {
	for i, cr := range e.custom {
		if cr.id == id {
			return i
		}
	}
	return len(e.custom)
}

// finish turns a signal result into its published form: waiver, rounding, outcome, evidence.
func (e *Engine) finish(in Input, id, name string, weight float64, r result, custom bool) SignalResult {
	sr := SignalResult{ID: id, Name: name, Weight: weight, Value: r.value, Reason: r.reason, Custom: custom,
		Outcome: r.outcome, Evidence: tidyEvidence(r.evidence)}
	switch r.outcome {
	case OutcomeNoData, OutcomeNotApplicable:
		sr.Score = 0
	default:
		sr.Score = signalScore(r.score)
		if sr.Outcome == "" {
			sr.Outcome = outcomeFor(sr.Score)
		}
	}
	if sr.Outcome == OutcomeNotApplicable {
		return sr
	}
	live, expired := e.waiverFor(in, id)
	switch {
	case live != nil:
		sr.Waived, sr.Outcome, sr.Score = true, OutcomeWaived, 1
		sr.Waiver = &WaiverInfo{Reason: live.w.Reason, Author: live.w.Author, Expires: live.expires, Approver: live.approver, Ref: live.ref}
		sr.Reason = fmt.Sprintf("waived by %s until %s: %s (without the waiver: %s)", live.by(), stamp(live.expires), live.w.Reason, r.reason)
	case expired != nil:
		sr.Reason += fmt.Sprintf(" (a waiver by %s expired %s)", expired.by(), stamp(expired.expires))
	}
	return sr
}

// waiverFor returns the live waiver with the latest expiry, or else the most recently
// expired one.
func (e *Engine) waiverFor(in Input, signal string) (live, expired *compiledWaiver) {
	ws := e.waivers[waiverKey(in.Service.Name, signal)]
	if len(in.Waivers) > 0 {
		ws = append(slices.Clip(ws), grantedFor(in, signal)...)
	}
	for i := range ws {
		w := &ws[i]
		if in.Now.Before(w.expires) {
			if live == nil || w.expires.After(live.expires) {
				live = w
			}
		} else if expired == nil || w.expires.After(expired.expires) {
			expired = w
		}
	}
	return live, expired
}

// settle computes a dimension's score and no-data state from its signals.
func (e *Engine) settle(ds *DimensionScore) {
	if !ds.Applicable {
		ds.Score, ds.NoData = 0, false
		return
	}
	scores := make([]float64, 0, len(ds.Signals))
	weights := make([]float64, 0, len(ds.Signals))
	var noData []string
	for _, s := range ds.Signals {
		if s.Outcome == OutcomeNotApplicable || s.Outcome == OutcomeUpcoming {
			continue
		}
		scores = append(scores, s.Score)
		weights = append(weights, s.Weight)
		if s.Outcome == OutcomeNoData {
			noData = append(noData, s.ID)
		}
	}
	ds.Score = dimensionScore(scores, weights)
	ds.NoData = len(noData) == len(scores)
	switch {
	case len(scores) == 0:
		ds.Reason = "no data: no signal of this dimension applies (all are switched off or not applicable)"
	case ds.NoData:
		ds.Reason = "no data: none of its signals has evidence yet, so it scores 0 (absence of evidence is not readiness)"
	case len(noData) > 0:
		ds.Reason = fmt.Sprintf("%d of %d signals have no data and score 0: %s", len(noData), len(scores), strings.Join(noData, ", "))
	default:
		ds.Reason = ""
	}
}

func (e *Engine) vars(x *facts, card *Scorecard) *celVars {
	v := &celVars{adapter: e.adapter, x: x, dora: card.DORA, score: card.Score,
		signals: map[string]float64{}, outcomes: map[string]string{}, dimensions: map[string]float64{}}
	var applicable []float64
	for _, d := range card.Dimensions {
		if d.Applicable {
			v.dimensions[d.ID] = d.Score
			applicable = append(applicable, d.Score)
		}
		for _, s := range d.Signals {
			v.signals[s.ID] = s.Score
			v.outcomes[s.ID] = string(s.Outcome)
		}
	}
	if v.score == 0 {
		v.score = composite(applicable)
	}
	return v
}

func (e *Engine) runRule(cr *compiledRule, act map[string]any) RuleResult {
	score, value, errMsg := evalRule(cr.prg, act)
	return RuleResult{ID: cr.id, Description: cr.desc, Expr: cr.expr, Dimension: cr.dimension, Level: cr.level,
		Passed: errMsg == "" && score >= 1, Value: value, Error: errMsg, Custom: cr.custom, Score: signalScore(score)}
}

func ruleReason(cr *compiledRule, rr RuleResult) string {
	what := cr.desc
	if what == "" {
		what = cr.expr
	}
	switch {
	case rr.Error != "":
		return fmt.Sprintf("custom rule %s could not be evaluated (%s): %s", cr.id, rr.Error, what)
	case !cr.isBool:
		return fmt.Sprintf("custom rule %s scored %s: %s", cr.id, num(rr.Score), what)
	case rr.Passed:
		return fmt.Sprintf("custom rule %s holds: %s", cr.id, what)
	}
	return fmt.Sprintf("custom rule %s does not hold: %s", cr.id, what)
}
