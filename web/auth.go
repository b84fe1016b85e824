package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/config"
)

// Auth modes, as config.(*Config).WebAuth returns them.
const (
	AuthOIDC  = "oidc"
	AuthProxy = "proxy"
	AuthNone  = "none"
)

// AuthOptions configure who may read the pages.
type AuthOptions struct {
	// Mode is the effective web.auth: oidc, proxy or none (config.(*Config).WebAuth).
	Mode      string
	Web       config.Web
	PublicURL string
	Log       *slog.Logger
	// Now is the clock of sessions and ID token expiry (default time.Now). The provider
	// stamps tokens with the wall clock, so only tests replace it.
	Now func() time.Time
	// HTTPClient makes the calls to the provider: discovery, keys, code exchange (default:
	// a client with a 10 s timeout per request).
	HTTPClient *http.Client
}

// Auth decides who may read the pages. A nil *Auth, or mode none, lets everyone in.
type Auth struct {
	mode    string
	log     *slog.Logger
	cookies cookies
	oidc    *oidcLogin
	proxy   *proxyAuth
	// closed is why every protected page is refused: the sign-in could not be set up, and
	// an open door is not the fallback.
	closed string
}

// providerTimeout bounds each call to the OpenID provider.
const providerTimeout = 10 * time.Second

// NewAuth sets up the sign-in. In oidc mode it discovers the provider within ctx; a provider
// that cannot be reached is not an error here (see oidcLogin): it is logged, naming the
// issuer, and tried again at the first sign-in, so an identity provider's outage never stops
// the webhooks from being received.
func NewAuth(ctx context.Context, o AuthOptions) (*Auth, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: providerTimeout}
	}
	a := &Auth{mode: o.Mode, log: o.Log}
	switch o.Mode {
	case AuthNone:
		return a, nil
	case AuthProxy:
		p, err := newProxyAuth(o.Web.Proxy)
		if err != nil {
			return nil, err
		}
		if len(p.trusted) == 0 {
			o.Log.Warn("web.auth proxy believes " + p.header + " from any address: the server must be reachable only through the proxy (or set web.proxy.trusted_proxies)")
		}
		a.proxy = p
		return a, nil
	case AuthOIDC:
	default:
		return nil, fmt.Errorf("web.auth %q: want oidc, proxy or none", o.Mode)
	}
	pub, err := url.Parse(strings.TrimSuffix(o.PublicURL, "/"))
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("public_url %q: the sign-in's redirect URL is built from it: %v", o.PublicURL, err)
	}
	key, random := newSessionKey(o.Web.SessionKey.Value())
	if random {
		o.Log.Warn("web.session_key is not set: sessions are signed with a key drawn at start, so they end when this process does and are not valid on other replicas")
	}
	ttl := o.Web.SessionTTL.Std()
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	a.cookies = cookies{signer: signer{key: key}, secure: pub.Scheme == "https", ttl: ttl, now: o.Now}
	a.oidc = newOIDCLogin(o.Web.OIDC, pub.String()+"/auth/callback", o.HTTPClient, o.Log, o.Now)
	a.oidc.discover(ctx)
	return a, nil
}

// ClosedAuth refuses every protected page with 503, naming why. It is what the server runs
// with when the sign-in could not be set up.
func ClosedAuth(reason string) *Auth {
	return &Auth{mode: "closed", log: slog.Default(), closed: reason}
}

// Mode is the effective mode: oidc, proxy, none (or closed).
func (a *Auth) Mode() string {
	if a == nil {
		return AuthNone
	}
	return a.mode
}

// viewer is the signed-in reader as the page header shows them.
type viewer struct {
	Name string
	// CSRF is the sign-out form's token; empty when there is no sign-out here (proxy mode:
	// the proxy owns the session).
	CSRF string
}

const viewerKey = "web.viewer"

func viewerOf(c echo.Context) *viewer {
	v, _ := c.Get(viewerKey).(*viewer)
	return v
}

// protect guards a page that shows evidence: without a signed-in reader, a GET is sent to the
// sign-in and come back after it; anything else is refused.
func (h *handler) protect(next echo.HandlerFunc) echo.HandlerFunc {
	a := h.d.Auth
	if a.Mode() == AuthNone {
		return next
	}
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "private, no-cache")
		switch a.mode {
		case AuthProxy:
			user, status, why := a.proxy.identify(c.Request())
			if status != 0 {
				a.log.Info("web page refused", "path", c.Request().URL.Path, "peer", c.Request().RemoteAddr, "why", why)
				return h.authProblem(c, status, why)
			}
			c.Set(viewerKey, &viewer{Name: user})
			return next(c)
		case AuthOIDC:
			s, err := a.cookies.session(c.Request())
			if err == nil {
				c.Set(viewerKey, &viewer{Name: s.display(), CSRF: a.cookies.csrf(s)})
				return next(c)
			}
			if !errors.Is(err, errNoCookie) {
				h.refusedSession(c, err)
			}
			r := c.Request()
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return c.Redirect(http.StatusFound, "/auth/login?next="+url.QueryEscape(r.URL.RequestURI()))
			}
			return h.authProblem(c, http.StatusUnauthorized, "Sign in first: this page shows the services' evidence.")
		}
		return h.render(c, http.StatusServiceUnavailable, "error", errorPage{page: page{Title: "Sign-in unavailable"},
			Heading: "Sign-in unavailable", Message: a.closed})
	}
}

// identify names the reader of a public page (the playbooks) in its header when they are
// signed in, and lets everyone else in too.
func (h *handler) identify(next echo.HandlerFunc) echo.HandlerFunc {
	a := h.d.Auth
	if a.Mode() != AuthOIDC && a.Mode() != AuthProxy {
		return next
	}
	return func(c echo.Context) error {
		if a.mode == AuthProxy {
			if user, status, _ := a.proxy.identify(c.Request()); status == 0 {
				c.Set(viewerKey, &viewer{Name: user})
			}
			return next(c)
		}
		s, err := a.cookies.session(c.Request())
		switch {
		case err == nil:
			c.Set(viewerKey, &viewer{Name: s.display(), CSRF: a.cookies.csrf(s)})
		case !errors.Is(err, errNoCookie):
			h.refusedSession(c, err)
		}
		return next(c)
	}
}

// refusedSession drops a session cookie that did not verify, so the browser stops sending it.
// A forged one is worth a warning; an expired one is the normal end of a session.
func (h *handler) refusedSession(c echo.Context, err error) {
	a := h.d.Auth
	c.SetCookie(a.cookies.clearSession())
	if errors.Is(err, errExpired) {
		a.log.Debug("web session expired", "peer", c.Request().RemoteAddr)
		return
	}
	a.log.Warn("web session cookie refused", "peer", c.Request().RemoteAddr, "err", err)
}

// authProblem is the page of a refused sign-in: it names why, and never starts a session.
func (h *handler) authProblem(c echo.Context, status int, why string) error {
	title := "Not signed in"
	switch status {
	case http.StatusForbidden:
		title = "Access refused"
	case http.StatusBadRequest:
		title = "Sign-in failed"
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		title = "Sign-in unavailable"
	}
	links := []link{{Href: "/playbooks", Label: "Playbooks (public)"}}
	if h.d.Auth.Mode() == AuthOIDC {
		links = append([]link{{Href: "/auth/login", Label: "Sign in again"}}, links...)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.render(c, status, "error", errorPage{page: page{Title: title}, Heading: title, Message: why, Links: links})
}

// safeNext returns where to go after signing in: the local path asked for, or "/". Anything
// a browser could read as another origin is refused: "//evil.com", "/\evil.com" (browsers
// treat "\" as "/"), "https://evil.com", and control characters or spaces, which browsers
// strip before resolving ("/\t/evil.com" is "//evil.com" to them).
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "/"
	}
	for _, r := range next {
		if r <= ' ' || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return "/"
	}
	// Back to the sign-in itself would loop.
	if u.Path == "/auth" || strings.HasPrefix(u.Path, "/auth/") {
		return "/"
	}
	return next
}

// proxyAuth believes a fronting proxy's header naming the signed-in user.
type proxyAuth struct {
	header string
	// trusted are the peers the header is believed from; empty, any peer.
	trusted []netip.Prefix
}

func newProxyAuth(c config.WebProxy) (*proxyAuth, error) {
	p := &proxyAuth{header: http.CanonicalHeaderKey(c.Header)}
	if p.header == "" {
		p.header = "X-Forwarded-Email"
	}
	for i, s := range c.TrustedProxies {
		pre, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("web.proxy.trusted_proxies entry %d %q: want a CIDR or an address: %w", i, s, err)
			}
			pre = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		p.trusted = append(p.trusted, pre.Masked())
	}
	return p, nil
}

// identify returns the user the proxy named, or the status and reason of a refusal. The
// peer is the TCP address the request came from, never X-Forwarded-For: that header is
// written by whoever sends the request, which is the very thing in question.
func (p *proxyAuth) identify(r *http.Request) (user string, status int, why string) {
	if len(p.trusted) > 0 {
		peer, ok := peerAddr(r.RemoteAddr)
		trusted := false
		for _, pre := range p.trusted {
			if ok && pre.Contains(peer) {
				trusted = true
				break
			}
		}
		if !trusted {
			return "", http.StatusForbidden, "This server admits readers only through its sign-in proxy, and this request did not come from it."
		}
	}
	vals := r.Header.Values(p.header)
	if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
		return "", http.StatusUnauthorized, "Not signed in: the sign-in proxy did not name a user (" + p.header + " is missing)."
	}
	if len(vals) > 1 {
		// A proxy sets the header once; two copies mean one came from the client.
		return "", http.StatusUnauthorized, "Not signed in: " + p.header + " was sent more than once."
	}
	user = strings.TrimSpace(vals[0])
	if len(user) > 320 || strings.ContainsFunc(user, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", http.StatusUnauthorized, "Not signed in: " + p.header + " does not hold a user name."
	}
	return user, 0, ""
}

func peerAddr(remote string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
