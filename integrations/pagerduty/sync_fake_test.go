package pagerduty

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// pdBase is the API root the fake serves under: a non-empty path, so that a client that
// ignored the configured endpoint fails loudly.
const pdBase = "/pd"

const pdToken = "pd-token"

// syncClock is the injected clock: Sleep advances it instead of waiting.
type syncClock struct {
	mu    sync.Mutex
	t     time.Time
	slept []time.Duration
}

func newSyncClock() *syncClock {
	return &syncClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *syncClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *syncClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *syncClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *syncClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// syncPD answers like the REST API v2: routes are keyed by path, and for the lists
// by the filter the list is asked with and the offset (routeKey), so that pages are served
// as recorded. Unknown paths get PagerDuty's 404; a wrong token its 401.
type syncPD struct {
	t     testing.TB
	srv   *httptest.Server
	clock *syncClock

	mu     sync.Mutex
	routes map[string][]byte
	hits   []string // path and query as received, without pdBase
	// intercept, when set, may answer a request itself (rate limits, failures).
	intercept func(w http.ResponseWriter, r *http.Request, key string) bool
}

func newSyncPD(t testing.TB, clock *syncClock) *syncPD {
	g := &syncPD{t: t, clock: clock, routes: map[string][]byte{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

// routeKey is what a request is answered by: the path, plus for lists the one filter the
// list is asked by and the offset.
func routeKey(path string, q url.Values) string {
	switch {
	case path == "/incidents":
		return path + "|" + q.Get("service_ids[]") + "|" + cmpOr(q.Get("offset"), "0")
	case path == "/oncalls":
		return path + "|" + q.Get("escalation_policy_ids[]") + "|" + cmpOr(q.Get("offset"), "0")
	case strings.HasSuffix(path, "/log_entries"):
		return path + "|" + cmpOr(q.Get("offset"), "0")
	}
	return path
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sync", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// set answers key with body.
func (g *syncPD) set(key string, body []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.routes[key] = body
}

// serveCheckout registers the recorded checkout service (PCHK123): four incidents over two
// pages, three with log entries, three levels on call.
func (g *syncPD) serveCheckout() {
	g.set("/services/PCHK123", testdata(g.t, "checkout/service.json"))
	g.set("/escalation_policies/PEP2", testdata(g.t, "checkout/escalation_policy.json"))
	g.set("/incidents|PCHK123|0", testdata(g.t, "checkout/incidents.page1.json"))
	g.set("/incidents|PCHK123|2", testdata(g.t, "checkout/incidents.page2.json"))
	for _, id := range []string{"PINC001", "PINC002", "PINC003"} {
		g.set("/incidents/"+id+"/log_entries|0", testdata(g.t, "checkout/log_entries."+id+".json"))
	}
	g.set("/oncalls|PEP2|0", testdata(g.t, "checkout/oncalls.json"))
}

// Hits returns the requests answered since the last call, and forgets them.
func (g *syncPD) Hits() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	h := g.hits
	g.hits = nil
	return h
}

func (g *syncPD) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, pdBase)
	if !ok || r.Method != http.MethodGet {
		g.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	key := routeKey(path, q)
	g.mu.Lock()
	rel := path
	if r.URL.RawQuery != "" {
		rel += "?" + r.URL.RawQuery
	}
	g.hits = append(g.hits, rel)
	body, found := g.routes[key]
	intercept := g.intercept
	g.mu.Unlock()

	if got := r.Header.Get("Accept"); got != "application/vnd.pagerduty+json;version=2" {
		g.t.Errorf("%s: Accept %q", rel, got)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ratelimit-limit", "960")
	w.Header().Set("ratelimit-remaining", "900")
	w.Header().Set("ratelimit-reset", "42")
	if intercept != nil && intercept(w, r, key) {
		return
	}
	if r.Header.Get("Authorization") != "Token token="+pdToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write(testdata(g.t, "errors/401.json"))
		return
	}
	if path == "/incidents" {
		g.checkIncidentQuery(rel, q)
	}
	if !found {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(testdata(g.t, "errors/404.json"))
		return
	}
	_, _ = w.Write(body)
}

// checkIncidentQuery holds the incident list to what PagerDuty needs for a whole window:
// every status, since and until in UTC no more than six months apart.
func (g *syncPD) checkIncidentQuery(rel string, q url.Values) {
	since, err1 := time.Parse(time.RFC3339, q.Get("since"))
	until, err2 := time.Parse(time.RFC3339, q.Get("until"))
	if err1 != nil || err2 != nil || until.Sub(since) > 180*24*time.Hour || !until.Equal(g.clock.Now()) {
		g.t.Errorf("%s: since/until %q %q", rel, q.Get("since"), q.Get("until"))
	}
	if got := strings.Join(q["statuses[]"], ","); got != "triggered,acknowledged,resolved" || q.Get("time_zone") != "UTC" {
		g.t.Errorf("%s: statuses %q, time zone %q", rel, got, q.Get("time_zone"))
	}
}

// fail answers requests whose key starts with prefix with status and the recorded error
// body, the first n times (n < 0: always).
func (g *syncPD) fail(prefix string, status, n int, header http.Header) {
	var mu sync.Mutex
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		if !strings.HasPrefix(key, prefix) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if n == 0 {
			return false
		}
		n--
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(testdata(g.t, fmt.Sprintf("errors/%d.json", status)))
		return true
	}
}

// newTestSyncer reads the fake with its clock.
func newTestSyncer(g *syncPD, token string) *Syncer {
	return NewSyncer(SyncConfig{Token: token, APIURL: g.srv.URL + pdBase + "/", HTTPClient: g.srv.Client(),
		Now: g.clock.Now, Sleep: g.clock.Sleep,
		List: func(context.Context) ([]syncer.Subject, error) {
			return []syncer.Subject{checkoutSubject()}, nil
		}})
}

func checkoutSubject() syncer.Subject {
	return syncer.Subject{Key: "PCHK123", Service: "checkout", Subject: releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PCHK123"}}
}

// syncJSON renders v for failure messages.
func syncJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// pageOf renders a list answer as PagerDuty does.
func pageOf(field string, items []json.RawMessage, offset, limit int, more bool) []byte {
	b, err := json.Marshal(map[string]any{field: items, "offset": offset, "limit": limit, "more": more, "total": nil})
	if err != nil {
		panic(err)
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }
