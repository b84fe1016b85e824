package terraform

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// failedOnly runs the harness, expects every subject to fail with its reason and nothing to
// be stored, and returns the failures by subject.
func failedOnly(t *testing.T, h *harness) map[string]string {
	t.Helper()
	sum := h.run(t)
	if sum.Facts != 0 || sum.Observations != 0 || h.factRows(t) != 0 {
		t.Fatalf("a failed read stored %d facts (%d rows)", sum.Facts, h.factRows(t))
	}
	out := map[string]string{}
	for _, f := range sum.Failures {
		out[f.Subject] = f.Error
	}
	if len(out) != len(h.subjects) {
		t.Fatalf("%d failures for %d subjects: %+v", len(out), len(h.subjects), sum.Failures)
	}
	return out
}

func expectError(t *testing.T, got string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("error %q lacks %q", got, p)
		}
	}
}

func TestSyncRevokedToken(t *testing.T) {
	f := recordedFake(t)
	f.token = "another"
	h := newHarness(t, f, recordedSubjects())
	errs := failedOnly(t, h)
	expectError(t, errs["acme/checkout-prod"], "acme/checkout-prod: GET /api/v2/organizations/acme/workspaces/checkout-prod: 401 Unauthorized: terraform.token is invalid or revoked")
	// The failure is recorded on the subject, for the card and GET /api/v1/sync.
	rec, ok, err := h.db.SyncRecordOf(context.Background(), "terraform", "acme/search-prod")
	if err != nil || !ok || !strings.Contains(rec.LastError, "terraform.token is invalid or revoked") {
		t.Fatalf("record %+v %v %v", rec, ok, err)
	}
}

func TestSyncOrganizationTypo(t *testing.T) {
	h := newHarness(t, recordedFake(t), []syncer.Subject{subject("acme-typo/checkout-prod", "checkout")})
	h.sync.Organization = "acme-typo"
	errs := failedOnly(t, h)
	expectError(t, errs["acme-typo/checkout-prod"], "GET /api/v2/organizations/acme-typo: 404 Not Found",
		"terraform.organization acme-typo not found or not visible to the token")

	// An organisation named in terraform_workspaces rather than by the config is named as such.
	h = newHarness(t, recordedFake(t), []syncer.Subject{subject("acne/checkout-prod", "checkout")})
	expectError(t, failedOnly(t, h)["acne/checkout-prod"], "organization acne (from terraform_workspaces of service checkout) not found or not visible to the token")
}

func TestSyncMissingWorkspace(t *testing.T) {
	h := newHarness(t, recordedFake(t), []syncer.Subject{subject("acme/x", "checkout"), subject("acme/checkout-prod", "checkout")})
	sum := h.run(t)
	if len(sum.Failures) != 1 {
		t.Fatalf("failures %+v", sum.Failures)
	}
	expectError(t, sum.Failures[0].Error, "acme/x: GET /api/v2/organizations/acme/workspaces/x: 404 Not Found: workspace acme/x not found: check terraform_workspaces of service checkout")
	// The other workspace goes on.
	if sum.Facts == 0 || len(h.facts(t, "checkout")) == 0 {
		t.Fatalf("the good workspace stored nothing: %+v", sum)
	}
}

func TestSyncServerErrorIsRetriedThenNamed(t *testing.T) {
	f := recordedFake(t)
	down := fakeAnswer{status: http.StatusServiceUnavailable, header: http.Header{"Content-Type": {"text/html"}}, body: readSyncdata(t, "error.503.html")}
	f.enqueue("/api/v2/workspaces/"+checkoutID+"/runs", down, down, down)
	h := newHarness(t, f, recordedSubjects()[:1])
	errs := failedOnly(t, h)
	expectError(t, errs["acme/checkout-prod"], "GET /api/v2/workspaces/"+checkoutID+"/runs?", "503 Service Unavailable: the Terraform API failed (retried 2 times)")
	if got := h.clock.Slept(); len(got) != 2 || got[0] != time.Second || got[1] != 2*time.Second {
		t.Errorf("waits %v, want 1s then 2s", got)
	}

	// Once it answers again, the next run reads everything.
	if sum := h.run(t); len(sum.Failures) != 0 || sum.Facts != 5 {
		t.Fatalf("after the outage: %+v", sum)
	}

	// One 502 is retried within the read and nobody notices.
	f.enqueue("/api/v2/organizations/acme/workspaces/search-prod", fakeAnswer{status: http.StatusBadGateway, body: []byte("bad gateway")})
	h = newHarness(t, f, recordedSubjects()[1:2])
	if sum := h.run(t); len(sum.Failures) != 0 || sum.Facts == 0 {
		t.Fatalf("a 502 then a 200: %+v", sum)
	}
}

func TestSyncTimeoutIsNamed(t *testing.T) {
	f := recordedFake(t)
	f.enqueue("/api/v2/workspaces/"+checkoutID+"/current-assessment-result", fakeAnswer{hang: true})
	h := newHarness(t, f, recordedSubjects()[:1])
	h.runner.Timeout = 300 * time.Millisecond
	errs := failedOnly(t, h)
	expectError(t, errs["acme/checkout-prod"], "acme/checkout-prod: timed out after 300ms (sync.timeout)")
}

func TestSyncRateLimitIsWaitedOutAndCounted(t *testing.T) {
	f := recordedFake(t)
	limited := fakeAnswer{status: http.StatusTooManyRequests, body: readSyncdata(t, "error.429.json"),
		header: http.Header{"X-Ratelimit-Limit": {"30"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"0.75"}}}
	f.enqueue("/api/v2/workspaces/"+searchID+"/runs", limited, limited)
	h := newHarness(t, f, recordedSubjects())
	sum := h.run(t)
	if len(sum.Failures) != 0 || sum.Facts != 12 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.RateWaits != 2 || sum.RateWaited != 1500*time.Millisecond {
		t.Errorf("%d waits for %s, want 2 for 1.5s", sum.RateWaits, sum.RateWaited)
	}
	if sum.Requests != 9+2 {
		t.Errorf("%d requests, want the 9 of a read and the 2 answered 429", sum.Requests)
	}
	if got := h.clock.Slept(); len(got) != 2 || got[0] != 750*time.Millisecond {
		t.Errorf("slept %v", got)
	}
	if rl := h.sync.RateLimit(); !rl.Known || rl.Limit != 30 {
		t.Errorf("rate limit reading %+v", rl)
	}

	// A reset beyond what a request may wait is handed to the runner, which waits for it
	// between two reads of the subject and reads again.
	long := limited
	long.header = http.Header{"X-Ratelimit-Reset": {"600"}}
	f.enqueue("/api/v2/organizations/acme/workspaces/checkout-prod", long)
	h = newHarness(t, f, recordedSubjects()[:1])
	sum = h.run(t)
	if len(sum.Failures) != 0 || sum.Facts != 5 || sum.RateWaits != 1 {
		t.Fatalf("after a long reset: %+v", sum)
	}
	if got := h.clock.Slept(); len(got) != 1 || got[0] != 10*time.Minute {
		t.Errorf("the runner slept %v, want 10m", got)
	}
}

func TestSyncForbiddenAndUnreadableAnswers(t *testing.T) {
	for _, tc := range []struct {
		answer fakeAnswer
		want   string
	}{
		{fakeAnswer{status: http.StatusForbidden, body: []byte(`{"errors":[{"status":"403","title":"forbidden"}]}`)},
			"403 Forbidden: the token may not read this"},
		{fakeAnswer{status: http.StatusOK, body: []byte(`{"data": [`)}, "200 OK: unreadable answer"},
	} {
		f := recordedFake(t)
		f.enqueue("/api/v2/workspaces/"+checkoutID+"/runs", tc.answer)
		h := newHarness(t, f, recordedSubjects()[:1])
		expectError(t, failedOnly(t, h)["acme/checkout-prod"], "GET /api/v2/workspaces/"+checkoutID+"/runs?", tc.want)
	}
}

// An API host that does not answer costs one timeout, not one per workspace.
func TestSyncUnreachableAPIFailsFast(t *testing.T) {
	f := recordedFake(t)
	f.enqueue("/api/v2/ping", fakeAnswer{hang: true})
	h := newHarness(t, f, recordedSubjects())
	h.runner.Timeout = 300 * time.Millisecond
	start := time.Now()
	for _, err := range failedOnly(t, h) {
		expectError(t, err, "timed out after 300ms (sync.timeout)")
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s", el)
	}
	if hits := f.Hits(); len(hits) != 1 {
		t.Errorf("hits %v, want the one ping", hits)
	}
	// Later, with the API back, the next run connects and reads.
	h.clock.Sleep(context.Background(), time.Minute)
	if sum := h.run(t); len(sum.Failures) != 0 || sum.Facts != 12 {
		t.Fatalf("after the outage: %+v", sum)
	}
}
