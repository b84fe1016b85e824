package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/scoring"
)

// fakeInitiatives serves reports computed by the initiative package itself from hand-built
// cards and a burn-up, as the app computes them from the database.
type fakeInitiatives struct{ reports []initiative.Report }

func (f *fakeInitiatives) InitiativeReports(context.Context) ([]initiative.Report, error) {
	out := make([]initiative.Report, len(f.reports))
	for i, r := range f.reports {
		r.BurnUp = nil
		out[i] = r
	}
	return out, nil
}

func (f *fakeInitiatives) InitiativeReport(_ context.Context, id string) (initiative.Report, bool, error) {
	for _, r := range f.reports {
		if r.ID == id {
			return r, true, nil
		}
	}
	return initiative.Report{}, false, nil
}

func signalCard(id string, outcome scoring.Outcome, reason string) *scoring.Scorecard {
	return &scoring.Scorecard{Dimensions: []scoring.DimensionScore{{ID: scoring.DimObservability, Name: "Observability", Applicable: true,
		Playbook: "https://releaseops.example.com/playbooks/observability",
		Signals:  []scoring.SignalResult{{ID: id, Name: "Structured logging", Outcome: outcome, Reason: reason, Weight: 1}}}}}
}

func compileSpec(t *testing.T, s initiative.Spec) *initiative.Initiative {
	t.Helper()
	in, ps := initiative.Compile(s, initiative.KnownFrom(scoring.DefaultConfig()))
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	return in
}

// initiativeReports: one initiative half done with two teams, one overdue and complete.
func initiativeReports(t *testing.T, name, owner, service, detail string) []initiative.Report {
	services := []releaseops.Service{
		{Name: "checkout", Owner: "team-payments", Tier: 1},
		{Name: "ledger", Owner: "team-payments", Tier: 1},
		{Name: service, Owner: owner, Tier: 1},
		{Name: "wiki", Tier: 1},
	}
	cards := map[string]*scoring.Scorecard{
		"checkout": signalCard("structured_logging", scoring.OutcomePass, "structured logging declared in the catalog"),
		"ledger":   signalCard("structured_logging", scoring.OutcomeFail, "structured logging not declared; emit JSON logs and set structured_logging: true"),
		service:    signalCard("structured_logging", scoring.OutcomeFail, detail),
	}
	logs := compileSpec(t, initiative.Spec{ID: "json-logs", Name: name, Filter: initiative.Filter{Tier: ptr(1)},
		Target: initiative.Target{Signal: "structured_logging"}, Deadline: "2026-12-04"})
	rep := logs.Progress(services, func(n string) *scoring.Scorecard { return cards[n] }, now)
	for i := 0; i < 10; i++ {
		at := now.Truncate(day).Add(time.Duration(i-9)*day - time.Millisecond)
		if i == 9 {
			at = now
		}
		done := min(i/3, rep.Done)
		rep.BurnUp = append(rep.BurnUp, initiative.Point{Day: at.Format("2006-01-02"), At: at, Done: done, Total: rep.Total})
	}
	gold := compileSpec(t, initiative.Spec{ID: "gold-payments", Name: "Payments at gold", Filter: initiative.Filter{Owner: "team-payments"},
		Target: initiative.Target{Level: "gold"}, Deadline: "2026-11-01"})
	done := &scoring.Scorecard{Level: "gold"}
	grep := gold.Progress(services, func(string) *scoring.Scorecard { return done }, now)
	return []initiative.Report{rep, grep}
}

func initiativeFixture(t *testing.T, src InitiativeSource) *fixture {
	f := newFixture(t)
	f.Echo = echo.New()
	d := f.deps()
	d.Initiatives = src
	Register(f.Echo, d)
	return f
}

func TestGoldenInitiativePages(t *testing.T) {
	f := initiativeFixture(t, &fakeInitiatives{initiativeReports(t, "Structured logs everywhere", "team-search", "search",
		"structured logging not declared; emit JSON logs and set structured_logging: true")})
	for _, tc := range []struct{ name, path string }{
		{"initiatives", "/initiatives"},
		{"initiative", "/initiatives/json-logs"},
		{"initiative_done", "/initiatives/gold-payments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.get(t, tc.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d\n%s", tc.path, code, body)
			}
			golden(t, tc.name, body)
		})
	}
	// No script, no event handler, nothing from another origin, the policy of every page.
	remote := regexp.MustCompile(`(src|href)="(https?:)?//`)
	for _, p := range []string{"/initiatives", "/initiatives/json-logs", "/initiatives/gold-payments"} {
		rec := httptest.NewRecorder()
		f.Echo.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
		body := rec.Body.String()
		if strings.Contains(body, "<script") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) || remote.MatchString(body) {
			t.Errorf("GET %s has script or a remote resource", p)
		}
		if rec.Header().Get("Content-Security-Policy") != contentSecurityPolicy || !strings.Contains(body, "<style>"+stylesheet+"</style>") {
			t.Errorf("GET %s lacks the policy or the inline stylesheet it hashes", p)
		}
	}
	code, body := f.get(t, "/initiatives/nope")
	if code != http.StatusNotFound || !strings.Contains(body, "No initiative is called &#34;nope&#34;.") {
		t.Errorf("unknown initiative = %d\n%s", code, body)
	}
	// Without a source the pages are not mounted.
	plain := newFixture(t)
	if code, _ := plain.get(t, "/initiatives"); code != http.StatusNotFound {
		t.Errorf("/initiatives without a source = %d", code)
	}
}

func TestInitiativePagesEscapeHostileStrings(t *testing.T) {
	const evilService = `"><img src=x onerror=alert(2)>`
	reps := initiativeReports(t, "<script>alert(1)</script>", "<b>team</b>", evilService, "<script>alert(3)</script> javascript:alert(4)")
	reps[0].Teams[0].Remaining[0].Steps[0].Playbook = "javascript:alert(5)"
	f := initiativeFixture(t, &fakeInitiatives{reps})
	for _, path := range []string{"/initiatives", "/initiatives/json-logs"} {
		code, body := f.get(t, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>team", `href="javascript:`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s carries %q unescaped", path, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not show the hostile name as text", path)
		}
	}
	_, body := f.get(t, "/initiatives/json-logs")
	for _, want := range []string{"&lt;b&gt;team&lt;/b&gt;", `href="/services/%22%3E%3Cimg%20src=x%20onerror=alert%282%29%3E"`, "&lt;script&gt;alert(3)"} {
		if !strings.Contains(body, want) {
			t.Errorf("detail page lacks %s", want)
		}
	}
}

// The pages sit behind the sign-in like every page that shows evidence.
func TestInitiativePagesNeedSignIn(t *testing.T) {
	f := newFixture(t)
	e := echo.New()
	d := f.deps()
	d.Initiatives = &fakeInitiatives{}
	d.Auth = ClosedAuth("closed for the test")
	Register(e, d)
	for _, path := range []string{"/initiatives", "/initiatives/json-logs"} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code == http.StatusOK {
			t.Errorf("GET %s with the sign-in closed = 200", path)
		}
		if rec.Header().Get("Content-Security-Policy") != contentSecurityPolicy {
			t.Errorf("GET %s without the CSP", path)
		}
	}
}
