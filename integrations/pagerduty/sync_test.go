package pagerduty

import (
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
	"github.com/releaseops/releaseops/syncer"
)

func syncRead(t *testing.T, s *Syncer, subj syncer.Subject, prev syncer.State) (syncer.Result, *syncer.Stats) {
	t.Helper()
	var stats syncer.Stats
	ctx := syncer.WithStats(context.Background(), &stats)
	res, err := s.Read(ctx, subj, prev)
	if err != nil {
		t.Fatalf("Read(%s): %v", subj.Key, err)
	}
	return res, &stats
}

func observation(t *testing.T, res syncer.Result, key string) syncer.Observation {
	t.Helper()
	for _, o := range res.Observations {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no observation %q among %v", key, obsKeys(res))
	return syncer.Observation{}
}

func obsKeys(res syncer.Result) []string {
	var keys []string
	for _, o := range res.Observations {
		keys = append(keys, o.Key)
	}
	return keys
}

func incidentOf(t *testing.T, res syncer.Result, id string) releaseops.Incident {
	t.Helper()
	o := observation(t, res, "incident:"+id)
	if len(o.Facts) != 1 || o.Facts[0].Incident == nil {
		t.Fatalf("incident %s: facts %s", id, syncJSON(o.Facts))
	}
	f := o.Facts[0]
	if !f.At.Equal(f.Incident.CreatedAt) {
		t.Errorf("incident %s: fact at %v, want its creation %v", id, f.At, f.Incident.CreatedAt)
	}
	return *f.Incident
}

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// paths strips the queries of hits except the offset, so that expectations stay readable.
func paths(hits []string) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		p, q, _ := strings.Cut(h, "?")
		for _, kv := range strings.Split(q, "&") {
			if strings.HasPrefix(kv, "offset=") {
				p += "@" + strings.TrimPrefix(kv, "offset=")
			}
		}
		out[i] = p
	}
	slices.Sort(out)
	return out
}

func TestSyncReadsServiceIncidentsAndOnCalls(t *testing.T) {
	clock := newSyncClock()
	g := newSyncPD(t, clock)
	g.serveCheckout()
	s := newTestSyncer(g, pdToken)

	res, stats := syncRead(t, s, checkoutSubject(), syncer.State{})
	if got, want := obsKeys(res), []string{"service", "oncall", "incident:PINC001", "incident:PINC002", "incident:PINC003", "incident:PINC004"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("observations %v, want %v", got, want)
	}
	// The service is "critical" in PagerDuty (an incident is open): enabled, which is all the
	// fact keeps of it.
	svc := observation(t, res, "service")
	wantSvc := releaseops.PagerDutyService{ID: "PCHK123", EventType: "sync", Name: "checkout", Status: "active", EscalationPolicyID: "PEP2",
		EscalationLevels: 3, URL: "https://acme.pagerduty.com/service-directory/PCHK123"}
	if got := svc.Facts[0].PagerDutyService; len(svc.Facts) != 1 || !reflect.DeepEqual(*got, wantSvc) {
		t.Errorf("service fact %s, want %s", syncJSON(svc.Facts), syncJSON(wantSvc))
	}
	if len(svc.Requests) != 2 || svc.Requests[0].Path != "/services/PCHK123" || svc.Requests[1].Path != "/escalation_policies/PEP2" {
		t.Errorf("service evidence %s", syncJSON(svc.Requests))
	}

	// Alice is on the primary schedule through two layers: listed once, until the later end.
	oc := observation(t, res, "oncall")
	wantOC := releaseops.OnCall{ServiceID: "PCHK123", EscalationPolicyID: "PEP2", Levels: []releaseops.OnCallLevel{
		{Level: 1, User: "Alice Martin", Email: "alice@acme.example", Until: *at("2026-12-01T18:00:00Z")},
		{Level: 2, User: "Bob Chen", Email: "bob@acme.example", Until: *at("2026-12-04T08:00:00Z")},
		{Level: 3, User: "Carol Diaz", Email: "carol@acme.example"},
	}}
	if got := oc.Facts[0].OnCall; !reflect.DeepEqual(*got, wantOC) {
		t.Errorf("oncall fact\n got %s\nwant %s", syncJSON(got), syncJSON(wantOC))
	}

	want := map[string]releaseops.Incident{
		"PINC001": {ID: "PINC001", Number: 1041, EventType: "sync", Status: "resolved", Title: "checkout 5xx rate above 2%", Urgency: "high",
			Priority: "P1", ServiceID: "PCHK123", EscalationPolicyID: "PEP2", CreatedAt: *at("2026-11-20T10:00:00Z"),
			URL: "https://acme.pagerduty.com/incidents/PINC001", AcknowledgedAt: at("2026-11-20T10:05:00Z"), ResolvedAt: at("2026-11-20T10:45:00Z")},
		"PINC002": {ID: "PINC002", Number: 1042, EventType: "sync", Status: "resolved", Title: "payment provider latency p99 over 3s", Urgency: "low",
			ServiceID: "PCHK123", EscalationPolicyID: "PEP2", CreatedAt: *at("2026-11-25T14:30:00Z"),
			URL: "https://acme.pagerduty.com/incidents/PINC002", AcknowledgedAt: at("2026-11-25T14:40:00Z"), ResolvedAt: at("2026-11-25T16:30:00Z")},
		"PINC003": {ID: "PINC003", Number: 1043, EventType: "sync", Status: "acknowledged", Title: "checkout pods crash looping", Urgency: "high",
			ServiceID: "PCHK123", EscalationPolicyID: "PEP2", CreatedAt: *at("2026-11-30T09:00:00Z"),
			URL: "https://acme.pagerduty.com/incidents/PINC003", AcknowledgedAt: at("2026-11-30T09:10:00Z")},
		"PINC004": {ID: "PINC004", Number: 1044, EventType: "sync", Status: "triggered", Title: "checkout queue depth growing", Urgency: "high",
			ServiceID: "PCHK123", EscalationPolicyID: "PEP2", CreatedAt: *at("2026-12-01T11:00:00Z"),
			URL: "https://acme.pagerduty.com/incidents/PINC004"},
	}
	for id, w := range want {
		if got := incidentOf(t, res, id); !reflect.DeepEqual(got, w) {
			t.Errorf("incident %s\n got %s\nwant %s", id, syncJSON(got), syncJSON(w))
		}
	}
	// The evidence of an incident is its own item of the page, and the log entries read.
	o := observation(t, res, "incident:PINC002")
	if len(o.Requests) != 2 || !strings.HasPrefix(o.Requests[0].Path, "/incidents?") || strings.Contains(string(o.Requests[0].Response), "PINC001") ||
		!strings.Contains(o.Requests[0].Path, "service_ids[]=PCHK123") || o.Requests[1].Path != "/incidents/PINC002/log_entries?is_overview=true&limit=100&time_zone=UTC" {
		t.Errorf("incident evidence %s", syncJSON(o.Requests))
	}

	// First read: the service, its policy, two pages of incidents, the on-calls, and the log
	// entries of the three incidents that changed status since they were triggered.
	wantFirst := []string{"/escalation_policies/PEP2", "/incidents", "/incidents/PINC001/log_entries", "/incidents/PINC002/log_entries",
		"/incidents/PINC003/log_entries", "/incidents@2", "/oncalls", "/services/PCHK123"}
	if got := paths(g.Hits()); !reflect.DeepEqual(got, wantFirst) || stats.Requests.Load() != int64(len(wantFirst)) {
		t.Errorf("first read: %v (%d counted), want %v", got, stats.Requests.Load(), wantFirst)
	}

	// Unchanged an hour later: no per-incident call, and the same facts.
	clock.Set(clock.Now().Add(time.Hour))
	again, stats := syncRead(t, s, checkoutSubject(), res.State)
	wantAgain := []string{"/escalation_policies/PEP2", "/incidents", "/incidents@2", "/oncalls", "/services/PCHK123"}
	if got := paths(g.Hits()); !reflect.DeepEqual(got, wantAgain) || stats.Requests.Load() != int64(len(wantAgain)) {
		t.Errorf("unchanged read: %v (%d counted), want %v", got, stats.Requests.Load(), wantAgain)
	}
	for i := range res.Observations {
		if a, b := syncJSON(res.Observations[i].Facts), syncJSON(again.Observations[i].Facts); a != b {
			t.Errorf("observation %s changed on an unchanged read:\n%s\n%s", res.Observations[i].Key, a, b)
		}
	}

	// PINC003 is resolved and PINC004 acknowledged: only those two are asked their log.
	g.set("/incidents|PCHK123|2", testdata(t, "checkout/incidents.page2.later.json"))
	g.set("/incidents/PINC003/log_entries|0", testdata(t, "checkout/log_entries.PINC003.later.json"))
	g.set("/incidents/PINC004/log_entries|0", testdata(t, "checkout/log_entries.PINC004.later.json"))
	clock.Set(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
	later, _ := syncRead(t, s, checkoutSubject(), again.State)
	wantLater := []string{"/escalation_policies/PEP2", "/incidents", "/incidents/PINC003/log_entries", "/incidents/PINC004/log_entries",
		"/incidents@2", "/oncalls", "/services/PCHK123"}
	if got := paths(g.Hits()); !reflect.DeepEqual(got, wantLater) {
		t.Errorf("changed read: %v, want %v", got, wantLater)
	}
	if in := incidentOf(t, later, "PINC003"); in.Status != "resolved" || !in.ResolvedAt.Equal(*at("2026-12-01T13:20:00Z")) || !in.AcknowledgedAt.Equal(*at("2026-11-30T09:10:00Z")) {
		t.Errorf("PINC003 later: %s", syncJSON(in))
	}
	if in := incidentOf(t, later, "PINC004"); in.Status != "acknowledged" || !in.AcknowledgedAt.Equal(*at("2026-12-01T12:30:00Z")) || in.ResolvedAt != nil {
		t.Errorf("PINC004 later: %s", syncJSON(in))
	}
	if in := incidentOf(t, later, "PINC001"); !in.AcknowledgedAt.Equal(*at("2026-11-20T10:05:00Z")) {
		t.Errorf("PINC001 lost its acknowledgement kept in memory: %s", syncJSON(in))
	}
}

func openDB(t testing.TB) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "sync.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Through the framework with a real database: the first run stores the six observations;
// an unchanged run costs the service, its policy, the incident pages and the on-calls, and
// writes no row.
func TestSyncUnchangedRunWritesNoRows(t *testing.T) {
	ctx := context.Background()
	clock := newSyncClock()
	g := newSyncPD(t, clock)
	g.serveCheckout()
	db := openDB(t)
	r := &syncer.Runner{DB: db, Now: clock.Now, Sleep: clock.Sleep, Concurrency: 4}
	src := newTestSyncer(g, pdToken)

	sum, err := r.Run(ctx, src, syncer.Options{Trigger: "cli"})
	if err != nil || len(sum.Failures) != 0 || sum.Observations != 6 || sum.Facts != 6 || sum.Requests != 8 {
		t.Fatalf("first run: %+v %v", sum, err)
	}
	facts, err := db.FactsForService(ctx, "checkout", time.Time{})
	if err != nil || len(facts) != 6 {
		t.Fatalf("facts of checkout: %d %v", len(facts), err)
	}
	for _, f := range facts {
		if f.Service != "checkout" || f.Subject != checkoutSubject().Subject || f.Evidence.Source != "pagerduty" || !f.Evidence.Synced() {
			t.Errorf("fact %s: service %q subject %v evidence %+v", f.Kind, f.Service, f.Subject, f.Evidence)
		}
	}
	deliveries, _ := db.CountDeliveries(ctx)

	clock.Set(clock.Now().Add(time.Hour))
	g.Hits()
	sum, err = r.Run(ctx, src, syncer.Options{Trigger: "cli"})
	if err != nil || len(sum.Failures) != 0 || sum.Observations != 0 || sum.Facts != 0 || sum.Requests != 5 {
		t.Fatalf("unchanged run: %+v %v", sum, err)
	}
	if d, _ := db.CountDeliveries(ctx); d != deliveries {
		t.Errorf("deliveries %d after an unchanged run, want %d", d, deliveries)
	}
	rec, ok, err := db.SyncRecordOf(ctx, "pagerduty", "PCHK123")
	if err != nil || !ok || !rec.LastSuccess.Equal(clock.Now()) || rec.Service != "checkout" {
		t.Errorf("sync record %+v %v %v", rec, ok, err)
	}
	if rl := src.RateLimit(); !rl.Known || rl.Limit != 960 || rl.Remaining != 900 {
		t.Errorf("rate limit reading %+v", rl)
	}
}
