package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/loadtest"
)

type benchResult struct {
	Machine      benchMachine `json:"machine"`
	Command      string       `json:"command"`
	Services     int          `json:"services"`
	Concurrency  int          `json:"concurrency"`
	Duration     string       `json:"duration_per_phase"`
	BodyBytes    int          `json:"deploy_body_bytes"`
	StartedAt    time.Time    `json:"started_at"`
	Runs         []benchRun   `json:"runs"`
	PeakRSSBytes int64        `json:"peak_rss_bytes"`
}

type benchMachine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	CPUModel   string `json:"cpu_model"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
}

type benchRun struct {
	Synchronous string       `json:"synchronous"`
	Driver      string       `json:"driver,omitempty"`       // postgres; empty: sqlite
	Replicas    int          `json:"replicas,omitempty"`     // postgres: replicas sharing the schema
	ReplicaMode string       `json:"replica_mode,omitempty"` // process or inprocess
	Protects    string       `json:"protects"`
	Phases      []benchPhase `json:"phases"`
	Notes       []string     `json:"notes,omitempty"`
}

type benchPhase struct {
	Name      string             `json:"phase"`
	Endpoints []loadtest.Summary `json:"endpoints"`
	Seconds   float64            `json:"seconds"`
	Rounds    int                `json:"rounds,omitempty"` // slices alternated with the other side (--rounds)
	AvgBatch  float64            `json:"avg_group_commit,omitempty"`
	// WriterPerAnswer is the writer's requests (transactions queued) per 2xx: 1 is the
	// delivery's own; the rest are what others wrote meanwhile (rescoring, outbox, sync).
	WriterPerAnswer float64 `json:"writer_requests_per_2xx,omitempty"`
	// This process's CPU over the phase (server and load generator), per 2xx and in cores,
	// and the cores the rest of the machine used meanwhile.
	CPUPerAnswer time.Duration        `json:"cpu_per_2xx_ns,omitempty"`
	SelfCores    float64              `json:"process_cores,omitempty"`
	OtherCores   float64              `json:"other_processes_cores,omitempty"`
	WriterBusy   float64              `json:"writer_busy_share,omitempty"` // share of the phase the writer spent in transactions
	Stored       int64                `json:"deliveries_in_db,omitempty"`
	ScoreLag     *benchLag            `json:"score_lag,omitempty"`
	RSSBytes     int64                `json:"peak_rss_bytes_so_far"`
	CPU          []loadtest.CPUUse    `json:"cpu_cores,omitempty"`            // postgres: cores used by each group of processes
	Waits        []loadtest.WaitShare `json:"pg_activity,omitempty"`          // postgres: mean backends by state and wait event
	PG           *loadtest.PGRates    `json:"pg_server,omitempty"`            // postgres: WAL flushes and commits per second, whole server
	PGRoundTrip  time.Duration        `json:"pg_round_trip_p50_ns,omitempty"` // postgres: a pg_stat_activity query from the bench process, median
	Replicas     []loadtest.HostTally `json:"by_replica,omitempty"`           // postgres: each replica's requests, slow answers and leases
}

type benchLag struct {
	Samples  int           `json:"samples"`
	Failures int           `json:"not_seen_within_10s"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
	Error    string        `json:"error,omitempty"`
	// postgres: the rescoring replica's own figures over the phase (its /metrics).
	Rounds       int           `json:"rescore_rounds,omitempty"` // rounds that stored new facts' scores (warm-up included)
	RoundsPerSec float64       `json:"rescore_rounds_per_second,omitempty"`
	RoundLag     time.Duration `json:"mean_wake_to_stored_ns,omitempty"` // first commit after the last round → scores stored, mean
	Rescores     int           `json:"services_rescored,omitempty"`
	RescoreMean  time.Duration `json:"mean_rescore_ns,omitempty"` // one service's scoring, mean
}

func phaseOf(rep *loadtest.Report) benchPhase {
	p := benchPhase{Seconds: rep.Elapsed.Seconds()}
	for _, l := range rep.Labels() {
		p.Endpoints = append(p.Endpoints, rep.Summary(l))
	}
	return p
}

// webhookRate is the phase's 2xx answers per second over its webhook endpoints.
func (p benchPhase) webhookRate() float64 {
	var r float64
	for _, e := range p.Endpoints {
		if strings.HasPrefix(e.Label, "POST /webhooks/") || strings.HasPrefix(e.Label, "POST /bench/") {
			r += e.PerSecond
		}
	}
	return r
}

func (r benchRun) phase(name string) (benchPhase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return benchPhase{}, false
}

// batchStats are the writer's cumulative batch figures, from the service's metrics.
type batchStats struct{ count, requests, seconds float64 }

func gatherBatches(a *app.App) batchStats {
	var b batchStats
	mfs, err := a.Metrics.Registry.Gather()
	if err != nil {
		return b
	}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		switch mf.GetName() {
		case "releaseops_writer_batch_size":
			b.count, b.requests = float64(h.GetSampleCount()), h.GetSampleSum()
		case "releaseops_writer_commit_seconds":
			b.seconds = h.GetSampleSum()
		}
	}
	return b
}

// writerUse summarises the writer between two readings over a phase of elapsed seconds.
func writerUse(before, after batchStats, elapsed float64) (meanBatch, busy float64) {
	n := after.count - before.count
	if n <= 0 || elapsed <= 0 {
		return 0, 0
	}
	return (after.requests - before.requests) / n, (after.seconds - before.seconds) / elapsed
}

func printHeader(w io.Writer, res *benchResult, o benchOptions) {
	m := res.Machine
	fmt.Fprintf(w, "releaseops bench — %s — %d CPUs (%s), GOMAXPROCS %d, %s %s\n", res.StartedAt.Format(time.RFC3339), m.CPUs, m.CPUModel, m.GOMAXPROCS, m.GoVersion, m.OS)
	fmt.Fprintf(w, "The load generator runs in this process and shares the %d cores with the server, over loopback,\n", m.CPUs)
	fmt.Fprintf(w, "keep-alive client, %d webhook connections in a closed loop; %d services; deploy bodies %d B;\n", o.concurrency, o.services, o.bodyBytes)
	fmt.Fprintf(w, "each phase %s after a %s warm-up; every figure counts 2xx answers only.\n", o.duration, o.warmup)
}

func printRun(w io.Writer, r benchRun) {
	if r.Driver != "" {
		fmt.Fprintf(w, "\nstorage.driver=%s, %d replicas (%s) on one schema — %s\n", r.Driver, r.Replicas, r.ReplicaMode, r.Protects)
	} else {
		fmt.Fprintf(w, "\nstorage.synchronous=%s — %s\n", r.Synchronous, r.Protects)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "%-7s %-30s %9s %9s %9s %9s %8s\n", "phase", "endpoint", "2xx/s", "p50", "p99", "max", "non-2xx")
	for _, p := range r.Phases {
		for _, e := range p.Endpoints {
			fmt.Fprintf(w, "%-7s %-30s %9.0f %9s %9s %9s %8d\n", p.Name, e.Label, e.PerSecond, ms(e.P50), ms(e.P99), ms(e.Max), e.NonOK())
			if e.NonOK() > 0 {
				fmt.Fprintf(w, "        answers by status: %v; transport errors %d %s\n", e.Status, e.Errors, e.LastError)
			}
		}
		switch {
		case p.AvgBatch > 0 && r.Driver != "":
			fmt.Fprintf(w, "        mean group commit: %.1f writes; the replicas' writers inside a transaction (waiting for the writer lock included), summed: %.0f%% of the time; rows in the database: %d\n", p.AvgBatch, 100*p.WriterBusy, p.Stored)
		case p.AvgBatch > 0:
			fmt.Fprintf(w, "        mean group commit: %.1f writes; writer inside a transaction %.0f%% of the time; rows in the database: %d\n", p.AvgBatch, 100*p.WriterBusy, p.Stored)
		}
		if p.Rounds > 1 {
			fmt.Fprintf(w, "        %d slices of %.1f s, alternated with the other side\n", p.Rounds, p.Seconds/float64(p.Rounds))
		}
		if p.WriterPerAnswer > 0 {
			fmt.Fprintf(w, "        writer requests per 2xx: %.3f\n", p.WriterPerAnswer)
		}
		if p.CPUPerAnswer > 0 {
			fmt.Fprintf(w, "        this process: %.0f µs of CPU per 2xx, %.2f cores; other processes on the machine: %.2f cores\n",
				float64(p.CPUPerAnswer)/float64(time.Microsecond), p.SelfCores, p.OtherCores)
		}
		if l := p.ScoreLag; l != nil {
			fmt.Fprintf(w, "        2xx → updated score (marker service, API polled every 5 ms): n=%d p50 %s p99 %s max %s, not seen within 10 s: %d %s\n",
				l.Samples, ms(l.P50), ms(l.P99), ms(l.Max), l.Failures, l.Error)
			if l.Rounds > 0 {
				fmt.Fprintf(w, "        rescoring replica: %d rounds (%.1f/s), first wake → scores stored %s mean; %d services rescored, %s each\n",
					l.Rounds, l.RoundsPerSec, ms(l.RoundLag), l.Rescores, ms(l.RescoreMean))
			}
		}
		if len(p.Replicas) > 1 {
			var parts []string
			for _, r := range p.Replicas {
				part := fmt.Sprintf("%s %d / %d", r.Host, r.Requests, r.Slow)
				if len(r.Leases) > 0 {
					part += " (leases: " + strings.Join(r.Leases, ", ") + ")"
				}
				parts = append(parts, part)
			}
			fmt.Fprintf(w, "        by replica, requests / answered in over %s: %s\n", ms(slowAnswer), strings.Join(parts, "; "))
		}
		if len(p.CPU) > 0 {
			var parts []string
			for _, c := range p.CPU {
				parts = append(parts, fmt.Sprintf("%s %.2f", c.Group, c.Cores))
			}
			fmt.Fprintf(w, "        CPU cores used: %s\n", strings.Join(parts, "; "))
		}
		if p.PG != nil {
			fmt.Fprintf(w, "        PostgreSQL server (whole server, warm-up included): %.0f WAL fsyncs/s, %.1f MB/s of WAL, %.0f commits/s; a round trip (small query) p50 %s\n",
				p.PG.WALSyncsPerSec, p.PG.WALMBPerSec, p.PG.CommitsPerSec, ms(p.PGRoundTrip))
		}
		if len(p.Waits) > 0 {
			var parts []string
			for i, a := range p.Waits {
				if i == 8 || a.Backends < 0.05 {
					break
				}
				parts = append(parts, fmt.Sprintf("%s/%s/%s %.2f", a.App, a.State, a.Wait, a.Backends))
			}
			fmt.Fprintf(w, "        PostgreSQL backends (mean, sampled every 10 ms): %s\n", strings.Join(parts, "; "))
		}
	}
	printRatios(w, r)
}

func printRatios(w io.Writer, r benchRun) {
	echo, hasEcho := r.phase("echo")
	commit, hasCommit := r.phase("commit")
	dep, hasDeploy := r.phase("deploy")
	if !hasDeploy {
		return
	}
	rate := dep.webhookRate()
	var p99 time.Duration
	for _, e := range dep.Endpoints {
		p99 = e.P99
	}
	if hasEcho && echo.webhookRate() > 0 {
		fmt.Fprintf(w, "product deploy events / bare echo ceiling:        %5.1f%%\n", 100*rate/echo.webhookRate())
	}
	if hasCommit && commit.webhookRate() > 0 {
		ratio := rate / commit.webhookRate()
		fmt.Fprintf(w, "product deploy events / verify-and-commit ceiling: %5.1f%%  (target ≥ 60%%: %s)\n", 100*ratio, verdict(ratio >= 0.6))
	}
	if mix, ok := r.phase("mix"); ok && hasCommit && commit.webhookRate() > 0 {
		fmt.Fprintf(w, "product realistic mix / verify-and-commit ceiling: %5.1f%%\n", 100*mix.webhookRate()/commit.webhookRate())
	}
	if r.Driver != "" { // issue 12 sets no absolute rate on PostgreSQL: only the ratio and the p99
		fmt.Fprintf(w, "targets: p99 ≤ 50 ms: %s (%s; %.0f/s)\n", verdict(p99 <= 50*time.Millisecond), ms(p99), rate)
		return
	}
	fmt.Fprintf(w, "targets: ≥ 6,000 signed deploy events/s: %s (%.0f/s); p99 < 50 ms: %s (%s)\n",
		verdict(rate >= 6000), rate, verdict(p99 < 50*time.Millisecond), ms(p99))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
