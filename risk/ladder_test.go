package risk

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)

func ok(id string, at time.Time) LadderDeploy { return LadderDeploy{ID: id, At: at, Band: "mature"} }
func bad(id string, at time.Time) LadderDeploy {
	return LadderDeploy{ID: id, At: at, Band: "mature", Failed: true}
}
func band(id string, at time.Time, b string) LadderDeploy {
	return LadderDeploy{ID: id, At: at, Band: b}
}

// twoUp is two good mature deploys that have cleared their windows by t0+3h: rung 2.
func twoUp() []LadderDeploy { return []LadderDeploy{ok("d1", t0), ok("d2", t0.Add(90*time.Minute))} }

func TestLadderClimb(t *testing.T) {
	l := DefaultLadder()
	h := time.Hour
	later := t0.Add(5 * h) // the third deploy goes out here
	for _, c := range []struct {
		name      string
		deploys   []LadderDeploy
		incidents []time.Time
		now       time.Time
		want      int
		reason    string // of the last step, when set
	}{
		{"nothing yet", nil, nil, t0, 0, ""},
		{"one good mature deploy after its window", []LadderDeploy{ok("d1", t0)}, nil, t0.Add(2 * h), 1, "deploy d1 in the mature band went well"},
		{"one rung per deploy", twoUp(), nil, t0.Add(3 * h), 2, "deploy d2 in the mature band went well"},
		{"inside its incident window: no climb yet", []LadderDeploy{ok("d1", t0)}, nil, t0.Add(59 * time.Minute), 0, ""},
		{"the window has just passed", []LadderDeploy{ok("d1", t0)}, nil, t0.Add(h), 1, ""},
		{"a third still inside its window", append(twoUp(), ok("d3", later)), nil, later.Add(30 * time.Minute), 2, ""},
		{"a watch-band deploy neither climbs nor falls", append(twoUp(), band("w", later, "watch")), nil, later.Add(3 * h), 2, ""},
		{"a healthy-band deploy neither climbs nor falls", append(twoUp(), band("h", later, "healthy")), nil, later.Add(3 * h), 2, ""},
		{"a deploy with no band neither climbs nor falls", append(twoUp(), band("n", later, "")), nil, later.Add(3 * h), 2, ""},
		{"a failed deploy drops to the bottom", append(twoUp(), bad("d3", later)), nil, later.Add(3 * h), 0, "deploy d3 failed or was rolled back"},
		{"a failed deploy drops at once, window or not", append(twoUp(), bad("d3", later)), nil, later.Add(time.Minute), 0, ""},
		{"a failed watch-band deploy drops too", append(twoUp(), LadderDeploy{ID: "w", At: later, Band: "watch", Failed: true}), nil, later.Add(3 * h), 0, ""},
		{"an incident 30 minutes after a deploy", append(twoUp(), ok("d3", later)), []time.Time{later.Add(30 * time.Minute)}, later.Add(3 * h), 0,
			"an incident opened 30m0s after deploy d3"},
		{"an incident after a watch-band deploy drops too", append(twoUp(), band("w", later, "watch")), []time.Time{later.Add(10 * time.Minute)}, later.Add(3 * h), 0,
			"after deploy w"},
		{"an incident at the deploy's minute", append(twoUp(), ok("d3", later)), []time.Time{later}, later.Add(3 * h), 0, ""},
		{"an incident 59 minutes after", append(twoUp(), ok("d3", later)), []time.Time{later.Add(59 * time.Minute)}, later.Add(3 * h), 0, ""},
		{"an incident 60 minutes after is no longer the deploy's", append(twoUp(), ok("d3", later)), []time.Time{later.Add(60 * time.Minute)}, later.Add(3 * h), 3, ""},
		{"an incident 61 minutes after does not drop it", append(twoUp(), ok("d3", later)), []time.Time{later.Add(61 * time.Minute)}, later.Add(3 * h), 3,
			"deploy d3 in the mature band went well"},
		{"an incident before the deploy is not its", append(twoUp(), ok("d3", later)), []time.Time{later.Add(-10 * time.Minute)}, later.Add(3 * h), 3, ""},
		{"an incident with no deploy before it", twoUp(), []time.Time{t0.Add(-time.Hour)}, t0.Add(3 * h), 2, ""},
		{"stops at the top", []LadderDeploy{ok("a", t0), ok("b", t0.Add(2*h)), ok("c", t0.Add(4*h)), ok("d", t0.Add(6*h)), ok("e", t0.Add(8*h))}, nil,
			t0.Add(24 * h), 3, "deploy c in the mature band went well"},
		{"climbs again after a fall", []LadderDeploy{ok("a", t0), bad("b", t0.Add(2*h)), ok("c", t0.Add(4*h)), ok("d", t0.Add(6*h))}, nil,
			t0.Add(24 * h), 2, "deploy d in the mature band went well"},
		{"deploys after now are not counted", append(twoUp(), bad("future", t0.Add(10*h))), nil, t0.Add(3 * h), 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := l.Climb(c.deploys, c.incidents, c.now)
			if got.Rung != c.want || got.Top != 3 {
				t.Errorf("rung %d of %d, want %d of 3 (steps %+v)", got.Rung, got.Top, c.want, got.Steps)
			}
			if c.reason != "" {
				if len(got.Steps) == 0 {
					t.Fatalf("no steps, want one saying %q", c.reason)
				}
				last := got.Steps[len(got.Steps)-1]
				wantWords(t, "step", last.Reason, c.reason)
				if last.Rung != got.Rung {
					t.Errorf("last step rung %d, ladder %d", last.Rung, got.Rung)
				}
			}
			// Any order in, the same ladder out.
			r := rand.New(rand.NewSource(7))
			ds := append([]LadderDeploy(nil), c.deploys...)
			r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
			if again := l.Climb(ds, c.incidents, c.now); again.Rung != got.Rung {
				t.Errorf("shuffled: rung %d, want %d", again.Rung, got.Rung)
			}
		})
	}
}

func TestLadderSteps(t *testing.T) {
	l := DefaultLadder()
	got := l.Climb([]LadderDeploy{ok("a", t0), ok("b", t0.Add(2*time.Hour)), bad("c", t0.Add(4*time.Hour))}, nil, t0.Add(24*time.Hour))
	want := []LadderStep{
		{At: t0.Add(time.Hour), Rung: 1, Reason: "deploy a in the mature band went well"},
		{At: t0.Add(3 * time.Hour), Rung: 2, Reason: "deploy b in the mature band went well"},
		{At: t0.Add(4 * time.Hour), Rung: 0, Reason: "deploy c failed or was rolled back"},
	}
	if fmt.Sprint(got.Steps) != fmt.Sprint(want) {
		t.Errorf("steps\n %v\nwant\n %v", got.Steps, want)
	}
	// At most the last 10 steps are kept.
	tall := LadderConfig{Rungs: 20, IncidentWindow: time.Hour, Pass: make([]RungPass, 21)}
	var ds []LadderDeploy
	for i := 0; i < 15; i++ {
		ds = append(ds, ok(fmt.Sprint("d", i), t0.Add(time.Duration(i)*2*time.Hour)))
	}
	got = tall.Climb(ds, nil, t0.Add(100*time.Hour))
	if got.Rung != 15 || len(got.Steps) != 10 || got.Steps[9].Rung != 15 || got.Steps[0].Rung != 6 {
		t.Errorf("15 climbs: rung %d, %d steps (%v), want 15 and the last 10", got.Rung, len(got.Steps), got.Steps)
	}
	// The incident window is config; zero is 1h.
	wide := DefaultLadder()
	wide.IncidentWindow = 2 * time.Hour
	if got := wide.Climb([]LadderDeploy{ok("a", t0)}, []time.Time{t0.Add(90 * time.Minute)}, t0.Add(5*time.Hour)); got.Rung != 0 {
		t.Errorf("2h window, incident at 90m: rung %d, want 0", got.Rung)
	}
	if got := wide.Climb([]LadderDeploy{ok("a", t0)}, nil, t0.Add(90*time.Minute)); got.Rung != 0 {
		t.Errorf("2h window, 90m after: rung %d, want 0 (still in the window)", got.Rung)
	}
	zero := DefaultLadder()
	zero.IncidentWindow = 0
	if got := zero.Climb([]LadderDeploy{ok("a", t0)}, []time.Time{t0.Add(59 * time.Minute)}, t0.Add(5*time.Hour)); got.Rung != 0 {
		t.Errorf("zero window (1h), incident at 59m: rung %d, want 0", got.Rung)
	}
	// Climb leaves its inputs alone.
	in := []LadderDeploy{ok("b", t0.Add(2*time.Hour)), ok("a", t0)}
	inc := []time.Time{t0.Add(10 * time.Hour), t0.Add(9 * time.Hour)}
	l.Climb(in, inc, t0.Add(24*time.Hour))
	if in[0].ID != "b" || !inc[0].Equal(t0.Add(10*time.Hour)) {
		t.Error("Climb sorted the caller's slices")
	}
}

// BUG: Climb documents that it "replays deploys and incidents (any order) up to now", but an
// incident opened after now still drops the service when it falls in the window of a deploy made
// before now. Replaying history (the backtest, or a gate request with the incident list read
// later) then sees the future.
func TestLadderIgnoresIncidentsAfterNow(t *testing.T) {
	later := t0.Add(5 * time.Hour)
	now := later.Add(30 * time.Minute)
	got := DefaultLadder().Climb(append(twoUp(), ok("d3", later)), []time.Time{now.Add(10 * time.Minute)}, now)
	if got.Rung != 2 {
		t.Errorf("incident 10 minutes after now: rung %d (steps %v), want 2: at now it has not happened", got.Rung, got.Steps)
	}
	for _, s := range got.Steps {
		if s.At.After(now) {
			t.Errorf("a step at %s, after now %s", s.At, now)
		}
	}
}

func TestLadderPasses(t *testing.T) {
	l := DefaultLadder()
	type want struct{ pass, auto bool }
	P, A, N := want{true, false}, want{true, true}, want{false, false}
	levels := []Level{Low, Medium, High}
	for _, c := range []struct {
		rung int
		band string
		want [3]want // low, medium, high
	}{
		{0, "mature", [3]want{P, P, N}},
		{0, "healthy", [3]want{P, N, N}},
		{1, "mature", [3]want{P, P, N}},
		{1, "healthy", [3]want{P, N, N}},
		{2, "mature", [3]want{P, P, N}},
		{2, "healthy", [3]want{P, P, N}},
		{3, "mature", [3]want{A, P, N}},
		{3, "healthy", [3]want{P, P, N}},
		{4, "mature", [3]want{A, P, N}}, // above the top reads as the top
		{-1, "mature", [3]want{N, N, N}},
	} {
		for i, lv := range levels {
			pass, auto := l.Passes(c.rung, c.band, lv)
			if (want{pass, auto}) != c.want[i] {
				t.Errorf("rung %d %s %s: pass %v auto %v, want %+v", c.rung, c.band, lv, pass, auto, c.want[i])
			}
		}
	}
	for _, b := range []string{"watch", "blocked", "", "legendary"} {
		for r := 0; r <= 3; r++ {
			for _, lv := range levels {
				if pass, auto := l.Passes(r, b, lv); pass || auto {
					t.Errorf("rung %d %q %s: passes; only mature and healthy can", r, b, lv)
				}
			}
		}
	}
	// High never passes, whatever the config says.
	lax := DefaultLadder()
	lax.Pass[3].Mature = append(lax.Pass[3].Mature, High)
	if pass, _ := lax.Passes(3, "mature", High); pass {
		t.Error("high passed")
	}
	if pass, auto := (LadderConfig{}).Passes(0, "mature", Low); pass || auto {
		t.Error("an empty ladder passes")
	}
}

func TestCheckLadder(t *testing.T) {
	if p := CheckLadder(DefaultLadder()); len(p) > 0 {
		t.Fatalf("DefaultLadder: %v", p)
	}
	for _, c := range []struct {
		name  string
		edit  func(*LadderConfig)
		key   string
		words []string
	}{
		{"no rungs", func(c *LadderConfig) { c.Rungs, c.Pass = 0, c.Pass[:1] }, "gate.trust_ladder.rungs:", []string{"want 1 to 20, got 0"}},
		{"too many rungs", func(c *LadderConfig) { c.Rungs, c.Pass = 21, make([]RungPass, 22) }, "gate.trust_ladder.rungs:", []string{"got 21"}},
		{"a pass entry short", func(c *LadderConfig) { c.Pass = c.Pass[:3] }, "gate.trust_ladder.pass:", []string{"want one entry per rung, 4 (rungs 0..3), got 3"}},
		{"a pass entry too many", func(c *LadderConfig) { c.Pass = append(c.Pass, RungPass{}) }, "gate.trust_ladder.pass:", []string{"got 5"}},
		{"high in a pass", func(c *LadderConfig) { c.Pass[2].Healthy = []Level{Low, High} }, "gate.trust_ladder.pass[2]:", []string{"high risk never passes"}},
		{"high for mature", func(c *LadderConfig) { c.Pass[3].Mature = []Level{High} }, "gate.trust_ladder.pass[3]:", []string{"high risk never passes"}},
		{"unknown level", func(c *LadderConfig) { c.Pass[0].Mature = []Level{"lowish"} }, "gate.trust_ladder.pass[0]:", []string{`unknown risk level "lowish"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultLadder()
			cfg.Pass = append([]RungPass(nil), cfg.Pass...)
			c.edit(&cfg)
			p := CheckLadder(cfg)
			found := false
			for _, x := range p {
				if strings.HasPrefix(x, c.key) {
					found = true
					wantWords(t, "problem", x, c.words...)
				}
			}
			if !found {
				t.Errorf("problems %q: want one starting with %q", p, c.key)
			}
		})
	}
	// The default ladder is the documented one.
	d := DefaultLadder()
	if d.Rungs != 3 || d.IncidentWindow != time.Hour || len(d.Pass) != 4 {
		t.Errorf("DefaultLadder %+v", d)
	}
}
