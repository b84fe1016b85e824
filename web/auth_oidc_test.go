package web

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
)

// TestSignInRoundTrip is the whole built-in sign-in: a page asked for without a session, the
// provider, the callback, and the page asked for first, now with the reader in its header.
func TestSignInRoundTrip(t *testing.T) {
	s := newSignin(t, nil)
	r := s.get("/services/checkout?x=1")
	if r.Code != http.StatusFound || r.Header.Get("Location") != "/auth/login?next=%2Fservices%2Fcheckout%3Fx%3D1" {
		t.Fatalf("GET without a session = %d, Location %q", r.Code, r.Header.Get("Location"))
	}
	cb, login := s.toProvider("/services/checkout?x=1")
	auth := mustURL(login.Header.Get("Location")).Query()
	for k, want := range map[string]string{"client_id": s.idp.clientID, "redirect_uri": testPublicURL + "/auth/callback",
		"response_type": "code", "code_challenge_method": "S256", "scope": "openid email profile"} {
		if auth.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, auth.Get(k), want)
		}
	}
	if auth.Get("state") == "" || auth.Get("nonce") == "" || auth.Get("code_challenge") == "" || auth.Get("state") == auth.Get("nonce") {
		t.Errorf("authorization request lacks a distinct state, nonce or PKCE challenge: %v", auth)
	}
	lc := login.cookie(loginCookie)
	if lc == nil || !lc.HttpOnly || !lc.Secure || lc.SameSite != http.SameSiteLaxMode || lc.Path != "/auth/" || lc.MaxAge != 600 {
		t.Errorf("login cookie = %+v", lc)
	}
	r = s.get(cb)
	if r.Code != http.StatusFound || r.Header.Get("Location") != "/services/checkout?x=1" {
		t.Fatalf("callback = %d, Location %q\n%s", r.Code, r.Header.Get("Location"), r.Body)
	}
	sc := r.cookie(sessionCookie)
	if sc == nil || !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.MaxAge != 12*3600 {
		t.Errorf("session cookie = %+v", sc)
	}
	if c := r.cookie(loginCookie); c == nil || c.MaxAge >= 0 {
		t.Errorf("callback does not clear the login cookie: %+v", c)
	}
	page := s.get("/services/checkout?x=1")
	if page.Code != http.StatusOK {
		t.Fatalf("signed-in GET = %d\n%s", page.Code, page.Body)
	}
	for _, want := range []string{`<span class="viewer" title="Signed in">alice@example.com</span>`, `<form class="signout" method="post" action="/auth/logout"><input type="hidden" name="csrf" value="`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("signed-in page lacks %q", want)
		}
	}
	if cc := page.Header.Get("Cache-Control"); cc != "private, no-cache" {
		t.Errorf("Cache-Control of a signed-in page = %q", cc)
	}
	// The code was good once: replaying the callback is refused (the login cookie is gone).
	if r := s.get(cb); r.Code != http.StatusBadRequest {
		t.Errorf("replayed callback = %d, want 400", r.Code)
	}
	if s.idp.exchangeCount() != 1 {
		t.Errorf("%d code exchanges, want 1", s.idp.exchangeCount())
	}
}

// TestIDTokenChecks: each token the provider could be tricked or misconfigured into sending
// is refused with a page naming why, and never becomes a session.
func TestIDTokenChecks(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		setup  func(*fakeIdP)
		want   string
		status int
	}{
		{"wrong audience", func(p *fakeIdP) { p.setTamper(func(c map[string]any) { c["aud"] = "another-client" }) }, "issued for another client", 403},
		{"expired", func(p *fakeIdP) {
			p.setTamper(func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix(); c["iat"] = now.Add(-time.Hour).Unix() })
		}, "it expired at 2026-11-20T11:59:00Z", 403},
		{"bad nonce", func(p *fakeIdP) { p.setTamper(func(c map[string]any) { c["nonce"] = "a-nonce-of-another-sign-in" }) }, "nonce mismatch", 403},
		{"no nonce", func(p *fakeIdP) { p.setTamper(func(c map[string]any) { delete(c, "nonce") }) }, "nonce mismatch", 403},
		{"other issuer", func(p *fakeIdP) { p.setTamper(func(c map[string]any) { c["iss"] = "https://evil.example" }) }, "issued by another provider", 403},
		{"unknown signing key", func(p *fakeIdP) { p.setSigner(other) }, "signature does not verify", 403},
		{"domain not allowed", func(p *fakeIdP) {
			p.setUser(map[string]any{"sub": "u-bob", "email": "bob@evil.example", "email_verified": true})
		}, "bob@evil.example is not in a domain allowed to sign in", 403},
		{"subdomain is another domain", func(p *fakeIdP) {
			p.setUser(map[string]any{"sub": "u-bob", "email": "bob@corp.example.com", "email_verified": true})
		}, "bob@corp.example.com is not in a domain allowed", 403},
		{"unverified email", func(p *fakeIdP) {
			p.setUser(map[string]any{"sub": "u-eve", "email": "eve@example.com", "email_verified": false})
		}, "has not verified the e-mail address eve@example.com", 403},
		{"email_verified missing", func(p *fakeIdP) { p.setUser(map[string]any{"sub": "u-eve", "email": "eve@example.com"}) }, "has not verified", 403},
		{"no email", func(p *fakeIdP) { p.setUser(map[string]any{"sub": "u-eve"}) }, "sent no e-mail address", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSignin(t, nil)
			tc.setup(s.idp)
			r := s.signIn("/")
			if r.Code != tc.status || !strings.Contains(r.Body, tc.want) {
				t.Fatalf("callback = %d, want %d naming %q\n%s", r.Code, tc.status, tc.want, r.Body)
			}
			if c := r.cookie(sessionCookie); c != nil {
				t.Errorf("a refused sign-in set a session cookie: %+v", c)
			}
			if g := s.get("/"); g.Code != http.StatusFound {
				t.Errorf("after a refused sign-in GET / = %d, want the redirect to sign in", g.Code)
			}
		})
	}
}

func TestEmailVerifiedAsString(t *testing.T) {
	s := newSignin(t, nil)
	s.idp.setUser(map[string]any{"sub": "u-carol", "email": "Carol@Example.COM", "email_verified": "true"})
	if r := s.signIn("/heatmap"); r.Code != http.StatusFound || r.Header.Get("Location") != "/heatmap" {
		t.Fatalf("callback = %d\n%s", r.Code, r.Body)
	}
}

func TestGroupAllowed(t *testing.T) {
	s := newSignin(t, func(w *config.Web) {
		w.OIDC.AllowedDomains, w.OIDC.AllowedGroups, w.OIDC.GroupsClaim = nil, []string{"releaseops-readers"}, "roles"
		w.OIDC.Scopes = []string{"groups", "openid"}
	})
	// A member, from a domain nobody listed and with markup in the name: admitted, escaped.
	s.idp.setUser(map[string]any{"sub": "u-dan", "name": "<script>alert(1)</script>", "roles": []string{"eng", "releaseops-readers"}})
	cb, login := s.toProvider("/")
	if got := mustURL(login.Header.Get("Location")).Query().Get("scope"); got != "openid email profile groups" {
		t.Errorf("scope = %q", got)
	}
	if r := s.get(cb); r.Code != http.StatusFound {
		t.Fatalf("member's callback = %d\n%s", r.Code, r.Body)
	}
	page := s.get("/")
	if page.Code != http.StatusOK || !strings.Contains(page.Body, `<span class="viewer" title="Signed in">&lt;script&gt;alert(1)&lt;/script&gt;</span>`) || strings.Contains(page.Body, "<script>") {
		t.Errorf("member's page = %d, the name is not shown escaped", page.Code)
	}
	// A single group as a string counts too; a non-member is refused naming why.
	s.jar.SetCookies(mustURL(testPublicURL+"/"), []*http.Cookie{{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1}})
	s.idp.setUser(map[string]any{"sub": "u-erin", "email": "erin@example.com", "email_verified": true, "roles": "releaseops-readers"})
	if r := s.signIn("/"); r.Code != http.StatusFound {
		t.Errorf("single-group callback = %d\n%s", r.Code, r.Body)
	}
	s.jar.SetCookies(mustURL(testPublicURL+"/"), []*http.Cookie{{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1}})
	s.idp.setUser(map[string]any{"sub": "u-fay", "email": "fay@example.com", "email_verified": true, "roles": []string{"eng"}})
	if r := s.signIn("/"); r.Code != http.StatusForbidden || !strings.Contains(r.Body, "fay@example.com is not a member of a group allowed to sign in") {
		t.Errorf("non-member's callback = %d\n%s", r.Code, r.Body)
	}
}

func TestBadStateAndForeignCallback(t *testing.T) {
	s := newSignin(t, nil)
	cb, _ := s.toProvider("/")
	bad := regexp.MustCompile(`state=[^&]+`).ReplaceAllString(cb, "state=forged")
	if r := s.get(bad); r.Code != http.StatusBadRequest || !strings.Contains(r.Body, "state mismatch") || r.cookie(sessionCookie) != nil {
		t.Errorf("callback with another state = %d\n%s", r.Code, r.Body)
	}
	// The right state in another browser (no login cookie): refused before any exchange.
	cb, _ = s.toProvider("/")
	other := newSignin(t, nil)
	other.idp = s.idp
	if r := other.get(cb); r.Code != http.StatusBadRequest || !strings.Contains(r.Body, "not started in this browser") {
		t.Errorf("callback in another browser = %d\n%s", r.Code, r.Body)
	}
	// The login cookie expires after 10 minutes at the provider.
	cb, _ = s.toProvider("/")
	s.clock.Advance(11 * time.Minute)
	if r := s.get(cb); r.Code != http.StatusBadRequest {
		t.Errorf("callback after 11 minutes = %d", r.Code)
	}
	if s.idp.exchangeCount() != 0 {
		t.Errorf("%d codes exchanged for refused callbacks", s.idp.exchangeCount())
	}
	// The provider's own refusal is shown, escaped.
	_, login := s.toProvider("/")
	state := mustURL(login.Header.Get("Location")).Query().Get("state")
	r := s.get("/auth/callback?state=" + url.QueryEscape(state) + "&error=access_denied&error_description=" + url.QueryEscape("<b>no</b>"))
	if r.Code != http.StatusForbidden || !strings.Contains(r.Body, "did not sign you in: access_denied (&lt;b&gt;no&lt;/b&gt;)") {
		t.Errorf("provider error = %d\n%s", r.Code, r.Body)
	}
}

func TestOpenRedirectsRefused(t *testing.T) {
	for next, want := range map[string]string{
		"/services/checkout?sort=name#x": "/services/checkout?sort=name#x",
		"/":                              "/",
		"":                               "/",
		"//evil.com":                     "/",
		"//evil.com/services":            "/",
		"https://evil.com":               "/",
		"http:/evil.com":                 "/",
		"javascript:alert(1)":            "/",
		`/\evil.com`:                     "/",
		`\\evil.com`:                     "/",
		"/\t/evil.com":                   "/",
		"/\n/evil.com":                   "/",
		"/ /evil.com":                    "/",
		"evil.com":                       "/",
		"/auth/login?next=/":             "/",
		"/auth/callback":                 "/",
		"/%2F%2Fevil.com":                "/%2F%2Fevil.com", // a path on this host, not another origin
		"/" + strings.Repeat("a", 3000):  "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
	// End to end: whatever next the login was given, the callback goes to a local path.
	for _, next := range []string{"//evil.com", "https://evil.com/x", `/\evil.com`} {
		s := newSignin(t, nil)
		if r := s.signIn(next); r.Code != http.StatusFound || r.Header.Get("Location") != "/" {
			t.Errorf("sign-in with next=%q went to %q", next, r.Header.Get("Location"))
		}
	}
}

func TestTamperedSession(t *testing.T) {
	s := signedIn(t)
	v := s.sessionValue()
	payload, sig, _ := strings.Cut(v, ".")
	other := signer{key: []byte(strings.Repeat("x", 32))}
	forged, err := other.seal(purposeSession, session{ID: "x", Subject: "u-mallory", Email: "mallory@example.com", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	login, err := s.auth.cookies.signer.seal(purposeLogin, session{ID: "x", Subject: "u-mallory", Issued: now.Unix(), Expires: now.Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"payload edited":             payload[:len(payload)-2] + "xx" + "." + sig,
		"signature edited":           payload + "." + sig[:len(sig)-2] + "AA",
		"no signature":               payload,
		"signed with another key":    forged,
		"a login value as a session": login,
		"garbage":                    "%%%.%%%",
	} {
		s.setSession(value)
		r := s.get("/services/checkout")
		if r.Code != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "/auth/login?next=") {
			t.Errorf("%s: GET = %d, want the redirect to sign in", name, r.Code)
		}
		if c := r.cookie(sessionCookie); c == nil || c.MaxAge >= 0 {
			t.Errorf("%s: the refused cookie is not cleared", name)
		}
	}
	if !strings.Contains(s.logs.String(), "web session cookie refused") {
		t.Error("a forged session is not logged")
	}
	s.setSession(v)
	if r := s.get("/services/checkout"); r.Code != http.StatusOK {
		t.Errorf("the genuine cookie = %d", r.Code)
	}
}

func TestSessionExpires(t *testing.T) {
	s := signedIn(t)
	s.clock.Advance(12*time.Hour - time.Second)
	if r := s.get("/"); r.Code != http.StatusOK {
		t.Fatalf("just before the TTL GET / = %d", r.Code)
	}
	v := s.sessionValue()
	s.clock.Advance(time.Second)
	if r := s.get("/"); r.Code != http.StatusFound {
		t.Fatalf("at the TTL GET / = %d, want the redirect to sign in", r.Code)
	}
	// A copy of the cookie kept by the browser past its Max-Age does not work either.
	s.setSession(v)
	if r := s.get("/heatmap"); r.Code != http.StatusFound {
		t.Errorf("expired cookie replayed: GET = %d", r.Code)
	}
	// Shortening web.session_ttl shortens the sessions already handed out.
	s = signedIn(t)
	s.clock.Advance(2 * time.Hour)
	w := testWeb(s.idp)
	w.SessionTTL = releaseops.Duration(time.Hour)
	s.mount(AuthOptions{Mode: AuthOIDC, Web: w, PublicURL: testPublicURL})
	if r := s.get("/"); r.Code != http.StatusFound {
		t.Errorf("a 2 h old session under a 1 h TTL: GET = %d", r.Code)
	}
}

func TestSignOut(t *testing.T) {
	s := signedIn(t)
	page := s.get("/")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.Body)
	if m == nil {
		t.Fatalf("no sign-out form in the header\n%s", page.Body)
	}
	// A GET only shows the form: a link or an image on another site cannot sign anyone out.
	if r := s.get("/auth/logout"); r.Code != http.StatusOK || !strings.Contains(r.Body, `<form class="signout-page" method="post" action="/auth/logout">`) || r.cookie(sessionCookie) != nil {
		t.Errorf("GET /auth/logout = %d, sets %v", r.Code, r.cookie(sessionCookie))
	}
	// Another site's form post has no token (or a made-up one): refused, still signed in.
	for _, form := range []url.Values{{}, {"csrf": {"forged"}}} {
		if r := s.do(http.MethodPost, "/auth/logout", form); r.Code != http.StatusForbidden || r.cookie(sessionCookie) != nil {
			t.Errorf("POST /auth/logout with %v = %d", form, r.Code)
		}
	}
	if r := s.get("/"); r.Code != http.StatusOK {
		t.Fatalf("after refused sign-outs GET / = %d", r.Code)
	}
	r := s.do(http.MethodPost, "/auth/logout", url.Values{"csrf": {m[1]}})
	if r.Code != http.StatusOK || !strings.Contains(r.Body, "You are signed out") {
		t.Fatalf("POST /auth/logout = %d\n%s", r.Code, r.Body)
	}
	if c := r.cookie(sessionCookie); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Errorf("sign-out does not clear the session cookie: %+v", c)
	}
	if r := s.get("/"); r.Code != http.StatusFound {
		t.Errorf("after sign-out GET / = %d, want the redirect to sign in", r.Code)
	}
	golden(t, "signed_out", r.Body)
}

func TestPagesWithoutSessionRedirect(t *testing.T) {
	s := newSignin(t, nil)
	for _, p := range []string{"/", "/?sort=score&dir=desc", "/heatmap", "/services/checkout", "/services/no-such", "/events/deploy/checkout-deploy-031"} {
		r := s.get(p)
		if r.Code != http.StatusFound || r.Header.Get("Location") != "/auth/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s = %d, Location %q", p, r.Code, r.Header.Get("Location"))
		}
		if strings.Contains(r.Body, "checkout") {
			t.Errorf("GET %s leaks page content in the redirect", p)
		}
	}
	if r := s.do(http.MethodHead, "/heatmap", nil); r.Code != http.StatusFound || r.Header.Get("Location") != "/auth/login?next=%2Fheatmap" {
		t.Errorf("HEAD /heatmap = %d", r.Code)
	}
	s.signIn("/")
	if r := s.do(http.MethodHead, "/heatmap", nil); r.Code != http.StatusOK {
		t.Errorf("signed-in HEAD /heatmap = %d", r.Code)
	}
}

func TestPlaybooksStayPublic(t *testing.T) {
	s := newSignin(t, nil)
	for _, p := range []string{"/playbooks", "/playbooks/rollback_readiness", "/playbooks/no-such"} {
		r := s.get(p)
		if r.Code != http.StatusOK && r.Code != http.StatusNotFound || strings.Contains(r.Body, `class="viewer"`) {
			t.Errorf("GET %s without a session = %d", p, r.Code)
		}
	}
	s.signIn("/")
	if r := s.get("/playbooks"); r.Code != http.StatusOK || !strings.Contains(r.Body, "alice@example.com") {
		t.Errorf("signed-in playbooks page = %d, without the reader", r.Code)
	}
}

// TestSignedInHeader is the header a signed-in reader sees; the form's token differs per
// session, so it is replaced by a marker.
func TestSignedInHeader(t *testing.T) {
	s := signedIn(t)
	r := s.get("/playbooks")
	if r.Code != http.StatusOK {
		t.Fatal(r.Code)
	}
	golden(t, "playbooks_signed_in", regexp.MustCompile(`name="csrf" value="[^"]+"`).ReplaceAllString(r.Body, `name="csrf" value="TOKEN"`))
}

// An unreachable provider at start is logged naming the issuer; the pages stay closed, the
// sign-in answers 503, and the provider is tried again once it is back.
func TestProviderDownAtStart(t *testing.T) {
	s := newSignin(t, nil)
	down := newSignin(t, func(w *config.Web) { w.OIDC.Issuer = "http://127.0.0.1:1" })
	if !strings.Contains(down.logs.String(), `issuer=http://127.0.0.1:1`) {
		t.Errorf("start log does not name the issuer:\n%s", down.logs.String())
	}
	if r := down.get("/"); r.Code != http.StatusFound {
		t.Errorf("GET / with the provider down = %d", r.Code)
	}
	if r := down.get("/auth/login"); r.Code != http.StatusServiceUnavailable || !strings.Contains(r.Body, "http://127.0.0.1:1 cannot be reached") {
		t.Errorf("GET /auth/login with the provider down = %d\n%s", r.Code, r.Body)
	}
	// Back: the same options now point at a provider that answers.
	down.idp = s.idp
	down.auth.oidc.cfg.Issuer = s.idp.issuer()
	if r := down.get("/auth/login"); r.Code != http.StatusServiceUnavailable {
		t.Errorf("within 5 s of the last attempt the provider is not asked again: %d", r.Code)
	}
	down.clock.Advance(6 * time.Second)
	if r := down.signIn("/heatmap"); r.Code != http.StatusFound || r.Header.Get("Location") != "/heatmap" {
		t.Errorf("sign-in once the provider is back = %d\n%s", r.Code, r.Body)
	}
}

func TestRandomSessionKeyWarns(t *testing.T) {
	s := newSignin(t, func(w *config.Web) { w.SessionKey = config.Secret{} })
	if !strings.Contains(s.logs.String(), "web.session_key is not set") {
		t.Errorf("no warning:\n%s", s.logs.String())
	}
	if r := s.signIn("/"); r.Code != http.StatusFound {
		t.Errorf("sign-in with a random key = %d", r.Code)
	}
	if r := s.get("/"); r.Code != http.StatusOK {
		t.Errorf("GET / = %d", r.Code)
	}
}
