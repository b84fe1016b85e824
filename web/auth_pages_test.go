package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/config"
)

// routeSamples fill the path parameters of the mounted routes with what the fixture holds.
var routeSamples = map[string]string{":name": "checkout", ":owner": "team-payments", ":source": "deploy",
	":delivery": "checkout-deploy-031"}

// evidencePages lists every GET page mounted with all sources wired, with its parameters
// filled, except the playbooks and the sign-in's own pages. It is read from the router, so a
// page added later is covered without editing the test.
func evidencePages(t *testing.T, e *echo.Echo) []string {
	t.Helper()
	var out []string
	for _, r := range e.Routes() {
		if r.Method != http.MethodGet || strings.HasPrefix(r.Path, "/playbooks") || strings.HasPrefix(r.Path, "/auth/") {
			continue
		}
		parts := strings.Split(r.Path, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				v, ok := routeSamples[p]
				if r.Path == "/initiatives/:id" {
					v, ok = "json-logs", true
				}
				if !ok {
					t.Fatalf("route %s: no sample value for %s; add one to routeSamples", r.Path, p)
				}
				parts[i] = url.PathEscape(v)
			}
		}
		out = append(out, strings.Join(parts, "/"))
	}
	slices.Sort(out)
	for _, want := range []string{"/teams", "/teams/team-payments", "/approvals", "/audit", "/initiatives", "/initiatives/json-logs",
		"/gate/report", "/exemptions"} {
		if !slices.Contains(out, want) {
			t.Fatalf("%s is not mounted with every source wired (mounted: %v)", want, out)
		}
	}
	return out
}

// TestEveryPageNeedsASession: with the built-in sign-in, every page that shows evidence,
// the teams, approvals, audit, initiatives, gate report and exemptions pages included,
// redirects a reader without a session to sign in and shows nothing of itself; signed in,
// each answers 200.
func TestEveryPageNeedsASession(t *testing.T) {
	s := newSignin(t, nil)
	g := newGateFixture(t)
	d := g.allDeps(t)
	d.Auth = s.auth
	s.f = g.fixture
	s.f.Echo = echo.New()
	Register(s.f.Echo, d)
	pages := evidencePages(t, s.f.Echo)
	for _, p := range pages {
		r := s.get(p)
		if r.Code != http.StatusFound || r.Header.Get("Location") != "/auth/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s without a session = %d, Location %q; want the redirect to sign in", p, r.Code, r.Header.Get("Location"))
		}
		if strings.Contains(r.Body, "checkout") || strings.Contains(r.Body, "team-payments") {
			t.Errorf("GET %s without a session shows page content", p)
		}
	}
	s.signIn("/")
	for _, p := range pages {
		if r := s.get(p); r.Code != http.StatusOK {
			t.Errorf("GET %s signed in = %d, want 200", p, r.Code)
		}
	}
}

// TestEveryPageNeedsTheProxysHeader is the same in web.auth proxy mode: no header, no page.
func TestEveryPageNeedsTheProxysHeader(t *testing.T) {
	g := newGateFixture(t)
	d := g.allDeps(t)
	auth, err := NewAuth(t.Context(), AuthOptions{Mode: AuthProxy, Web: config.Web{Proxy: config.WebProxy{Header: "X-Forwarded-Email"}}, Log: newTestLogger(&logBuffer{})})
	if err != nil {
		t.Fatal(err)
	}
	d.Auth = auth
	g.Echo = echo.New()
	Register(g.Echo, d)
	for _, p := range evidencePages(t, g.Echo) {
		if rec := serve(g.fixture, p, "10.1.2.3:40000", nil); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "team-payments") {
			t.Errorf("GET %s without the proxy's header = %d", p, rec.Code)
		}
		if rec := serve(g.fixture, p, "10.1.2.3:40000", http.Header{"X-Forwarded-Email": {"alice@example.com"}}); rec.Code != http.StatusOK {
			t.Errorf("GET %s through the proxy = %d", p, rec.Code)
		}
	}
}
