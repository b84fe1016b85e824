package risk

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// LadderConfig is the trust ladder: a service earns the right to ship with less human
// friction by shipping well. Each production deploy made in the mature band that succeeds,
// is not rolled back and is followed by no incident within IncidentWindow climbs one rung;
// a failed or rolled-back production deploy, or an incident linked to a deploy (opened within
// IncidentWindow after it), sends the service to the bottom.
type LadderConfig struct {
	// Rungs is the number of rungs above the bottom (default 3: rungs 0..3).
	Rungs int `yaml:"rungs" json:"rungs"`
	// IncidentWindow links an incident to the deploy before it (default 1h).
	IncidentWindow time.Duration `yaml:"-" json:"-"`
	// Pass lists, per rung, the risk levels that pass without a human in the mature and the
	// healthy band. High risk never passes. Defaults: see DefaultLadder.
	Pass []RungPass `yaml:"pass" json:"pass"`
}

// RungPass is what passes without a human on one rung.
type RungPass struct {
	Mature  []Level `yaml:"mature" json:"mature"`
	Healthy []Level `yaml:"healthy" json:"healthy"`
}

// DefaultLadder: on the bottom rung a mature service passes low and medium risk, a healthy one
// only low; from rung 2 a healthy one passes medium too; on the top rung (3) a low-risk
// mature deploy is auto-approved (recorded as such).
func DefaultLadder() LadderConfig {
	return LadderConfig{Rungs: 3, IncidentWindow: time.Hour, Pass: []RungPass{
		{Mature: []Level{Low, Medium}, Healthy: []Level{Low}},
		{Mature: []Level{Low, Medium}, Healthy: []Level{Low}},
		{Mature: []Level{Low, Medium}, Healthy: []Level{Low, Medium}},
		{Mature: []Level{Low, Medium}, Healthy: []Level{Low, Medium}},
	}}
}

// CheckLadder names every problem of c, keyed under gate.trust_ladder.
func CheckLadder(c LadderConfig) []string {
	var p []string
	if c.Rungs < 1 || c.Rungs > 20 {
		p = append(p, fmt.Sprintf("gate.trust_ladder.rungs: want 1 to 20, got %d", c.Rungs))
	}
	if len(c.Pass) != c.Rungs+1 {
		p = append(p, fmt.Sprintf("gate.trust_ladder.pass: want one entry per rung, %d (rungs 0..%d), got %d", c.Rungs+1, c.Rungs, len(c.Pass)))
	}
	for i, r := range c.Pass {
		for _, l := range append(append([]Level(nil), r.Mature...), r.Healthy...) {
			switch l {
			case Low, Medium:
			case High:
				p = append(p, fmt.Sprintf("gate.trust_ladder.pass[%d]: high risk never passes without a human", i))
			default:
				p = append(p, fmt.Sprintf("gate.trust_ladder.pass[%d]: unknown risk level %q (low or medium)", i, l))
			}
		}
	}
	return p
}

// LadderDeploy is a production deploy as the ladder sees it.
type LadderDeploy struct {
	ID     string
	At     time.Time
	Band   string // the readiness band when it was made
	Failed bool   // failed or rolled back
}

// LadderStep is one move on the ladder, for the scorecard's history.
type LadderStep struct {
	At     time.Time `json:"at"`
	Rung   int       `json:"rung"`
	Reason string    `json:"reason"`
}

// Ladder is a service's place on the trust ladder.
type Ladder struct {
	Rung  int          `json:"rung"`
	Top   int          `json:"top"`
	Steps []LadderStep `json:"steps,omitempty"` // newest last, at most the last 10
}

// Climb replays deploys and incidents (any order) up to now and returns the rung. A deploy
// counts once its incident window has passed without an incident (so a deploy made minutes
// ago does not climb yet); an incident opened within the window after a deploy, or a failed
// deploy, drops the service to the bottom.
func (c LadderConfig) Climb(deploys []LadderDeploy, incidents []time.Time, now time.Time) Ladder {
	ds := append([]LadderDeploy(nil), deploys...)
	sort.Slice(ds, func(i, j int) bool { return ds[i].At.Before(ds[j].At) })
	var inc []time.Time
	for _, x := range incidents {
		if !x.After(now) {
			inc = append(inc, x)
		}
	}
	sort.Slice(inc, func(i, j int) bool { return inc[i].Before(inc[j]) })
	win := c.IncidentWindow
	if win <= 0 {
		win = time.Hour
	}
	l := Ladder{Top: c.Rungs}
	step := func(at time.Time, rung int, why string) {
		l.Rung = rung
		l.Steps = append(l.Steps, LadderStep{At: at, Rung: rung, Reason: why})
	}
	for _, d := range ds {
		if d.At.After(now) {
			break
		}
		if d.Failed {
			step(d.At, 0, "deploy "+d.ID+" failed or was rolled back")
			continue
		}
		if i, ok := incidentWithin(inc, d.At, win); ok {
			step(inc[i], 0, fmt.Sprintf("an incident opened %s after deploy %s", inc[i].Sub(d.At).Round(time.Minute), d.ID))
			continue
		}
		if d.At.Add(win).After(now) {
			continue // still in its incident window
		}
		if d.Band != "mature" {
			continue // only mature-band deploys earn trust; the others neither climb nor fall
		}
		if l.Rung < c.Rungs {
			step(d.At.Add(win), l.Rung+1, "deploy "+d.ID+" in the mature band went well")
		}
	}
	if len(l.Steps) > 10 {
		l.Steps = l.Steps[len(l.Steps)-10:]
	}
	return l
}

func incidentWithin(inc []time.Time, at time.Time, win time.Duration) (int, bool) {
	i := sort.Search(len(inc), func(i int) bool { return !inc[i].Before(at) })
	if i < len(inc) && inc[i].Before(at.Add(win)) {
		return i, true
	}
	return 0, false
}

// Passes reports whether a deploy at level in band passes without a human on rung, and
// whether it is auto-approved (the top rung, mature, low).
func (c LadderConfig) Passes(rung int, band string, level Level) (pass, auto bool) {
	if level == High || rung < 0 || len(c.Pass) == 0 {
		return false, false
	}
	r := c.Pass[min(rung, len(c.Pass)-1)]
	switch band {
	case "mature":
		pass = slices.Contains(r.Mature, level)
	case "healthy":
		pass = slices.Contains(r.Healthy, level)
	}
	return pass, pass && band == "mature" && level == Low && rung >= c.Rungs
}
