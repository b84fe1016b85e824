package pagerduty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

// servePlain registers a PagerDuty service like checkout but plainer: a policy of two
// levels, three incidents of the window (two resolved, one acknowledged, each with its log
// entries) on one page, two people on call.
func (g *syncPD) servePlain(id string) {
	policy := "EP" + id
	ref := func(kind, id string) map[string]any {
		return map[string]any{"id": id, "type": kind + "_reference", "summary": kind + " " + id,
			"self": "https://api.pagerduty.com/" + kind + "s/" + id, "html_url": "https://acme.pagerduty.com/" + kind + "s/" + id}
	}
	raw := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	g.set("/services/"+id, raw(map[string]any{"service": map[string]any{"id": id, "type": "service", "name": "svc " + id, "status": "active",
		"html_url": "https://acme.pagerduty.com/service-directory/" + id, "escalation_policy": ref("escalation_policy", policy)}}))
	g.set("/escalation_policies/"+policy, raw(map[string]any{"escalation_policy": map[string]any{"id": policy, "type": "escalation_policy",
		"escalation_rules": []any{
			map[string]any{"id": "R1", "escalation_delay_in_minutes": 15, "targets": []any{ref("schedule", "S1"+id)}},
			map[string]any{"id": "R2", "escalation_delay_in_minutes": 30, "targets": []any{ref("user", "U2"+id)}},
		}}}))
	var incidents []json.RawMessage
	for i, status := range []string{"resolved", "resolved", "acknowledged"} {
		inc := fmt.Sprintf("Q%s%d", id, i)
		created := time.Date(2026, 11, 10+5*i, 9, 0, 0, 0, time.UTC)
		changed := created.Add(time.Duration(30+20*i) * time.Minute)
		incidents = append(incidents, raw(map[string]any{"id": inc, "type": "incident", "incident_number": 100 + i, "title": "incident " + inc,
			"status": status, "urgency": "high", "created_at": created.Format(time.RFC3339), "last_status_change_at": changed.Format(time.RFC3339),
			"html_url": "https://acme.pagerduty.com/incidents/" + inc, "service": ref("service", id), "escalation_policy": ref("escalation_policy", policy)}))
		g.set("/incidents/"+inc+"/log_entries|0", pageOf("log_entries", []json.RawMessage{
			raw(map[string]any{"id": "L2" + inc, "type": "acknowledge_log_entry", "created_at": created.Add(5 * time.Minute).Format(time.RFC3339)}),
			raw(map[string]any{"id": "L1" + inc, "type": "trigger_log_entry", "created_at": created.Format(time.RFC3339)}),
		}, 0, 25, false))
	}
	g.set("/incidents|"+id+"|0", pageOf("incidents", incidents, 0, 100, false))
	g.set("/oncalls|"+policy+"|0", pageOf("oncalls", []json.RawMessage{
		raw(map[string]any{"escalation_level": 1, "user": map[string]any{"id": "U1" + id, "name": "Primary " + id}, "end": "2026-12-02T09:00:00Z"}),
		raw(map[string]any{"escalation_level": 2, "user": map[string]any{"id": "U2" + id, "name": "Lead " + id}, "end": nil}),
	}, 0, 25, false))
}

// BenchmarkSyncServices reads 500 PagerDuty services from a fake answering every call in
// 50 ms, four at a time as sync.concurrency does, through the runner into a SQLite
// database; then reads them all again unchanged, which must write no fact row.
// Run with -bench SyncServices -benchtime 1x.
func BenchmarkSyncServices(b *testing.B) {
	const services, latency, concurrency = 500, 50 * time.Millisecond, 4
	clock := newSyncClock()
	g := newSyncPD(b, clock)
	subjects := make([]syncer.Subject, services)
	for i := range subjects {
		id := fmt.Sprintf("PS%04d", i)
		g.servePlain(id)
		subjects[i] = syncer.Subject{Key: id, Service: "svc-" + id, Subject: releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: id}}
	}
	g.intercept = func(http.ResponseWriter, *http.Request, string) bool {
		time.Sleep(latency)
		return false
	}
	src := NewSyncer(SyncConfig{Token: pdToken, APIURL: g.srv.URL + pdBase, HTTPClient: g.srv.Client(), Now: clock.Now,
		List: func(context.Context) ([]syncer.Subject, error) { return subjects, nil }})
	for range b.N {
		db, err := storage.Open(context.Background(), b.TempDir()+"/bench.db", storage.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		r := &syncer.Runner{DB: db, Now: clock.Now, Concurrency: concurrency}
		for _, label := range []string{"full", "unchanged"} {
			start := time.Now()
			sum, err := r.Run(context.Background(), src, syncer.Options{Trigger: "bench"})
			el := time.Since(start)
			if err != nil || len(sum.Failures) > 0 {
				b.Fatalf("%s run: %v %+v", label, err, sum.Failures)
			}
			if label == "unchanged" && sum.Facts != 0 {
				b.Errorf("unchanged run wrote %d fact rows", sum.Facts)
			}
			b.ReportMetric(el.Seconds(), label+"-s")
			b.ReportMetric(float64(sum.Requests)/services, label+"-requests/service")
			b.ReportMetric(float64(sum.Facts), label+"-facts")
			b.Logf("%s: %d services in %v, %d requests, %d observations, %d fact rows written", label, services,
				el.Round(time.Millisecond), sum.Requests, sum.Observations, sum.Facts)
		}
		db.Close()
	}
}
