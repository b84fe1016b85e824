package pagerduty

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

func readErr(t *testing.T, s *Syncer, subj syncer.Subject) (error, *syncer.Stats) {
	t.Helper()
	var stats syncer.Stats
	res, err := s.Read(syncer.WithStats(context.Background(), &stats), subj, syncer.State{})
	if err == nil {
		t.Fatalf("Read(%s) succeeded: %v", subj.Key, obsKeys(res))
	}
	if len(res.Observations) != 0 {
		t.Errorf("a failed read returned %d observations", len(res.Observations))
	}
	if strings.Contains(err.Error(), pdToken) {
		t.Errorf("error leaks the token: %v", err)
	}
	return err, &stats
}

// A 429 is waited out for as long as Retry-After says (else ratelimit-reset), counted as a
// rate-limit wait, and the read completes.
func TestSyncWaitsOutRateLimits(t *testing.T) {
	cases := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"Retry-After", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"ratelimit-reset", http.Header{"Ratelimit-Reset": {"13"}}, 13 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newSyncClock()
			g := newSyncPD(t, clock)
			g.serveCheckout()
			g.fail("/incidents|PCHK123|2", http.StatusTooManyRequests, 1, c.header)
			s := newTestSyncer(g, pdToken)
			// The incidents end where the clock stood when the read began, and the wait moves
			// it: the fake checks until against the clock, so freeze what it sees.
			start := clock.Now()
			g.clock = &syncClock{t: start}
			res, stats := syncRead(t, s, checkoutSubject(), syncer.State{})
			if len(res.Observations) != 6 {
				t.Errorf("observations %v", obsKeys(res))
			}
			if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{c.want}) {
				t.Errorf("slept %v, want [%v]", got, c.want)
			}
			if stats.RateWaits.Load() != 1 || time.Duration(stats.WaitedNanos.Load()) != c.want || stats.Requests.Load() != 9 {
				t.Errorf("stats: %d waits (%v), %d requests; want 1 wait of %v, 9 requests",
					stats.RateWaits.Load(), time.Duration(stats.WaitedNanos.Load()), stats.Requests.Load(), c.want)
			}
		})
	}
}

// A rate limit that outlasts the retries is handed to the runner, which waits between reads.
func TestSyncRateLimitThatStaysSaysWhenToComeBack(t *testing.T) {
	clock := newSyncClock()
	g := newSyncPD(t, clock)
	g.serveCheckout()
	g.fail("/services/", http.StatusTooManyRequests, -1, http.Header{"Retry-After": {"20"}})
	err, stats := readErr(t, newTestSyncer(g, pdToken), checkoutSubject())
	var ra syncer.RetryAt
	if !errors.As(err, &ra) || !ra.RetryAt().Equal(clock.Now().Add(20*time.Second)) {
		t.Errorf("error %v does not say when to retry (RetryAt)", err)
	}
	if !strings.Contains(err.Error(), "pagerduty service PCHK123 (checkout): GET /services/PCHK123: 429 Too Many Requests after 3 waits") {
		t.Errorf("error = %v", err)
	}
	if stats.Requests.Load() != 4 || stats.RateWaits.Load() != 3 {
		t.Errorf("%d requests, %d waits; want 4 and 3", stats.Requests.Load(), stats.RateWaits.Load())
	}
}

func TestSyncErrorsNameTheProblem(t *testing.T) {
	cases := []struct {
		name  string
		setup func(g *syncPD)
		token string
		subj  syncer.Subject
		want  string
		slept []time.Duration
	}{
		{name: "revoked token", token: "revoked",
			want: "pagerduty service PCHK123 (checkout): GET /services/PCHK123: 401 Unauthorized: pagerduty.token is invalid or revoked (PagerDuty: Authentication failed)"},
		{name: "unknown service", subj: syncer.Subject{Key: "PXXXX", Service: "checkout"},
			want: "pagerduty service PXXXX not found: check pagerduty_service_id of service checkout (GET /services/PXXXX answered 404)"},
		{name: "policy gone", setup: func(g *syncPD) { delete(g.routes, "/escalation_policies/PEP2") },
			want: "GET /escalation_policies/PEP2: 404 Not Found: escalation policy PEP2 does not exist or is not visible to pagerduty.token"},
		{name: "scope missing", setup: func(g *syncPD) { g.fail("/incidents|", http.StatusForbidden, -1, nil) },
			want: "GET /incidents?limit=100&service_ids[]=PCHK123&since=2026-09-02T12:00:00Z&sort_by=created_at:asc&statuses[]=triggered&statuses[]=acknowledged&statuses[]=resolved&time_zone=UTC&until=2026-12-01T12:00:00Z: " +
				"403 Forbidden: pagerduty.token may not read incidents (an OAuth token needs the incidents.read scope; a read-only API key reads everything)"},
		{name: "server error after retries", setup: func(g *syncPD) { g.fail("/oncalls|", http.StatusInternalServerError, -1, nil) },
			want:  "GET /oncalls?escalation_policy_ids[]=PEP2&include[]=users&limit=100&time_zone=UTC: 500 Internal Server Error: PagerDuty failed, and again when retried",
			slept: []time.Duration{time.Second, 2 * time.Second}},
		{name: "server error once", setup: func(g *syncPD) { g.fail("/oncalls|", http.StatusBadGateway, 1, nil) },
			slept: []time.Duration{time.Second}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newSyncClock()
			g := newSyncPD(t, clock)
			g.serveCheckout()
			if c.setup != nil {
				c.setup(g)
			}
			token := cmpOr(c.token, pdToken)
			subj := c.subj
			if subj.Key == "" {
				subj = checkoutSubject()
			}
			s := newTestSyncer(g, token)
			g.clock = &syncClock{t: clock.Now()} // the waits move the syncer's clock, not the window asked
			if c.want == "" {
				syncRead(t, s, subj, syncer.State{})
			} else {
				err, _ := readErr(t, s, subj)
				if !strings.Contains(err.Error(), c.want) {
					t.Errorf("error\n got %v\nwant %s", err, c.want)
				}
			}
			if got := clock.Slept(); !reflect.DeepEqual(got, c.slept) {
				t.Errorf("slept %v, want %v", got, c.slept)
			}
		})
	}
}

// An answer slower than the attempt's timeout fails the read with a timeout, naming the call.
func TestSyncTimesOut(t *testing.T) {
	clock := newSyncClock()
	g := newSyncPD(t, clock)
	g.serveCheckout()
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		if key == "/oncalls|PEP2|0" {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}
		return false
	}
	hc := g.srv.Client()
	hc.Timeout = 50 * time.Millisecond
	s := NewSyncer(SyncConfig{Token: pdToken, APIURL: g.srv.URL + pdBase, HTTPClient: hc, Now: clock.Now, Sleep: clock.Sleep})
	err, _ := readErr(t, s, checkoutSubject())
	if !strings.Contains(err.Error(), "pagerduty service PCHK123 (checkout): GET /oncalls?") || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error = %v", err)
	}
}

// Through the framework: a failed read stores nothing, records the reason, and the next run
// (the token fixed) stores the service.
func TestSyncFailureStoresNothing(t *testing.T) {
	ctx := context.Background()
	clock := newSyncClock()
	g := newSyncPD(t, clock)
	g.serveCheckout()
	db := openDB(t)
	r := &syncer.Runner{DB: db, Now: clock.Now, Sleep: clock.Sleep}
	list := func(context.Context) ([]syncer.Subject, error) {
		return []syncer.Subject{checkoutSubject(), {Key: "PXXXX", Service: "search", Subject: releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PXXXX"}}}, nil
	}
	bad := NewSyncer(SyncConfig{Token: "revoked", APIURL: g.srv.URL + pdBase, HTTPClient: g.srv.Client(), Now: clock.Now, Sleep: clock.Sleep, List: list})
	sum, err := r.Run(ctx, bad, syncer.Options{})
	if err != nil || len(sum.Failures) != 2 || sum.Facts != 0 {
		t.Fatalf("run with a revoked token: %+v %v", sum, err)
	}
	if d, _ := db.CountDeliveries(ctx); d != 0 {
		t.Errorf("%d deliveries stored by failed reads", d)
	}
	rec, _, _ := db.SyncRecordOf(ctx, "pagerduty", "PCHK123")
	if !strings.Contains(rec.LastError, "pagerduty.token is invalid or revoked") || rec.Failures != 1 {
		t.Errorf("record after 401: %+v", rec)
	}

	good := NewSyncer(SyncConfig{Token: pdToken, APIURL: g.srv.URL + pdBase, HTTPClient: g.srv.Client(), Now: clock.Now, Sleep: clock.Sleep, List: list})
	sum, err = r.Run(ctx, good, syncer.Options{})
	if err != nil || len(sum.Failures) != 1 || sum.Failures[0].Subject != "PXXXX" || sum.Facts != 6 {
		t.Fatalf("run with the token fixed: %+v %v", sum, err)
	}
	if want := "pagerduty service PXXXX not found: check pagerduty_service_id of service search"; !strings.HasPrefix(sum.Failures[0].Error, want) {
		t.Errorf("failure %q, want %q…", sum.Failures[0].Error, want)
	}
	if facts, _ := db.FactsForService(ctx, "search", time.Time{}); len(facts) != 0 {
		t.Errorf("%d facts stored for the service not found", len(facts))
	}
}
