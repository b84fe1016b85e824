package syncer

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsObserveARun(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m.Observe(Summary{Source: "github", Trigger: "schedule", StartedAt: start, FinishedAt: start.Add(3 * time.Second),
		Subjects: 3, Facts: 4, Requests: 30, NotModified: 27, RateWaits: 1,
		Failures: []Failure{{Subject: "acme/web", Error: "401"}}},
		&SourceStatus{Subjects: SubjectCounts{Total: 3, OK: 2, Failing: 1}, RateLimit: &RateLimit{Remaining: 4970, Known: true}})
	want := `
# HELP releaseops_sync_requests_total API requests made by sync, by source and result (fetched, not_modified).
# TYPE releaseops_sync_requests_total counter
releaseops_sync_requests_total{result="fetched",source="github"} 3
releaseops_sync_requests_total{result="not_modified",source="github"} 27
# HELP releaseops_sync_runs_total Sync runs by source, trigger and outcome (ok, failures, error).
# TYPE releaseops_sync_runs_total counter
releaseops_sync_runs_total{outcome="failures",source="github",trigger="schedule"} 1
# HELP releaseops_sync_subjects Subjects by source and the state of their latest read (ok, failing).
# TYPE releaseops_sync_subjects gauge
releaseops_sync_subjects{source="github",state="failing"} 1
releaseops_sync_subjects{source="github",state="ok"} 2
# HELP releaseops_sync_rate_limit_remaining The source API's remaining rate limit at its latest answer.
# TYPE releaseops_sync_rate_limit_remaining gauge
releaseops_sync_rate_limit_remaining{source="github"} 4970
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "releaseops_sync_requests_total", "releaseops_sync_runs_total",
		"releaseops_sync_subjects", "releaseops_sync_rate_limit_remaining"); err != nil {
		t.Fatal(err)
	}
}
