package risk_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/releaseops/releaseops/risk"
)

func btxModel(t testing.TB) *risk.Model {
	t.Helper()
	m, p := risk.Compile(risk.DefaultConfig())
	if len(p) > 0 {
		t.Fatalf("Compile: %v", p)
	}
	return m
}

// btxHistory is a fixed synthetic history, in UTC under the default model, built so each
// deploy's level follows from the factors by hand:
//
//   - calm: 20 weekday deploys at 10:00, mature, covered, small changes; the 10th fails.
//     At most 3.3 points (1 failure in 10) plus 7.5 for the first one's unknowns: all low.
//   - middling: 10 weekday deploys at 20:00 (off-hours 10.5), band watch (6), on-call and
//     change unknown (7.5 + 10); the first two fail, so the failure rate is unknown (5) or
//     at least 2/9 (7.4) and more: 34 + 5..10 points, all medium.
//   - risky: 10 Saturday 03:00 deploys, one a week (weekend 15), blocked (10), nobody on call
//     (15), an incident open throughout (15), 100-file changes (20), the failure rate always
//     unknown (at most 4 deploys in 30 days; 5): 80 points or more, all high; 6 fail.
//
// A warm-up deploy before From and an incident resolved before the risky ones start test
// that neither is counted nor seen.
func btxHistory() risk.BacktestInput {
	var in risk.BacktestInput
	mon := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) // a Monday
	weekday := func(i int) time.Time { return mon.AddDate(0, 0, 7*(i/5)+i%5) }
	in.From = mon
	in.Deploys = append(in.Deploys, risk.BacktestDeploy{Service: "calm", ID: "warm-up", At: mon.Add(-24 * time.Hour), Failed: true, Band: "mature"})
	small := &risk.Change{Files: 1, Additions: 10, Deletions: 2, Commits: 1}
	for i := 0; i < 20; i++ {
		in.Deploys = append(in.Deploys, risk.BacktestDeploy{Service: "calm", ID: fmt.Sprintf("calm-%d", i), At: weekday(i).Add(10 * time.Hour),
			Failed: i == 9, Band: "mature", Change: small, OnCall: &risk.OnCall{Covered: true, Who: "alice"}})
	}
	for i := 0; i < 10; i++ {
		in.Deploys = append(in.Deploys, risk.BacktestDeploy{Service: "middling", ID: fmt.Sprintf("mid-%d", i), At: weekday(i).Add(20 * time.Hour),
			Failed: i < 2, Band: "watch"})
	}
	big := &risk.Change{Files: 100, Additions: 5000, Deletions: 100, Commits: 40}
	sat := mon.AddDate(0, 0, 5).Add(3 * time.Hour)
	for i := 0; i < 10; i++ {
		in.Deploys = append(in.Deploys, risk.BacktestDeploy{Service: "risky", ID: fmt.Sprintf("risky-%d", i), At: sat.AddDate(0, 0, 7*i),
			Failed: i%5 < 3, Band: "blocked", Change: big, OnCall: &risk.OnCall{Covered: false}})
	}
	in.Incidents = []risk.BacktestIncident{
		{Service: "risky", ID: "P1", Title: "error rate", Opened: mon},
		{Service: "calm", ID: "P0", Title: "long gone", Opened: mon.Add(-48 * time.Hour), Resolved: mon.Add(-47 * time.Hour)},
		// Opened right after a calm deploy: that deploy must not see it, the next one must.
		{Service: "calm", ID: "P2", Title: "after", Opened: weekday(3).Add(10*time.Hour + time.Minute), Resolved: weekday(3).Add(12 * time.Hour)},
	}
	return in
}

func TestBacktestKnownTable(t *testing.T) {
	m := btxModel(t)
	in := btxHistory()
	in.Deploys[5], in.Deploys[30] = in.Deploys[30], in.Deploys[5] // out of order: Backtest sorts
	got := m.Backtest(in)
	want := map[risk.Level][2]int{risk.Low: {20, 1}, risk.Medium: {10, 2}, risk.High: {10, 6}}
	if got.Deploys != 40 || got.Failed != 9 || got.FailedRatedHigh != 6 || got.Services != 3 || len(got.Levels) != 3 {
		t.Fatalf("totals: %+v", got)
	}
	for i, l := range []risk.Level{risk.Low, risk.Medium, risk.High} {
		r := got.Levels[i]
		if r.Level != l || r.Deploys != want[l][0] || r.Failed != want[l][1] {
			t.Errorf("%s: %+v, want %d deploys, %d failed", l, r, want[l][0], want[l][1])
		}
	}
	if r := got.Levels[2]; r.FailureRate != 0.6 || r.MeanScore < 80 {
		t.Errorf("high row %+v", r)
	}
	if !got.From.Equal(in.From.Add(10*time.Hour)) || !got.To.Equal(time.Date(2026, 8, 8, 3, 0, 0, 0, time.UTC)) {
		t.Errorf("span %v..%v", got.From, got.To)
	}
}

// Each deploy is rated from what came before it only: the assessments of a prefix of the
// history are the same whether or not the rest follows.
func TestBacktestNoLookAhead(t *testing.T) {
	m := btxModel(t)
	in := btxHistory()
	var all []risk.Assessment
	var ids []string
	m.Replay(in, func(d *risk.BacktestDeploy, a risk.Assessment) { all, ids = append(all, a), append(ids, d.ID) })
	for _, cut := range []int{4, 5, 17, 30} {
		prefix := in
		prefix.Deploys = in.Deploys[:cut+1] // +1: the warm-up is not rated
		i := 0
		m.Replay(prefix, func(d *risk.BacktestDeploy, a risk.Assessment) {
			if j := indexOf(ids, d.ID); j < 0 || !reflect.DeepEqual(a, all[j]) {
				t.Errorf("cut %d: %s rated differently with the future removed", cut, d.ID)
			}
			i++
		})
		if i != cut {
			t.Errorf("cut %d: %d rated", cut, i)
		}
	}
	// calm-3 is made a minute before P2 opens, calm-4 the next day after it resolved; P0
	// resolved before anything: none of them sees an open incident. The risky ones all do.
	for j, id := range ids {
		a := all[j]
		var inc risk.Factor
		for _, f := range a.Factors {
			if f.ID == risk.FactorIncidents {
				inc = f
			}
		}
		if wantOpen := id[:5] == "risky"; (inc.Value == 1) != wantOpen {
			t.Errorf("%s: open_incidents %v (%s)", id, inc.Value, inc.Reason)
		}
	}
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

// btxSynthetic is n production deploys over 180 days across services, with incidents
// around a tenth of the failures and on-call reads on most deploys, in time order.
func btxSynthetic(n, services int) risk.BacktestInput {
	rng := rand.New(rand.NewPCG(13, 6))
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	span := 180 * 24 * time.Hour
	step := span / time.Duration(n)
	bands := []string{"mature", "healthy", "watch", "blocked", ""}
	in := risk.BacktestInput{From: start.Add(30 * 24 * time.Hour)}
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i)*step + time.Duration(rng.IntN(int(step/time.Second)))*time.Second)
		svc := fmt.Sprintf("svc-%04d", rng.IntN(services))
		d := risk.BacktestDeploy{Service: svc, ID: fmt.Sprintf("d%d", i), At: at, Failed: rng.Float64() < 0.12, Band: bands[rng.IntN(len(bands))]}
		if rng.IntN(3) > 0 {
			d.OnCall = &risk.OnCall{Covered: rng.IntN(10) > 0, Who: "u", Until: at.Add(time.Duration(rng.IntN(12)) * time.Hour)}
		}
		if rng.IntN(2) == 0 {
			d.Change = &risk.Change{Files: rng.IntN(80), Additions: rng.IntN(2000), Deletions: rng.IntN(500)}
		}
		if d.Failed && rng.IntN(10) == 0 {
			in.Incidents = append(in.Incidents, risk.BacktestIncident{Service: svc, ID: d.ID + "-inc", Title: "x", Opened: at.Add(10 * time.Minute),
				Resolved: at.Add(time.Duration(1+rng.IntN(48)) * time.Hour)})
		}
		in.Deploys = append(in.Deploys, d)
	}
	return in
}

func TestBacktestSyntheticIsDeterministic(t *testing.T) {
	m := btxModel(t)
	in := btxSynthetic(5000, 50)
	a, b := m.Backtest(in), m.Backtest(in)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	sum := 0
	for _, r := range a.Levels {
		sum += r.Deploys
	}
	if sum != a.Deploys || a.Deploys == 0 || a.Deploys >= 5000 {
		t.Fatalf("table %+v: levels do not add up, or From was ignored", a)
	}
}

// BenchmarkBacktest100k replays 100,000 deploys of 1,000 services over 180 days (the
// issue's target: under 30 s).
func BenchmarkBacktest100k(b *testing.B) {
	m := btxModel(b)
	in := btxSynthetic(100_000, 1000)
	in.From = time.Time{} // rate every one of them
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := m.Backtest(in)
		if c.Deploys == 0 {
			b.Fatal("nothing rated")
		}
	}
}
