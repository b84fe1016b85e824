package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/config"
)

// mountAuth serves the fixture's pages with the sign-in of these options.
func mountAuth(t *testing.T, o AuthOptions) *fixture {
	t.Helper()
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := NewAuth(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	d := f.deps()
	d.Auth = a
	f.Echo = echo.New()
	Register(f.Echo, d)
	return f
}

func serve(f *fixture, path, peer string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = peer
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	f.Echo.ServeHTTP(rec, req)
	return rec
}

func TestProxyMode(t *testing.T) {
	f := mountAuth(t, AuthOptions{Mode: AuthProxy, Web: config.Web{Proxy: config.WebProxy{Header: "X-Forwarded-Email",
		TrustedProxies: []string{"10.0.0.0/8", "192.0.2.7", "::1"}}}})
	email := http.Header{"X-Forwarded-Email": {"alice@example.com"}}
	for _, tc := range []struct {
		name, path, peer string
		header           http.Header
		code             int
		want             string
	}{
		{"signed in through the proxy", "/services/checkout", "10.1.2.3:40000", email, 200, `<span class="viewer" title="Signed in">alice@example.com</span>`},
		{"a single trusted address", "/heatmap", "192.0.2.7:40000", email, 200, "alice@example.com"},
		{"trusted over IPv6", "/heatmap", "[::1]:40000", email, 200, "alice@example.com"},
		{"header in another case", "/", "10.1.2.3:40000", http.Header{"X-Forwarded-Email": {"bob@example.com"}}, 200, "bob@example.com"},
		{"no header from the proxy", "/", "10.1.2.3:40000", nil, 401, "X-Forwarded-Email is missing"},
		{"empty header", "/", "10.1.2.3:40000", http.Header{"X-Forwarded-Email": {"  "}}, 401, "X-Forwarded-Email is missing"},
		{"header twice", "/", "10.1.2.3:40000", http.Header{"X-Forwarded-Email": {"mallory@evil.example", "alice@example.com"}}, 401, "more than once"},
		{"header from an untrusted address", "/services/checkout", "203.0.113.9:40000", email, 403, "only through its sign-in proxy"},
		{"untrusted, claiming the proxy in X-Forwarded-For", "/", "203.0.113.9:40000",
			http.Header{"X-Forwarded-Email": {"alice@example.com"}, "X-Forwarded-For": {"10.0.0.1"}, "X-Real-Ip": {"10.0.0.1"}}, 403, "only through its sign-in proxy"},
		{"playbooks without the header", "/playbooks", "203.0.113.9:40000", nil, 200, "Playbooks"},
		{"playbook from anywhere", "/playbooks/rollback_readiness", "203.0.113.9:40000", nil, 200, "Rollback readiness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(f, tc.path, tc.peer, tc.header)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("GET %s from %s = %d, want %d with %q\n%s", tc.path, tc.peer, rec.Code, tc.code, tc.want, rec.Body.String())
			}
			if tc.code != 200 && strings.Contains(rec.Body.String(), "acme/checkout") {
				t.Error("a refused page shows evidence")
			}
			// The proxy owns the session: no sign-out form of ours.
			if strings.Contains(rec.Body.String(), `action="/auth/logout"`) {
				t.Error("proxy mode shows a sign-out form")
			}
		})
	}
	if rec := serve(f, "/auth/login", "10.1.2.3:40000", email); rec.Code != http.StatusNotFound {
		t.Errorf("GET /auth/login in proxy mode = %d, want 404 (no built-in sign-in)", rec.Code)
	}
}

func TestProxyModeTrustsAnyPeerWhenUnset(t *testing.T) {
	logs := &logBuffer{}
	f := mountAuth(t, AuthOptions{Mode: AuthProxy, Web: config.Web{Proxy: config.WebProxy{Header: "X-Auth-Request-User"}}, Log: newTestLogger(logs)})
	if rec := serve(f, "/", "203.0.113.9:40000", http.Header{"X-Auth-Request-User": {"alice"}}); rec.Code != http.StatusOK {
		t.Errorf("GET / = %d", rec.Code)
	}
	if rec := serve(f, "/", "203.0.113.9:40000", http.Header{"X-Forwarded-Email": {"alice@example.com"}}); rec.Code != http.StatusUnauthorized {
		t.Errorf("GET / with the default header instead of the configured one = %d", rec.Code)
	}
	if !strings.Contains(logs.String(), "believes X-Auth-Request-User from any address") {
		t.Errorf("no warning about trusting any peer:\n%s", logs.String())
	}
}

func TestNoneModeIsOpen(t *testing.T) {
	f := mountAuth(t, AuthOptions{Mode: AuthNone})
	for _, p := range []string{"/", "/services/checkout", "/playbooks"} {
		if rec := serve(f, p, "203.0.113.9:40000", nil); rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `class="viewer"`) {
			t.Errorf("GET %s = %d", p, rec.Code)
		}
	}
	if rec := serve(f, "/auth/login", "203.0.113.9:40000", nil); rec.Code != http.StatusNotFound {
		t.Errorf("GET /auth/login in none mode = %d", rec.Code)
	}
}

func TestClosedAuthRefuses(t *testing.T) {
	f := newFixture(t)
	d := f.deps()
	d.Auth = ClosedAuth("The sign-in is misconfigured; the cause is in the server log.")
	f.Echo = echo.New()
	Register(f.Echo, d)
	if rec := serve(f, "/services/checkout", "127.0.0.1:1", nil); rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "acme/checkout") {
		t.Errorf("GET a page with a closed sign-in = %d", rec.Code)
	}
	if rec := serve(f, "/playbooks", "127.0.0.1:1", nil); rec.Code != http.StatusOK {
		t.Errorf("GET /playbooks with a closed sign-in = %d", rec.Code)
	}
}

func TestNewAuthRefusesUnknownMode(t *testing.T) {
	for _, mode := range []string{"", "basic"} {
		if _, err := NewAuth(context.Background(), AuthOptions{Mode: mode}); err == nil {
			t.Errorf("mode %q accepted", mode)
		}
	}
}

// The session cookie is Secure only where the pages are served over https: a browser would
// drop a Secure cookie set over plain http on a loopback demo.
func TestCookieSecureFollowsPublicURL(t *testing.T) {
	for url, secure := range map[string]bool{"https://releaseops.example.com": true, "http://127.0.0.1:8080": false} {
		s := newSignin(t, nil)
		s.mount(AuthOptions{Mode: AuthOIDC, Web: testWeb(s.idp), PublicURL: url})
		if s.auth.cookies.secure != secure {
			t.Errorf("public_url %s: Secure = %v", url, s.auth.cookies.secure)
		}
		if s.auth.oidc.redirect != url+"/auth/callback" {
			t.Errorf("public_url %s: redirect URL %s", url, s.auth.oidc.redirect)
		}
	}
}
