package github

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// readFails reads key and expects an error and nothing else.
func readFails(t *testing.T, s *Syncer, key string) error {
	t.Helper()
	res, err := s.Read(t.Context(), syncer.Subject{Key: key}, syncer.State{})
	if err == nil {
		t.Fatalf("Read(%s): no error", key)
	}
	if !reflect.DeepEqual(res, syncer.Result{}) {
		t.Errorf("Read(%s) failed but returned a result: %+v", key, res)
	}
	return err
}

func TestSyncErrorsNameTheSubjectAndTheCause(t *testing.T) {
	cases := []struct {
		name  string
		setup func(g *syncGitHub)
		want  string
	}{
		{"revoked token", func(g *syncGitHub) { g.fail("/repos/acme/api", http.StatusUnauthorized, "errors/bad-credentials.json") },
			"acme/api: GET /repos/acme/api: 401 bad credentials: the token was revoked or the App uninstalled"},
		{"unknown repository", func(g *syncGitHub) {
			g.set("/repos/acme/api", syncRoute{status: http.StatusNotFound, body: g.testdata("errors/not-found.json")})
		},
			"acme/api: GET /repos/acme/api: 404 not found or not visible to the App"},
		{"no administration permission", func(g *syncGitHub) {
			g.fail("/repos/acme/api/branches/main/protection", http.StatusForbidden, "errors/not-accessible.json")
		}, "acme/api: GET /repos/acme/api/branches/main/protection: 403 Resource not accessible by integration (the App lacks administration:read)"},
		{"no contents permission", func(g *syncGitHub) {
			g.fail("/repos/acme/api/branches/main", http.StatusForbidden, "errors/not-accessible.json")
		}, "acme/api: GET /repos/acme/api/branches/main: 403 Resource not accessible by integration (the App lacks contents:read)"},
		{"server error after retries", func(g *syncGitHub) {
			g.fail("/repos/acme/api/releases?per_page=30", http.StatusInternalServerError, "errors/server-error.json")
		}, "acme/api: GET /repos/acme/api/releases?per_page=30: 500 Server Error (GitHub failed; retried)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newSyncGitHub(t, newSyncClock())
			g.serveRepo("acme/api", acmeAPI)
			c.setup(g)
			err := readFails(t, newTestSyncer(g), "acme/api")
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("err = %q\nwant %q", err, c.want)
			}
			var se *SyncError
			if !errors.As(err, &se) || se.Subject != "acme/api" {
				t.Errorf("err is not a *SyncError naming the subject: %#v", err)
			}
		})
	}
}

func TestSyncServerErrorIsRetried(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	var failures atomic.Int32
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		if key == "/repos/acme/api/branches/main/protection" && failures.Add(1) <= 2 {
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(`{"message":"Server Error"}`))
			return true
		}
		return false
	}
	res, stats := syncRead(t, newTestSyncer(g), "acme/api", syncer.State{})
	if st := syncRepoState(t, res); st.Classic == nil {
		t.Error("protection lost after the retries")
	}
	if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("backoff = %v, want 1s then 2s", got)
	}
	if stats.RateWaits.Load() != 0 {
		t.Errorf("server-error backoff counted as %d rate-limit waits", stats.RateWaits.Load())
	}
}

func TestSyncTimeout(t *testing.T) {
	g := newSyncGitHub(t, newSyncClock())
	g.serveRepo("acme/api", acmeAPI)
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		if strings.Contains(key, "/deployments") {
			<-r.Context().Done() // GitHub never answers
			return true
		}
		return false
	}
	// Long enough for every other call to finish on a loaded machine under -race: only the
	// deployments call, which never gets an answer, may meet the deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	res, err := newTestSyncer(g).Read(ctx, syncer.Subject{Key: "acme/api"}, syncer.State{})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "acme/api: GET /repos/acme/api/deployments?per_page=30: timed out") {
		t.Errorf("err = %v; want a timeout naming the call", err)
	}
	if !reflect.DeepEqual(res, syncer.Result{}) {
		t.Error("a timed-out read returned a result")
	}
}

func TestSyncClientAndSubjectErrors(t *testing.T) {
	notInstalled := errors.New("the GitHub App is not installed on acme/api")
	s := &Syncer{Clients: &syncClients{err: notInstalled}}
	err := readFails(t, s, "acme/api")
	if !errors.Is(err, notInstalled) || !strings.HasPrefix(err.Error(), "acme/api: ") {
		t.Errorf("err = %v", err)
	}
	for _, bad := range []string{"acme", "acme/api/x", "/api", "acme/"} {
		if err := readFails(t, s, bad); !strings.Contains(err.Error(), "owner/name") {
			t.Errorf("Read(%q) = %v", bad, err)
		}
	}
}

func TestSyncWaitsOutRateLimits(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/web", acmeWeb)
	var primary, secondary atomic.Int32
	g.intercept = func(w http.ResponseWriter, r *http.Request, key string) bool {
		h := w.Header()
		switch {
		case key == "/repos/acme/web" && primary.Add(1) == 1:
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(clock.Now().Add(2*time.Second).Unix(), 10))
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(g.testdata("errors/rate-limit.json"))
			return true
		case strings.HasPrefix(key, "/repos/acme/web/releases") && secondary.Add(1) == 1:
			h.Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(g.testdata("errors/secondary-rate-limit.json"))
			return true
		}
		return false
	}
	start := clock.Now()
	res, stats := syncRead(t, newTestSyncer(g), "acme/web", syncer.State{})
	if st := syncRepoState(t, res); len(st.Rulesets) != 1 {
		t.Errorf("the read did not complete after the waits: %s", syncJSON(st))
	}
	if got := clock.Slept(); !reflect.DeepEqual(got, []time.Duration{3 * time.Second, 3 * time.Second}) {
		t.Errorf("waits = %v; want reset+1s = 3s for the primary limit, Retry-After 3s for the secondary", got)
	}
	if stats.RateWaits.Load() != 2 || time.Duration(stats.WaitedNanos.Load()) != 6*time.Second {
		t.Errorf("stats: %d waits for %v, want 2 for 6s", stats.RateWaits.Load(), time.Duration(stats.WaitedNanos.Load()))
	}
	if stats.Requests.Load() != 13 {
		t.Errorf("stats count %d requests, want the 11 of the read and the 2 refused", stats.Requests.Load())
	}
	if got := clock.Now().Sub(start); got != 6*time.Second {
		t.Errorf("the fake clock moved %v, want 6s", got)
	}
}
