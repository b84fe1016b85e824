// Package risk rates a deploy — this change, now — as a bet: change size, the services
// shipping with it, the time against the business calendar, on-call coverage, open
// incidents, the service's change failure rate and batch age, and its readiness band go in;
// a score 0–100, a level and the factors behind it, each with a reason a person can act on,
// come out. Like scoring, it is a pure function: the same inputs give the same risk, and
// `now` is an input. Risk only ever adds friction at the gate; it cannot lift a block.
//
// The package also holds the other pure time logic the gate needs: weekly release windows
// and blackouts (window.go), the trust ladder (ladder.go) and the ranking of deploy slots
// (slots.go).
package risk

import (
	"math"
	"sort"
	"time"
)

// Level is low, medium or high.
type Level string

const (
	Low    Level = "low"
	Medium Level = "medium"
	High   Level = "high"
)

// Input is everything Assess looks at. Zero values mean "not known" where a field says so.
type Input struct {
	Service     string
	Environment string
	Now         time.Time
	// Change is the diff from the last production commit to this one; nil: unknown (no
	// commit in the request, no earlier production deploy, or GitHub did not answer).
	Change *Change
	// ChangeUnknownWhy says why Change is nil, for the reason ("no commit_sha in the request").
	ChangeUnknownWhy string
	// Release is the release id, and ReleaseServices the other services seen with it within
	// the release window (deploy events and gate requests).
	Release         string
	ReleaseServices []string
	// OnCall is nil when no on-call data exists for the service.
	OnCall *OnCall
	// Incidents are the service's open incidents.
	Incidents []Incident
	// Deploys are the service's production deploys in the failure-rate window, any order.
	Deploys []Deploy
	// LastProductionDeploy is zero when there has been none.
	LastProductionDeploy time.Time
	// Band is the readiness band ("" unknown).
	Band string
}

// Change is a diff between two commits.
type Change struct {
	Base, Head string
	Files      int
	Additions  int
	Deletions  int
	Commits    int
	URL        string // the compare page, as evidence
}

// OnCall is who is on call for the service, from PagerDuty.
type OnCall struct {
	// Until is when the current coverage ends; zero: indefinitely. Covered false: nobody.
	Covered bool
	Who     string
	Until   time.Time
	Source  string // evidence: where this was read
}

// Incident is an open incident on the service.
type Incident struct {
	ID, Title, Priority, URL string
	Since                    time.Time
}

// Deploy is one production deploy's outcome.
type Deploy struct {
	ID     string
	At     time.Time
	Failed bool // failed or rolled back
}

// Factor is one reason the risk is what it is.
type Factor struct {
	ID     string  `json:"id"`
	Weight float64 `json:"weight"`
	// Value is the factor's own rating, 0 (no risk) to 1; Points its share of the score.
	Value    float64  `json:"value"`
	Points   float64  `json:"points"`
	Unknown  bool     `json:"unknown,omitempty"`
	Reason   string   `json:"reason"`
	Evidence []string `json:"evidence,omitempty"`
}

// Assessment is the risk of one deploy.
type Assessment struct {
	Score   float64  `json:"score"`
	Level   Level    `json:"level"`
	Factors []Factor `json:"factors"`
}

// Assess rates in under the model. Factors come back by points, highest first (ties by id), so
// the first one is what to act on.
func (m *Model) Assess(in Input) Assessment {
	var fs []Factor
	total, sum := 0.0, 0.0
	for _, f := range []func(Input) Factor{m.changeSize, m.releaseSize, m.deployTime, m.onCall, m.incidents, m.failureRate, m.batchAge, m.band} {
		fc := f(in)
		w := m.cfg.Weights[fc.ID]
		if w <= 0 {
			continue
		}
		fc.Weight = w
		fc.Value = round(fc.Value, 3)
		total += w
		sum += w * fc.Value
		fs = append(fs, fc)
	}
	a := Assessment{Factors: fs}
	if total > 0 {
		a.Score = round(100*sum/total, 1)
		for i := range a.Factors {
			a.Factors[i].Points = round(100*a.Factors[i].Weight*a.Factors[i].Value/total, 1)
		}
	}
	sort.SliceStable(a.Factors, func(i, j int) bool {
		if a.Factors[i].Points != a.Factors[j].Points {
			return a.Factors[i].Points > a.Factors[j].Points
		}
		return a.Factors[i].ID < a.Factors[j].ID
	})
	a.Level = m.level(a.Score)
	return a
}

func (m *Model) level(score float64) Level {
	switch {
	case score >= m.cfg.HighAt:
		return High
	case score >= m.cfg.MediumAt:
		return Medium
	}
	return Low
}

// ramp is 0 at or below lo, 1 at or above hi, linear between.
func ramp(v, lo, hi float64) float64 {
	if v <= lo {
		return 0
	}
	if v >= hi {
		return 1
	}
	return (v - lo) / (hi - lo)
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
