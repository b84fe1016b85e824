package server

import (
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics, on a registry of their own so that tests can
// run several servers in one process.
type Metrics struct {
	Registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	events        *prometheus.CounterVec
	ingest        *prometheus.HistogramVec
	queueDepth    prometheus.Gauge
	batchSize     prometheus.Histogram
	commitSeconds prometheus.Histogram
	rejected      *prometheus.CounterVec
	// Rescores and RescoreSeconds are for the rescoring worker.
	Rescores       prometheus.Counter
	RescoreSeconds prometheus.Histogram
	ScoreLag       prometheus.Histogram
}

// NewMetrics registers the metrics.
func NewMetrics() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "releaseops_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"route"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_events_total",
			Help: "Webhook deliveries by source, event type and outcome."}, []string{"source", "type", "outcome"}),
		ingest: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "releaseops_ingest_duration_seconds",
			Help: "Time from a verified body to its durable commit, by source.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"source"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Name: "releaseops_writer_queue_depth",
			Help: "Writes waiting for the group-commit writer after its last commit."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "releaseops_writer_batch_size",
			Help: "Writes per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "releaseops_writer_commit_seconds",
			Help: "Duration of one group commit.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "releaseops_requests_shed_total",
			Help: "Requests refused with 503 or 429 before any work, by reason."}, []string{"reason"}),
		Rescores: prometheus.NewCounter(prometheus.CounterOpts{Name: "releaseops_rescores_total",
			Help: "Service rescores."}),
		RescoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "releaseops_rescore_seconds",
			Help: "Time to rescore one service (load, score, store).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		ScoreLag: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "releaseops_score_lag_seconds",
			Help: "Time from an event's commit to the stored score that reflects it.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	r.MustRegister(m.requests, m.duration, m.events, m.ingest, m.queueDepth, m.batchSize, m.commitSeconds, m.rejected,
		m.Rescores, m.RescoreSeconds, m.ScoreLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Delivery implements ingest.Observer.
func (m *Metrics) Delivery(source, eventType, outcome string, took time.Duration) {
	if eventType == "" {
		eventType = "unknown"
	}
	m.events.WithLabelValues(source, eventType, outcome).Inc()
	if outcome != "rejected" {
		m.ingest.WithLabelValues(source).Observe(took.Seconds())
	}
}

// Batch is the storage writer's batch hook (Writer.SetOnBatch).
func (m *Metrics) Batch(size int, took time.Duration, queued int) {
	m.batchSize.Observe(float64(size))
	m.commitSeconds.Observe(took.Seconds())
	m.queueDepth.Set(float64(queued))
}

func (m *Metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // write the response now, so the status below is the real one
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(c.Response().Status)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
		return nil
	}
}
