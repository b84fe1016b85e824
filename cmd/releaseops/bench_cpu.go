package main

import (
	"syscall"
	"time"

	"github.com/releaseops/releaseops/loadtest"
)

// cpuReading is this process's CPU time and the whole machine's busy time at one moment.
// On a machine shared with other work the ratio of two phases moves with the neighbours'
// load; the CPU each 2xx costs this process moves far less, so the bench reports both.
type cpuReading struct {
	at      time.Time
	self    float64 // seconds, user + system, every thread of this process
	machine float64 // seconds, every CPU, any process
}

func readCPU() cpuReading {
	r := cpuReading{at: time.Now(), machine: loadtest.CPUGroups{}.Sample().MachineBusy}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.self = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return r
}

// cpuUse fills a phase's CPU figures from readings around loadtest.Run, which spends
// warmup+measured of the wall time and counts only the measured part's answers.
func cpuUse(p *benchPhase, before, after cpuReading, warmup, measured time.Duration) {
	wall := after.at.Sub(before.at).Seconds()
	if wall <= 0 {
		return
	}
	self := after.self - before.self
	p.SelfCores = self / wall
	if after.machine > before.machine {
		p.OtherCores = max(0, (after.machine-before.machine-self)/wall)
	}
	var ok int
	for _, e := range p.Endpoints {
		ok += e.OK
	}
	if ok > 0 && measured > 0 {
		// The warm-up's answers are not counted: scale them in by its share of the time.
		answers := float64(ok) * float64(warmup+measured) / float64(measured)
		p.CPUPerAnswer = time.Duration(self / answers * 1e9)
	}
}

// writerPerAnswer is the writer's requests per 2xx over a phase (warm-up scaled in as above).
func writerPerAnswer(before, after batchStats, p benchPhase, warmup, measured time.Duration) float64 {
	var ok int
	for _, e := range p.Endpoints {
		ok += e.OK
	}
	if ok == 0 || measured <= 0 {
		return 0
	}
	return (after.requests - before.requests) / (float64(ok) * float64(warmup+measured) / float64(measured))
}
