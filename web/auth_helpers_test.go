package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
)

const testPublicURL = "https://releaseops.example.com"

// testClock is the sign-in's clock; tests move it to expire sessions and tokens.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects the sign-in's log lines for the tests that check them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signin is the pages of the fixture behind the built-in sign-in, a fake provider, and a
// browser (a cookie jar for the public URL) to drive them.
type signin struct {
	t     *testing.T
	f     *fixture
	idp   *fakeIdP
	clock *testClock
	auth  *Auth
	logs  *logBuffer
	jar   *cookiejar.Jar
}

func testWeb(idp *fakeIdP) config.Web {
	return config.Web{Auth: AuthOIDC, SessionKey: config.NewSecret(strings.Repeat("s", 32)), SessionTTL: releaseops.Duration(12 * time.Hour),
		OIDC: config.WebOIDC{Issuer: idp.issuer(), ClientID: idp.clientID, ClientSecret: config.NewSecret(idp.secret),
			AllowedDomains: []string{"example.com"}, GroupsClaim: "groups"}}
}

func newSignin(t *testing.T, mod func(*config.Web)) *signin {
	t.Helper()
	s := &signin{t: t, f: newFixture(t), clock: &testClock{t: now}, logs: &logBuffer{}}
	s.idp = newFakeIdP(t, s.clock.Now)
	w := testWeb(s.idp)
	if mod != nil {
		mod(&w)
	}
	s.mount(AuthOptions{Mode: w.Auth, Web: w, PublicURL: testPublicURL})
	return s
}

// mount (re)builds the pages with these options, keeping the browser's cookies.
func (s *signin) mount(o AuthOptions) {
	s.t.Helper()
	o.Log = slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	o.Now = s.clock.Now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	auth, err := NewAuth(ctx, o)
	if err != nil {
		s.t.Fatal(err)
	}
	s.auth = auth
	d := s.f.deps()
	d.Auth = auth
	s.f.Echo = echo.New()
	Register(s.f.Echo, d)
	if s.jar == nil {
		s.jar, _ = cookiejar.New(nil)
	}
}

// response is what the browser got.
type response struct {
	Code    int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie
}

func (r response) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends a request to the pages as the browser would: with the jar's cookies for the
// path, keeping the cookies the answer sets.
func (s *signin) do(method, target string, form url.Values) response {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, testPublicURL+target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range s.jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	s.f.Echo.ServeHTTP(rec, req)
	res := rec.Result()
	s.jar.SetCookies(req.URL, res.Cookies())
	return response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.String(), Cookies: res.Cookies()}
}

func (s *signin) get(target string) response { s.t.Helper(); return s.do(http.MethodGet, target, nil) }

// toProvider follows /auth/login?next=… to the provider and returns the callback URL the
// provider sends the browser back to (path and query on our side).
func (s *signin) toProvider(next string) (callback string, login response) {
	s.t.Helper()
	target := "/auth/login"
	if next != "" {
		target += "?next=" + url.QueryEscape(next)
	}
	login = s.get(target)
	if login.Code != http.StatusFound || !strings.HasPrefix(login.Header.Get("Location"), s.idp.issuer()+"/authorize?") {
		s.t.Fatalf("GET %s = %d, Location %q, want a redirect to the provider\n%s", target, login.Code, login.Header.Get("Location"), login.Body)
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(login.Header.Get("Location"))
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	back := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(back, testPublicURL+"/auth/callback?") {
		s.t.Fatalf("provider answered %d, Location %q", res.StatusCode, back)
	}
	return strings.TrimPrefix(back, testPublicURL), login
}

// signIn runs the whole sign-in and returns the callback's answer.
func (s *signin) signIn(next string) response {
	s.t.Helper()
	cb, _ := s.toProvider(next)
	return s.get(cb)
}

// signedIn is a browser that has signed in as the provider's default user.
func signedIn(t *testing.T) *signin {
	s := newSignin(t, nil)
	if r := s.signIn("/"); r.Code != http.StatusFound || r.cookie(sessionCookie) == nil {
		t.Fatalf("sign-in = %d\n%s", r.Code, r.Body)
	}
	return s
}

func (s *signin) sessionValue() string {
	for _, c := range s.jar.Cookies(mustURL(testPublicURL + "/")) {
		if c.Name == sessionCookie {
			return c.Value
		}
	}
	return ""
}

// setSession replaces the browser's session cookie (a forged or copied one).
func (s *signin) setSession(v string) {
	s.jar.SetCookies(mustURL(testPublicURL+"/"), []*http.Cookie{{Name: sessionCookie, Value: v, Path: "/", Secure: true, HttpOnly: true}})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
