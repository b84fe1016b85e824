package scoring

import (
	"math"
	"time"
)

// This file holds all of the score arithmetic: rounding, weighting, the composite and the
// grading curves. Nothing else in the package rounds or averages scores.

// Precision of each published number.
const (
	signalDecimals    = 3 // signal and dimension scores, 0–1
	compositeDecimals = 1 // the composite, 0–100
	metricDecimals    = 2 // DORA metrics and published values (shares, hours)
)

// round rounds half away from zero to the given number of decimals.
func round(v float64, decimals int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow10(decimals)
	r := math.Round(v*p) / p
	if r == 0 {
		return 0 // no negative zero in JSON
	}
	return r
}

// clamp01 bounds v to [0, 1].
func clamp01(v float64) float64 {
	switch {
	case math.IsNaN(v) || v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// signalScore is the published score of a signal: clamped and rounded.
func signalScore(v float64) float64 { return round(clamp01(v), signalDecimals) }

// dimensionScore is the weighted mean of the published scores of the signals that count
// (not_applicable signals are left out by the caller), rounded like a signal. Zero total
// weight gives 0.
func dimensionScore(scores, weights []float64) float64 {
	var sum, total float64
	for i, s := range scores {
		sum += s * weights[i]
		total += weights[i]
	}
	if total <= 0 {
		return 0
	}
	return round(clamp01(sum/total), signalDecimals)
}

// composite is 100 × the equal-weighted mean of the published scores of the applicable
// dimensions, rounded to one decimal. No applicable dimension gives 0.
func composite(dimScores []float64) float64 {
	if len(dimScores) == 0 {
		return 0
	}
	var sum float64
	for _, s := range dimScores {
		sum += s
	}
	return round(100*sum/float64(len(dimScores)), compositeDecimals)
}

// metric rounds a published metric (hours, shares, rates).
func metric(v float64) float64 { return round(v, metricDecimals) }

// Grading curves (docs/scoring.md "Grading curves").

// gradeAtLeast scores a higher-is-better quantity against its target: linear from 0 at 0 to 1
// at the target, 1 beyond. A non-positive target is met by anything.
func gradeAtLeast(v, target float64) float64 {
	if target <= 0 {
		return 1
	}
	return clamp01(v / target)
}

// gradeAtMost scores a lower-is-better quantity against its target: 1 up to the target,
// falling linearly to 0 at twice the target. A zero target accepts only zero.
func gradeAtMost(v, target float64) float64 {
	if target <= 0 {
		if v <= 0 {
			return 1
		}
		return 0
	}
	if v <= target {
		return 1
	}
	return clamp01((2*target - v) / target)
}

// gradeAge scores how recent something is: 1 while its age is within the limit (inclusive),
// falling linearly to 0 at twice the limit.
func gradeAge(age, limit time.Duration) float64 {
	return gradeAtMost(float64(age), float64(limit))
}

// outcomeFor is the outcome of a graded score.
func outcomeFor(score float64) Outcome {
	switch {
	case score >= 1:
		return OutcomePass
	case score <= 0:
		return OutcomeFail
	}
	return OutcomePartial
}
