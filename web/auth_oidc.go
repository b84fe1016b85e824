package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"github.com/releaseops/releaseops/config"
)

// rediscoverAfter spaces the attempts to reach a provider that was down, so a burst of
// sign-ins during an outage does not become a burst of requests to it.
const rediscoverAfter = 5 * time.Second

// oidcLogin is the built-in OpenID Connect sign-in (authorization code flow with PKCE).
type oidcLogin struct {
	cfg      config.WebOIDC
	redirect string
	http     *http.Client
	log      *slog.Logger
	now      func() time.Time

	mu    sync.Mutex
	ready *oidcClient // nil until discovery has succeeded
	tried time.Time
	err   error
}

type oidcClient struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDCLogin(cfg config.WebOIDC, redirect string, hc *http.Client, log *slog.Logger, now func() time.Time) *oidcLogin {
	return &oidcLogin{cfg: cfg, redirect: redirect, http: hc, log: log, now: now}
}

// discover reads the provider's discovery document at start. Failing here is logged, not
// fatal: the webhooks and the API do not depend on the provider, and refusing to start would
// lose deliveries for as long as it is down. The pages answer 503 naming the issuer meanwhile.
func (o *oidcLogin) discover(ctx context.Context) {
	if _, err := o.client(ctx); err != nil {
		o.log.Error("web sign-in: the OpenID provider could not be reached at start; the pages answer 503 at sign-in until it can (tried again at most every 5 s)",
			"issuer", o.cfg.Issuer, "err", err)
	}
}

// client returns the discovered provider, discovering it now if that has not succeeded yet.
func (o *oidcLogin) client(ctx context.Context) (*oidcClient, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ready != nil {
		return o.ready, nil
	}
	if !o.tried.IsZero() && o.now().Sub(o.tried) < rediscoverAfter {
		return nil, o.err
	}
	o.tried = o.now()
	ctx, cancel := context.WithTimeout(ctx, providerTimeout)
	defer cancel()
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.http), o.cfg.Issuer)
	if err != nil {
		o.err = fmt.Errorf("discover the OpenID provider %s (%s/.well-known/openid-configuration): %w", o.cfg.Issuer, strings.TrimSuffix(o.cfg.Issuer, "/"), err)
		return nil, o.err
	}
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	for _, s := range o.cfg.Scopes {
		if s != "" && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	// The key set's context only carries the HTTP client (its timeout bounds each fetch of
	// the provider's keys); go-oidc ignores its cancellation by design.
	keys := oidc.ClientContext(context.Background(), o.http)
	o.ready = &oidcClient{
		oauth: oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret.Value(), Endpoint: p.Endpoint(),
			RedirectURL: o.redirect, Scopes: scopes},
		// Signature, issuer, audience (client_id) and expiry; the nonce is checked by
		// the callback, go-oidc leaves it to the caller.
		verifier: p.VerifierContext(keys, &oidc.Config{ClientID: o.cfg.ClientID, Now: o.now}),
	}
	o.err = nil
	o.log.Info("web sign-in ready", "issuer", o.cfg.Issuer, "redirect_url", o.redirect)
	return o.ready, nil
}

// login starts a sign-in: a fresh state, nonce and PKCE verifier go into a short-lived
// signed cookie, and the browser goes to the provider.
func (h *handler) login(c echo.Context) error {
	a := h.d.Auth
	c.Response().Header().Set("Cache-Control", "no-store")
	cl, err := a.oidc.client(c.Request().Context())
	if err != nil {
		return h.authProblem(c, http.StatusServiceUnavailable, fmt.Sprintf("The sign-in provider %s cannot be reached right now; try again in a minute.", a.oidc.cfg.Issuer))
	}
	st := loginState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Next: safeNext(c.QueryParam("next"))}
	ck, err := a.cookies.newLogin(st)
	if err != nil {
		return h.serverError(c, "login", err)
	}
	c.SetCookie(ck)
	return c.Redirect(http.StatusFound, cl.oauth.AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)))
}

// callback finishes a sign-in. Every check fails closed: whatever goes wrong, no session.
func (h *handler) callback(c echo.Context) error {
	a := h.d.Auth
	r := c.Request()
	c.Response().Header().Set("Cache-Control", "no-store")
	st, err := a.cookies.login(r)
	// The login cookie is for one attempt, whatever its outcome.
	c.SetCookie(a.cookies.clearLogin())
	if err != nil {
		a.log.Info("web sign-in refused", "why", "login cookie", "err", err, "peer", r.RemoteAddr)
		return h.authProblem(c, http.StatusBadRequest, "This sign-in was not started in this browser, or took longer than 10 minutes. Sign in again.")
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		a.log.Warn("web sign-in refused", "why", "state does not match", "peer", r.RemoteAddr)
		return h.authProblem(c, http.StatusBadRequest, "The sign-in answer does not belong to the sign-in this browser started (state mismatch). Sign in again.")
	}
	if e := q.Get("error"); e != "" {
		msg := "The sign-in provider did not sign you in: " + e
		if d := q.Get("error_description"); d != "" {
			msg += " (" + d + ")"
		}
		return h.authProblem(c, http.StatusForbidden, msg+".")
	}
	code := q.Get("code")
	if code == "" {
		return h.authProblem(c, http.StatusBadRequest, "The sign-in answer carries no authorization code. Sign in again.")
	}
	cl, err := a.oidc.client(r.Context())
	if err != nil {
		return h.authProblem(c, http.StatusServiceUnavailable, fmt.Sprintf("The sign-in provider %s cannot be reached right now; try again in a minute.", a.oidc.cfg.Issuer))
	}
	ctx, cancel := context.WithTimeout(r.Context(), providerTimeout)
	defer cancel()
	ctx = oidc.ClientContext(ctx, a.oidc.http)
	tok, err := cl.oauth.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		a.log.Warn("web sign-in: code exchange failed", "issuer", a.oidc.cfg.Issuer, "err", err)
		return h.authProblem(c, http.StatusBadGateway, "The sign-in provider did not accept the authorization code; the cause is in the server log. Sign in again.")
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		a.log.Warn("web sign-in: the token response has no id_token", "issuer", a.oidc.cfg.Issuer)
		return h.authProblem(c, http.StatusBadGateway, "The sign-in provider sent no ID token.")
	}
	idt, err := cl.verifier.Verify(ctx, raw)
	if err != nil {
		a.log.Warn("web sign-in refused", "why", "ID token", "err", err)
		return h.authProblem(c, http.StatusForbidden, "The ID token was refused: "+verifyReason(err)+".")
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		a.log.Warn("web sign-in refused", "why", "nonce does not match", "subject", idt.Subject)
		return h.authProblem(c, http.StatusForbidden, "The ID token was refused: it was not issued for this sign-in (nonce mismatch).")
	}
	id, err := claimsOf(idt, a.oidc.cfg.GroupsClaim)
	if err != nil {
		return h.authProblem(c, http.StatusForbidden, "The ID token was refused: "+err.Error()+".")
	}
	if why := admit(a.oidc.cfg, id); why != "" {
		a.log.Info("web sign-in refused", "why", why, "subject", idt.Subject, "email", id.Email)
		return h.authProblem(c, http.StatusForbidden, why)
	}
	ck, s, err := a.cookies.newSession(session{Subject: idt.Subject, Email: id.Email, Name: id.Name})
	if err != nil {
		return h.serverError(c, "callback", err)
	}
	c.SetCookie(ck)
	a.log.Info("web sign-in", "subject", s.Subject, "email", s.Email)
	return c.Redirect(http.StatusFound, safeNext(st.Next))
}

// verifyReason says which check an ID token failed, in the reader's words; the log has
// go-oidc's own message.
func verifyReason(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "it expired at " + exp.Expiry.UTC().Format(time.RFC3339) + " (is this server's clock right?)"
	case strings.Contains(msg, "expected audience"):
		return "it was issued for another client (its audience is not this client_id)"
	case strings.Contains(msg, "different provider"):
		return "it was issued by another provider"
	case strings.Contains(msg, "signature"):
		return "its signature does not verify with the provider's keys"
	}
	return "it could not be verified"
}

// identity is what the ID token says about the reader.
type identity struct {
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
}

func claimsOf(t *oidc.IDToken, groupsClaim string) (identity, error) {
	var c map[string]json.RawMessage
	if err := t.Claims(&c); err != nil {
		return identity{}, fmt.Errorf("its claims do not decode: %w", err)
	}
	var id identity
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(c[k], &s) // a claim of another type is as good as absent
		return s
	}
	id.Email = strings.TrimSpace(str("email"))
	id.Name = str("name")
	if id.Name == "" {
		id.Name = str("preferred_username")
	}
	if len(id.Name) > 200 {
		id.Name = id.Name[:200]
	}
	// Most providers send a boolean; some send the string "true".
	var b bool
	if json.Unmarshal(c["email_verified"], &b) == nil {
		id.EmailVerified = b
	} else {
		id.EmailVerified = str("email_verified") == "true"
	}
	if groupsClaim == "" {
		groupsClaim = "groups"
	}
	if raw, ok := c[groupsClaim]; ok {
		if json.Unmarshal(raw, &id.Groups) != nil {
			if g := str(groupsClaim); g != "" {
				id.Groups = []string{g}
			}
		}
	}
	return id, nil
}

// admit returns "" for a reader web.oidc allows, else why not: a verified e-mail address in
// one of allowed_domains, or membership of one of allowed_groups.
func admit(cfg config.WebOIDC, id identity) string {
	for _, g := range id.Groups {
		if slices.Contains(cfg.AllowedGroups, g) {
			return ""
		}
	}
	var why []string
	if len(cfg.AllowedDomains) > 0 {
		_, domain, _ := strings.Cut(id.Email, "@")
		domain = strings.ToLower(domain)
		allowed := slices.ContainsFunc(cfg.AllowedDomains, func(d string) bool { return strings.EqualFold(strings.TrimPrefix(d, "@"), domain) })
		switch {
		case id.Email == "" || domain == "":
			why = append(why, "the provider sent no e-mail address (the email scope and claim are needed)")
		case !allowed:
			why = append(why, id.Email+" is not in a domain allowed to sign in")
		case !id.EmailVerified:
			why = append(why, "the provider has not verified the e-mail address "+id.Email)
		default:
			return ""
		}
	}
	if len(cfg.AllowedGroups) > 0 {
		who := id.Email
		if who == "" {
			who = "this account"
		}
		why = append(why, who+" is not a member of a group allowed to sign in")
	}
	if len(why) == 0 {
		return "Access refused: no allowed domain or group is configured."
	}
	return "Access refused: " + strings.Join(why, ", and ") + "."
}

// authPage is the view of the sign-out pages.
type authPage struct {
	page
	Heading string
	Message string
	// SignOut is the sign-out form's token; empty, no form.
	SignOut string
	Links   []link
}

// logoutForm asks before signing out: a link or an image could trigger a GET from another
// site, so only the form's POST signs out.
func (h *handler) logoutForm(c echo.Context) error {
	a := h.d.Auth
	c.Response().Header().Set("Cache-Control", "no-store")
	s, err := a.cookies.session(c.Request())
	if err != nil {
		return h.render(c, http.StatusOK, "auth", authPage{page: page{Title: "Sign out"}, Heading: "You are not signed in",
			Links: []link{{Href: "/auth/login", Label: "Sign in"}, {Href: "/playbooks", Label: "Playbooks"}}})
	}
	c.Set(viewerKey, &viewer{Name: s.display(), CSRF: a.cookies.csrf(s)})
	return h.render(c, http.StatusOK, "auth", authPage{page: page{Title: "Sign out"}, Heading: "Sign out",
		Message: "You are signed in as " + s.display() + ".", SignOut: a.cookies.csrf(s)})
}

// logout ends the session. The form's token is derived from the session, so another site
// cannot post it; a post without a valid session has nothing to end.
func (h *handler) logout(c echo.Context) error {
	a := h.d.Auth
	r := c.Request()
	c.Response().Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(c.Response(), r.Body, 4096)
	s, err := a.cookies.session(r)
	if err == nil {
		tok := r.PostFormValue("csrf")
		if subtle.ConstantTimeCompare([]byte(tok), []byte(a.cookies.csrf(s))) != 1 {
			a.log.Warn("web sign-out refused: the form's token does not match the session", "peer", r.RemoteAddr)
			c.Set(viewerKey, &viewer{Name: s.display(), CSRF: a.cookies.csrf(s)})
			return h.render(c, http.StatusForbidden, "auth", authPage{page: page{Title: "Sign out"}, Heading: "Sign out",
				Message: "That sign-out did not come from this site's form. To sign out, use the button below.", SignOut: a.cookies.csrf(s)})
		}
		a.log.Info("web sign-out", "subject", s.Subject, "email", s.Email)
	}
	c.SetCookie(a.cookies.clearSession())
	return h.render(c, http.StatusOK, "auth", authPage{page: page{Title: "Signed out"}, Heading: "You are signed out",
		Message: "Your ReleaseOps session has ended. You may still be signed in at the sign-in provider.",
		Links:   []link{{Href: "/auth/login", Label: "Sign in again"}, {Href: "/playbooks", Label: "Playbooks"}}})
}
