package syncer

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sync's Prometheus metrics: what each run cost and found, and the state of
// each source's subjects after it.
type Metrics struct {
	runs        *prometheus.CounterVec
	requests    *prometheus.CounterVec
	rateWaits   *prometheus.CounterVec
	facts       *prometheus.CounterVec
	subjects    *prometheus.GaugeVec
	lastRun     *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	rateLimit   *prometheus.GaugeVec
	failedReads *prometheus.CounterVec
}

// NewMetrics registers the sync metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_sync_runs_total",
			Help: "Sync runs by source, trigger and outcome (ok, failures, error)."}, []string{"source", "trigger", "outcome"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_sync_requests_total",
			Help: "API requests made by sync, by source and result (fetched, not_modified)."}, []string{"source", "result"}),
		rateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_sync_rate_limit_waits_total",
			Help: "Times a sync waited for an API rate limit to reset, by source."}, []string{"source"}),
		facts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_sync_facts_total",
			Help: "Fact rows written by sync (changed observations only), by source."}, []string{"source"}),
		failedReads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_sync_failed_reads_total",
			Help: "Subject reads that failed, by source."}, []string{"source"}),
		subjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "releaseops_sync_subjects",
			Help: "Subjects by source and the state of their latest read (ok, failing)."}, []string{"source", "state"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "releaseops_sync_last_run_timestamp_seconds",
			Help: "When the source's latest sync run finished (unix seconds)."}, []string{"source"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "releaseops_sync_run_seconds",
			Help: "Duration of a sync run, by source.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}, []string{"source"}),
		rateLimit: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "releaseops_sync_rate_limit_remaining",
			Help: "The source API's remaining rate limit at its latest answer."}, []string{"source"}),
	}
	reg.MustRegister(m.runs, m.requests, m.rateWaits, m.facts, m.failedReads, m.subjects, m.lastRun, m.duration, m.rateLimit)
	return m
}

// Observe records a finished run and the status after it.
func (m *Metrics) Observe(sum Summary, st *SourceStatus) {
	outcome := "ok"
	switch {
	case sum.Error != "":
		outcome = "error"
	case len(sum.Failures) > 0:
		outcome = "failures"
	}
	m.runs.WithLabelValues(sum.Source, sum.Trigger, outcome).Inc()
	m.requests.WithLabelValues(sum.Source, "fetched").Add(float64(sum.Requests - sum.NotModified))
	m.requests.WithLabelValues(sum.Source, "not_modified").Add(float64(sum.NotModified))
	m.rateWaits.WithLabelValues(sum.Source).Add(float64(sum.RateWaits))
	m.facts.WithLabelValues(sum.Source).Add(float64(sum.Facts))
	m.failedReads.WithLabelValues(sum.Source).Add(float64(len(sum.Failures)))
	m.lastRun.WithLabelValues(sum.Source).Set(float64(sum.FinishedAt.UnixMilli()) / 1000)
	m.duration.WithLabelValues(sum.Source).Observe(sum.FinishedAt.Sub(sum.StartedAt).Seconds())
	if st != nil {
		m.subjects.WithLabelValues(sum.Source, "ok").Set(float64(st.Subjects.OK))
		m.subjects.WithLabelValues(sum.Source, "failing").Set(float64(st.Subjects.Failing))
		if st.RateLimit != nil {
			m.rateLimit.WithLabelValues(sum.Source).Set(float64(st.RateLimit.Remaining))
		}
	}
}

// Observer returns the Scheduler's Observe hook: it reads the source's status after each run.
func (m *Metrics) Observer(s *Scheduler) func(Summary) {
	return func(sum Summary) {
		for _, src := range s.Sources {
			if src.Name() != sum.Source {
				continue
			}
			st, err := StatusOf(context.Background(), s.Runner.DB, src)
			if err != nil {
				m.Observe(sum, nil)
				return
			}
			m.Observe(sum, &st)
			return
		}
	}
}
