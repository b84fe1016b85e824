package web

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/storage"
)

type fixedExemptions []storage.ExemptionRow

func (f fixedExemptions) List(context.Context) ([]storage.ExemptionRow, error) { return f, nil }

// exemptionRows are one exemption of each state, and a config waiver, as the app lists them.
func exemptionRows(service, text string) fixedExemptions {
	return fixedExemptions{
		{ID: "exm_1", Service: service, Signal: "slo_defined", Days: 10, Reason: "vendor outage " + text, RequestedBy: "bob (U0BOB)",
			State: storage.ExemptionPending, CreatedAt: before(2 * hourD)},
		{ID: "exm_2", Service: service, Signal: "alerting_wired", Days: 14, Reason: "pager migration" + text, RequestedBy: "U0BOB" + text, State: storage.ExemptionApproved,
			DecidedBy: "U0ALICE" + text, CreatedAt: before(3 * day), DecidedAt: before(3 * day), ExpiresAt: now.Add(11 * day)},
		{ID: "exm_3", Service: service, Signal: "rollback_exercised", Days: 5, Reason: "old", RequestedBy: "U0BOB", State: storage.ExemptionApproved,
			DecidedBy: "U0CAROL", CreatedAt: before(20 * day), DecidedAt: before(20 * day), ExpiresAt: before(15 * day)},
		{ID: "exm_4", Service: service, Signal: "feature_flags", Days: 30, Reason: "no", RequestedBy: "U0DAVE", State: storage.ExemptionDenied,
			DecidedBy: "U0ALICE", CreatedAt: before(day), DecidedAt: before(day)},
		{ID: "config:0", Service: service, Signal: "signed_commits", Reason: "HSM rollout", RequestedBy: "platform-team",
			State: storage.ExemptionApproved, ExpiresAt: now.Add(30 * day), Config: true},
	}
}

const hourD = day / 24

func (f *fixture) withExemptions(l ExemptionLister) *echo.Echo {
	e := echo.New()
	d := f.deps()
	d.Exemptions = l
	Register(e, d)
	return e
}

func getFrom(t *testing.T, e *echo.Echo, path string) (int, string) {
	t.Helper()
	f := &fixture{Echo: e}
	return f.get(t, path)
}

func TestGoldenExemptionsPage(t *testing.T) {
	f := newFixture(t)
	code, body := getFrom(t, f.withExemptions(exemptionRows("checkout", "")), "/exemptions")
	if code != http.StatusOK {
		t.Fatalf("GET /exemptions = %d\n%s", code, body)
	}
	golden(t, "exemptions", body)
	for _, want := range []string{">pending</span> 1", ">approved</span> 2", ">expired</span> 1", ">denied</span> 1", "the config (scoring.waivers)", "10 days after approval"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	_, empty := getFrom(t, f.withExemptions(fixedExemptions{}), "/exemptions")
	golden(t, "exemptions_empty", empty)
}

func TestExemptionsPageEscapes(t *testing.T) {
	f := newFixture(t)
	_, body := getFrom(t, f.withExemptions(exemptionRows(hostileName, `<script>alert(9)</script><img src=x onerror=alert(1)>`)), "/exemptions")
	for _, bad := range []string{"<script>alert", "<img src=x"} {
		if strings.Contains(body, bad) {
			t.Errorf("the exemptions page contains unescaped %q", bad)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(9)") {
		t.Error("the exemptions page does not show the hostile text escaped")
	}
}

func TestExemptionsPageNeedsSignIn(t *testing.T) {
	f := newFixture(t)
	e := echo.New()
	d := f.deps()
	d.Exemptions = exemptionRows("checkout", "")
	d.Auth = ClosedAuth("closed for the test")
	Register(e, d)
	if code, _ := getFrom(t, e, "/exemptions"); code == http.StatusOK {
		t.Errorf("GET /exemptions behind a closed sign-in = %d", code)
	}
}
