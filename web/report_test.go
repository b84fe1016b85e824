package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
)

// fakeReporter answers like the gate's report: days validated, the report given.
type fakeReporter struct{ r GateReport }

func (f fakeReporter) GateReport(_ context.Context, days string) (GateReport, error) {
	n := 30
	if days != "" {
		var err error
		if n, err = strconv.Atoi(days); err != nil || n < 1 || n > 365 {
			return GateReport{}, releaseops.Errorf(releaseops.EMALFORMED, "days must be a whole number from 1 to 365, got %q", days)
		}
	}
	r := f.r
	r.Days = n
	return r, nil
}

func reportServer(t *testing.T, r GateReport) func(path string) (int, string) {
	t.Helper()
	e := echo.New()
	Register(e, Deps{Catalog: catalog.New(nil), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		GateReport: fakeReporter{r}})
	return func(path string) (int, string) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
}

func sampleReport() GateReport {
	return GateReport{Since: now.Add(-30 * day), Until: now,
		Totals: GateReportCounts{Requests: 6, WouldBlock: 3, WouldNeedApproval: 2, Allowed: 1},
		Services: []GateReportService{
			{Service: "legacy", GateReportCounts: GateReportCounts{Requests: 3, WouldBlock: 3}, Environments: []string{"production"},
				ModeFrom: []string{"gate.mode_by_environment.production"}, FirstSeen: now.Add(-20 * day), LastSeen: now.Add(-time.Hour),
				Decisions: []GateReportDecision{{Decision: "block", Count: 3, FirstSeen: now.Add(-20 * day), LastSeen: now.Add(-time.Hour),
					TopReasons: []GateReportReason{
						{Reason: "score in the blocked band for production", Count: 3, Example: "score 41.0 is in the blocked band for production (below 60)"},
						{Reason: "weak dimension: Rollback readiness", Count: 2, Example: "Rollback readiness 0.20: no rollback in 90 days"}}}}},
			{Service: "checkout", GateReportCounts: GateReportCounts{Requests: 3, WouldNeedApproval: 2, Allowed: 1}, Environments: []string{"production", "staging"},
				ModeFrom: []string{"gate.mode"}, FirstSeen: now.Add(-10 * day), LastSeen: now.Add(-2 * time.Hour),
				Decisions: []GateReportDecision{
					{Decision: "needs_approval", Count: 2, FirstSeen: now.Add(-10 * day), LastSeen: now.Add(-2 * time.Hour),
						TopReasons: []GateReportReason{{Reason: "score in the watch band for production", Count: 2, Example: "score 70.0 is in the watch band for production (60–75: needs an approver)"}}},
					{Decision: "allow", Count: 1, FirstSeen: now.Add(-5 * day), LastSeen: now.Add(-5 * day), TopReasons: []GateReportReason{}}}},
		}}
}

func TestGoldenGateReport(t *testing.T) {
	get := reportServer(t, sampleReport())
	code, body := get("/gate/report")
	if code != http.StatusOK {
		t.Fatalf("GET /gate/report = %d\n%s", code, body)
	}
	golden(t, "report", body)
	if strings.Contains(body, "<script") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) || regexp.MustCompile(`(src|href)="(https?:)?//`).MatchString(body) {
		t.Error("report page has script or a remote resource")
	}
	code, body = get("/gate/report?days=7")
	if code != http.StatusOK || !strings.Contains(body, `href="/gate/report?days=7" aria-current="true"`) || !strings.Contains(body, "over the last 7 days") {
		t.Errorf("days=7: %d", code)
	}
	get = reportServer(t, GateReport{Since: now.Add(-30 * day), Until: now})
	code, body = get("/gate/report")
	if code != http.StatusOK {
		t.Fatalf("empty report = %d", code)
	}
	golden(t, "report_empty", body)
}

func TestGateReportBadDays(t *testing.T) {
	get := reportServer(t, sampleReport())
	for _, days := range []string{"0", "366", "abc", "%3Cb%3E"} {
		code, body := get("/gate/report?days=" + days)
		if code != http.StatusBadRequest || !strings.Contains(body, "days must be a whole number from 1 to 365") || strings.Contains(body, "<b>") {
			t.Errorf("days=%s: %d", days, code)
		}
	}
}

// Every stored string on the report (service, environments, settings, reasons) is text.
func TestGateReportEscapesHostileStrings(t *testing.T) {
	r := sampleReport()
	s := &r.Services[0]
	s.Service, s.Environments, s.ModeFrom = hostileName, []string{`<img src=x onerror=alert(2)>`}, []string{`gate_mode of service <b>x</b> (backstage:"><script>alert(4)</script>)`}
	s.Decisions[0].Decision = `block"><script>alert(5)</script>`
	s.Decisions[0].TopReasons[0] = GateReportReason{Reason: `<script>alert(6)</script>`, Count: 1, Example: `<i>up</i>`}
	get := reportServer(t, r)
	code, body := get("/gate/report")
	if code != http.StatusOK {
		t.Fatalf("GET /gate/report = %d", code)
	}
	for _, bad := range []string{"<script>alert", "<img src=x", "<b>", "<i>up"} {
		if strings.Contains(body, bad) {
			t.Errorf("report page contains unescaped %q", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)", "&lt;script&gt;alert(6)", "&lt;i&gt;up", `outcome-unknown">block&#34;&gt;&lt;script&gt;alert(5)`, `href="/services/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"`} {
		if !strings.Contains(body, want) {
			t.Errorf("report page does not show %q", want)
		}
	}
}

func TestGateReportAbsentWithoutTheGate(t *testing.T) {
	f := newFixture(t)
	if code, _ := f.get(t, "/gate/report"); code != http.StatusNotFound {
		t.Errorf("GET /gate/report without a reporter = %d, want 404", code)
	}
}
