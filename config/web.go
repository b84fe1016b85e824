package config

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/releaseops/releaseops"
)

// Web is who may see the web pages. The pages show every service's evidence (repository
// names, incidents, approvals), so a server reachable beyond this machine must say how its
// readers sign in: built-in OpenID Connect, a fronting proxy's header, or none on purpose.
// Playbooks stay public.
type Web struct {
	// Auth is oidc, proxy or none; empty means oidc when web.oidc.issuer is set, none on a
	// loopback listen address, and a refusal to start otherwise.
	Auth  string   `yaml:"auth"`
	OIDC  WebOIDC  `yaml:"oidc"`
	Proxy WebProxy `yaml:"proxy"`
	// SessionKey signs the session cookie (at least 32 bytes). Every replica needs the same
	// one; empty, a key is drawn at start (sessions then end with the process).
	SessionKey Secret `yaml:"session_key"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL releaseops.Duration `yaml:"session_ttl"`
}

// WebOIDC is the built-in login against an OpenID Connect provider (Google, Okta, Entra ID,
// Keycloak, Dex...). The redirect URL is public_url + /auth/callback.
type WebOIDC struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"client_secret"`
	// AllowedDomains admits a verified e-mail address in one of these domains.
	AllowedDomains []string `yaml:"allowed_domains"`
	// AllowedGroups admits a member of one of these groups (GroupsClaim of the ID token).
	AllowedGroups []string `yaml:"allowed_groups"`
	GroupsClaim   string   `yaml:"groups_claim"`
	// Scopes beyond openid, email and profile (e.g. groups).
	Scopes []string `yaml:"scopes"`
}

// WebProxy trusts a fronting proxy (oauth2-proxy, an identity-aware proxy) that signs people
// in and passes who they are in a header.
type WebProxy struct {
	// Header carries the signed-in user (default X-Forwarded-Email).
	Header string `yaml:"header"`
	// TrustedProxies are the addresses (CIDRs) the header is believed from; empty: any
	// (then the replicas must be reachable only through the proxy).
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// WebAuth returns the effective web.auth: oidc, proxy or none ("" when the config leaves
// it undecided on a non-loopback address, which validation refuses).
func (c *Config) WebAuth() string {
	switch {
	case c.Web.Auth != "":
		return c.Web.Auth
	case c.Web.OIDC.Issuer != "":
		return "oidc"
	case loopbackListen(c.Listen):
		return "none"
	}
	return ""
}

func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (c *Config) validateWeb(add func(path, format string, args ...any)) {
	switch c.Web.Auth {
	case "", "oidc", "proxy", "none":
	default:
		add("web.auth", "must be oidc (built-in login), proxy (a fronting proxy's header) or none, got %q", c.Web.Auth)
		return
	}
	if c.WebAuth() == "" {
		add("web.auth", "listen %s is not a loopback address, so the web pages would show every service's evidence to anyone who reaches it: "+
			"set web.oidc (built-in OpenID Connect login), web.auth: proxy (trust a fronting proxy's header, web.proxy.header) or web.auth: none (on purpose)", c.Listen)
	}
	if c.WebAuth() == "oidc" {
		o := c.Web.OIDC
		if u, err := url.Parse(o.Issuer); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname()))) || u.Host == "" {
			add("web.oidc.issuer", "want the provider's https URL (its /.well-known/openid-configuration is read at start), got %q", o.Issuer)
		}
		if o.ClientID == "" {
			add("web.oidc.client_id", "required with web.oidc")
		}
		if !o.ClientSecret.IsSet() {
			add("web.oidc.client_secret", "required with web.oidc (or RELEASEOPS_WEB_OIDC_CLIENT_SECRET)")
		}
		if len(o.AllowedDomains) == 0 && len(o.AllowedGroups) == 0 {
			add("web.oidc", "set allowed_domains or allowed_groups: without one, any account the provider knows could sign in")
		}
		for i, d := range o.AllowedDomains {
			if d == "" || strings.ContainsAny(d, "@/ ") {
				add("web.oidc.allowed_domains", "entry %d: want a domain such as example.com, got %q", i, d)
			}
		}
		if u, err := url.Parse(c.PublicURL); err == nil && u.Scheme != "https" && !loopbackHost(u.Hostname()) {
			add("public_url", "must be https with web.oidc (the session cookie is Secure and the provider redirects to it), got %q", c.PublicURL)
		}
	}
	if c.WebAuth() == "proxy" {
		for i, p := range c.Web.Proxy.TrustedProxies {
			if _, err := netip.ParsePrefix(p); err != nil {
				if _, err := netip.ParseAddr(p); err != nil {
					add("web.proxy.trusted_proxies", "entry %d: want a CIDR such as 10.0.0.0/8 or an address, got %q", i, p)
				}
			}
		}
	}
	if k := c.Web.SessionKey.Value(); k != "" && len(k) < 32 {
		add("web.session_key", "must be at least 32 bytes (openssl rand -hex 32), got %d", len(k))
	}
	if c.Web.SessionTTL < 0 {
		add("web.session_ttl", "must not be negative")
	}
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
