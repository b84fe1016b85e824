package main

import (
	"fmt"
	"time"

	"github.com/releaseops/releaseops/loadtest"
)

// benchSlice is one loadtest.Run of a phase with the CPU and writer readings around it.
type benchSlice struct {
	rep           *loadtest.Report
	before, after cpuReading
	b0, b1        batchStats
}

// benchRounds accumulates the slices of one phase. With --rounds N the verify-and-commit
// ceiling and the product run alternately, N short slices each, so that both sides see the
// same neighbours on a shared machine: one long ceiling phase then one long product phase
// gave ratios from 22% to 155% for the same build while other work came and went.
type benchRounds struct {
	reps                []*loadtest.Report
	self, machine, wall float64
	batches             batchStats
	n                   int
}

func (r *benchRounds) add(s benchSlice) {
	r.reps = append(r.reps, s.rep)
	r.self += s.after.self - s.before.self
	r.machine += s.after.machine - s.before.machine
	r.wall += s.after.at.Sub(s.before.at).Seconds()
	r.batches.count += s.b1.count - s.b0.count
	r.batches.requests += s.b1.requests - s.b0.requests
	r.batches.seconds += s.b1.seconds - s.b0.seconds
	r.n++
}

// phase is the accumulated slices as one phase; warmup and measured are one slice's.
func (r *benchRounds) phase(warmup, measured time.Duration) benchPhase {
	rep := loadtest.Merge(r.reps...)
	p := phaseOf(rep)
	t0 := time.Unix(0, 0)
	cpuUse(&p, cpuReading{at: t0}, cpuReading{at: t0.Add(time.Duration(r.wall * 1e9)), self: r.self, machine: r.machine},
		time.Duration(r.n)*warmup, time.Duration(r.n)*measured)
	p.AvgBatch, p.WriterBusy = writerUse(batchStats{}, r.batches, rep.Elapsed.Seconds())
	p.WriterPerAnswer = writerPerAnswer(batchStats{}, r.batches, p, time.Duration(r.n)*warmup, time.Duration(r.n)*measured)
	p.Rounds = r.n
	return p
}

// sliceLine is one round's ceiling and product rates, to see whether a gap is steady or
// comes from one moment (the sync's first run, a neighbour's build).
func sliceLine(c, d benchSlice) string {
	rate := func(s benchSlice) (float64, time.Duration) {
		var r float64
		var p99 time.Duration
		for _, l := range s.rep.Labels() {
			sum := s.rep.Summary(l)
			r, p99 = r+sum.PerSecond, max(p99, sum.P99)
		}
		return r, p99
	}
	cr, cp := rate(c)
	dr, dp := rate(d)
	ratio := 0.0
	if cr > 0 {
		ratio = 100 * dr / cr
	}
	others := func(s benchSlice) float64 {
		w := s.after.at.Sub(s.before.at).Seconds()
		if w <= 0 {
			return 0
		}
		return max(0, (s.after.machine-s.before.machine)-(s.after.self-s.before.self)) / w
	}
	return fmt.Sprintf("ceiling %.0f/s p99 %s, product %.0f/s p99 %s: %.1f%%; other processes %.2f / %.2f cores",
		cr, ms(cp), dr, ms(dp), ratio, others(c), others(d))
}
