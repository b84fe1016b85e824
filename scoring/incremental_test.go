package scoring

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// ScoreIndexed must give Score's card, to the byte, at every step of a growing history: facts
// arriving in order and late (extended), in a new backing array and from the future (rebuilt).
// Sync reads of the repository are mixed in, and the coverage record goes stale on the way.
func TestScoreIndexedMatchesScore(t *testing.T) {
	e := goldenEngine(t)
	svc := checkoutService()
	all := append(history(1500), syncHistory(rand.New(rand.NewPCG(8, 9)))...)
	stale := []releaseops.SyncCoverage{{Source: "github", Subject: "acme/checkout", LastAttempt: now.Add(-time.Hour),
		LastSuccess: now.Add(-30 * day), Failures: 40, Error: "401 bad credentials"}}
	cr := rand.New(rand.NewPCG(11, 12)) // its own source, so the facts' steps stay as they were
	slices.SortFunc(all, func(a, b releaseops.Fact) int { return factCmp(&a, &b) })
	r := rand.New(rand.NewPCG(3, 4)) // 150 other seeds were tried when this was written
	// Late arrivals: some facts swap places with one up to 60 positions later, so they arrive
	// after newer ones (the facts already delivered never change, as the contract requires).
	for k := 0; k < len(all)/8; k++ {
		i := r.IntN(len(all) - 61)
		j := i + 1 + r.IntN(60)
		all[i], all[j] = all[j], all[i]
	}
	var idx Index
	buf := make([]releaseops.Fact, 0, len(all)+64)
	at := now.Add(-60 * day)
	extended, rebuilt := 0, 0
	var newest int64
	for step := 0; len(buf) < len(all); step++ {
		n := min(len(all)-len(buf), 1+r.IntN(40))
		chunk := all[len(buf) : len(buf)+n]
		switch r.IntN(12) {
		case 0: // the caller's slice was reallocated
			buf = append(append(make([]releaseops.Fact, 0, cap(buf)), buf...), chunk...)
		default:
			buf = append(buf, chunk...)
		}
		at = at.Add(time.Duration(r.IntN(90)) * time.Minute)
		for _, f := range chunk {
			newest = max(newest, f.At.UnixNano())
		}
		if r.IntN(8) != 0 && at.UnixNano() < newest {
			at = time.Unix(0, newest) // mostly score after the newest fact; sometimes before it (a fact from the future)
		}
		// The coverage moves too: a recent success re-confirms the latest read (one after now
		// does not), and the branch view must follow it even when the facts did not change.
		sync := stale
		switch cr.IntN(3) {
		case 1:
			sync = []releaseops.SyncCoverage{{Source: "github", Subject: "ACME/checkout", LastAttempt: at, LastSuccess: at.Add(-time.Duration(cr.IntN(600)) * time.Minute)}}
		case 2:
			sync = []releaseops.SyncCoverage{{Source: "github", Subject: "acme/checkout", LastAttempt: at, LastSuccess: at.Add(time.Minute)}}
		}
		before := idx.x
		got := marshal(t, e.ScoreIndexed(Input{Service: svc, Facts: buf, Now: at, Sync: sync}, &idx))
		want := marshal(t, e.Score(Input{Service: svc, Facts: slices.Clone(buf), Now: at, Sync: sync}))
		if !bytes.Equal(got, want) {
			t.Fatalf("step %d (%d facts, now %s): the indexed card differs:\n%s", step, len(buf), at.Format(time.RFC3339), firstDiff(want, got))
		}
		if idx.x == before && before != nil {
			extended++
		} else {
			rebuilt++
		}
	}
	if reads := len(idx.x.of(releaseops.FactRepoState)); reads < 30 {
		t.Fatalf("only %d repo_state facts indexed", reads)
	}
	if extended < 10 || rebuilt < 3 {
		t.Fatalf("the test did not exercise both paths: %d extended, %d rebuilt", extended, rebuilt)
	}
	t.Logf("%d steps extended the index, %d rebuilt it", extended, rebuilt)
}

// The coverage is not part of the fact index: the same facts with a new coverage record give
// the card of the new record, re-confirmed read included.
func TestScoreIndexedFollowsCoverage(t *testing.T) {
	e := goldenEngine(t)
	facts := lostDeletion().facts
	var idx Index
	for _, sync := range [][]releaseops.SyncCoverage{nil, coverage(ago_(time.Hour), ""), coverage(now.Add(time.Hour), ""), coverage(ago_(time.Hour), "")} {
		in := Input{Service: baseService(), Facts: facts, Now: now, Sync: sync}
		got := marshal(t, e.ScoreIndexed(in, &idx))
		if want := marshal(t, e.Score(in)); !bytes.Equal(got, want) {
			t.Fatalf("coverage %+v: the indexed card differs:\n%s", sync, firstDiff(want, got))
		}
	}
}

// A service with a deep history costs far less per round with the index (see the benchmark).
func BenchmarkScoreIndexedRound(b *testing.B) {
	e := goldenEngine(b)
	svc := checkoutService()
	all := history(5000)
	slices.SortFunc(all, func(a, b releaseops.Fact) int { return factCmp(&a, &b) })
	base := all[:len(all)-500]
	for _, mode := range []string{"Score", "ScoreIndexed"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				buf := append(make([]releaseops.Fact, 0, len(all)), base...)
				var idx Index
				e.ScoreIndexed(Input{Service: svc, Facts: buf, Now: now}, &idx)
				b.StartTimer()
				for k := len(base); k < len(all); k += 50 { // ten rounds of 50 new facts
					buf = append(buf, all[k:k+50]...)
					in := Input{Service: svc, Facts: buf, Now: now}
					if mode == "Score" {
						e.Score(in)
					} else {
						e.ScoreIndexed(in, &idx)
					}
				}
			}
		})
	}
}
