package github

import (
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

func alertFacts(o syncer.Observation) []string {
	var out []string
	for _, f := range o.Facts {
		v := f.Vulnerability
		out = append(out, v.Tool+":"+strconv.Itoa(v.Number)+":"+v.State+":"+v.Severity)
	}
	sort.Strings(out)
	return out
}

func TestSyncAlertsOpenThenFixed(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/api", syncer.State{})
	o := syncObservation(t, res, "alerts")
	want := []string{"code_scanning:7:open:medium", "dependabot:1:open:medium", "dependabot:2:open:high"}
	if got := alertFacts(o); !reflect.DeepEqual(got, want) {
		t.Errorf("alerts = %v, want %v", got, want)
	}
	for _, f := range o.Facts {
		if f.Kind != releaseops.FactVulnerability || f.Vulnerability.Action != "sync" || f.Vulnerability.Repo != "acme/api" || f.Vulnerability.URL == "" {
			t.Errorf("alert fact = %s", syncJSON(f))
		}
	}

	// Dependabot alert #1 is gone from the open list: it was fixed.
	g.ok("/repos/acme/api/dependabot/alerts?state=open&per_page=100", "acme-api/dependabot.later.json")
	clock.Sleep(t.Context(), time.Hour)
	again, _ := syncRead(t, s, "acme/api", res.State)
	o = syncObservation(t, again, "alerts")
	want = []string{"code_scanning:7:open:medium", "dependabot:1:fixed:medium", "dependabot:2:open:high"}
	if got := alertFacts(o); !reflect.DeepEqual(got, want) {
		t.Errorf("after the fix: alerts = %v, want %v", got, want)
	}
	for _, f := range o.Facts {
		if f.Vulnerability.State == "fixed" && !f.At.Equal(clock.Now()) {
			t.Errorf("fixed at %v, want the read's time %v", f.At, clock.Now())
		}
	}
	// The code scanning list answered 304 and was rebuilt from memory.
	for _, q := range o.Requests {
		if strings.Contains(q.Path, "code-scanning") && q.Status != http.StatusNotModified {
			t.Errorf("code scanning request = %d, want 304", q.Status)
		}
	}
	if len(again.Observations) != 1 {
		t.Errorf("observations = %d, want the alerts only", len(again.Observations))
	}

	// Once recorded fixed, it is not reported again.
	third, _ := syncRead(t, s, "acme/api", again.State)
	if len(third.Observations) != 0 {
		t.Errorf("third read: %d observations, want none", len(third.Observations))
	}
}

func TestSyncAlertsFeatureOffIsNotAFailure(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/docs", acmeDocs)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/docs", syncer.State{})
	o := syncObservation(t, res, "alerts")
	if len(o.Facts) != 0 || len(o.Requests) != 2 {
		t.Errorf("alerts with both tools off: %d facts, %d requests; want none and 2", len(o.Facts), len(o.Requests))
	}
}

func TestSyncAlertsPermissionMissingIsAFailure(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/docs", acmeDocs)
	g.fail("/repos/acme/docs/dependabot/alerts?state=open&per_page=100", http.StatusForbidden, "errors/not-accessible.json")
	s := newTestSyncer(g)
	_, err := s.Read(t.Context(), syncer.Subject{Key: "acme/docs"}, syncer.State{})
	if err == nil || !strings.Contains(err.Error(), "acme/docs: GET /repos/acme/docs/dependabot/alerts") || !strings.Contains(err.Error(), "the App lacks dependabot_alerts:read") {
		t.Errorf("err = %v", err)
	}
}

func TestFeatureOff(t *testing.T) {
	for msg, want := range map[string]bool{
		"Dependabot alerts are disabled for this repository.": true,
		"no analysis found": true,
		"Advanced Security must be enabled for this repository to use code scanning.": true,
		"Dependabot alerts are not available for archived repositories.":              true,
		"Resource not accessible by integration":                                      false,
		"Not Found":                                                                   false,
	} {
		if featureOff(msg) != want {
			t.Errorf("featureOff(%q) = %v", msg, !want)
		}
	}
}

func TestSyncAlertsFeatureOffIsAskedAgainAfterADay(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/docs", acmeDocs)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/docs", syncer.State{})
	alertCalls := func() []string {
		var out []string
		for _, h := range g.Hits() {
			if strings.Contains(h.Key, "/alerts") {
				out = append(out, h.Key+" "+strconv.Itoa(h.Status))
			}
		}
		sort.Strings(out)
		return out
	}
	alertCalls()

	clock.Sleep(t.Context(), 23*time.Hour)
	res, _ = syncRead(t, s, "acme/docs", res.State)
	if got := alertCalls(); len(got) != 0 || len(res.Observations) != 0 {
		t.Errorf("23 h after the tools said off: asked %v, %d observations; want nothing", got, len(res.Observations))
	}

	// A day on, both are asked again; Dependabot has been switched on meanwhile.
	g.ok("/repos/acme/docs/dependabot/alerts?state=open&per_page=100", "acme-api/dependabot.json")
	clock.Sleep(t.Context(), time.Hour)
	res, _ = syncRead(t, s, "acme/docs", res.State)
	want := []string{
		"/repos/acme/docs/code-scanning/alerts?per_page=100&state=open 403",
		"/repos/acme/docs/dependabot/alerts?per_page=100&state=open 200",
	}
	if got := alertCalls(); !reflect.DeepEqual(got, want) {
		t.Errorf("a day after: asked %v, want %v", got, want)
	}
	if got := alertFacts(syncObservation(t, res, "alerts")); !reflect.DeepEqual(got, []string{"dependabot:1:open:medium", "dependabot:2:open:high"}) {
		t.Errorf("a day after: alerts = %v", got)
	}

	// Code scanning's new 403 is the one believed now; Dependabot is read conditionally.
	clock.Sleep(t.Context(), time.Hour)
	syncRead(t, s, "acme/docs", res.State)
	if got := alertCalls(); !reflect.DeepEqual(got, []string{"/repos/acme/docs/dependabot/alerts?per_page=100&state=open 304"}) {
		t.Errorf("an hour later: asked %v, want Dependabot's 304 only", got)
	}
}
