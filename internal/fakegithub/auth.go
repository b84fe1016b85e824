package fakegithub

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	jwt "github.com/golang-jwt/jwt/v4"
)

// authKind is the credential a route takes, as GitHub splits them: the App's endpoints take
// its JWT, an installation's listing takes only that installation's token, and everything
// else an installation token or a personal token.
type authKind int

const (
	authNone authKind = iota
	authJWT
	authInstallation
	authToken
	authAppOrInstallation // GET /app takes the App's JWT or one of its installation tokens
)

// cred is who a request authenticated as.
type cred struct {
	key          string // rate-limit bucket
	kind         string // jwt, installation, token, none
	installation int64
	label        string // "installation ID 42", for rate-limit messages
	scopes       []string
}

type token struct {
	installation int64     // 0: a personal token, which sees every repository
	expires      time.Time // zero: never
	revoked      bool
	scopes       []string // a classic personal token's, sent as X-OAuth-Scopes; nil: fine-grained
}

const docsREST = "https://docs.github.com/rest"

// SetApp installs the App the fake knows (one: GitHub Apps are separate fakes).
func (s *Server) SetApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Slug == "" {
		a.Slug = "releaseops"
	}
	s.app = &a
}

// UpdateApp changes the App in place (install it on a repository, suspend an installation).
func (s *Server) UpdateApp(fn func(*App)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.app != nil {
		fn(s.app)
	}
}

// AddToken accepts a fine-grained personal access token that can read every repository.
func (s *Server) AddToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &token{}
}

// AddClassicToken accepts a classic personal access token with scopes ("repo", "read:org"),
// which GitHub names in X-OAuth-Scopes on every answer to it.
func (s *Server) AddClassicToken(tok string, scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[tok] = &token{scopes: append([]string{}, scopes...)}
}

// RevokeToken makes a token (personal, or one an installation minted) answer 401.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tok]; ok {
		t.revoked = true
	}
}

// RefuseInstallation makes every token of an installation, minted before or after, answer
// 401 "Bad credentials" while refuse is true: a client that mints again on a 401 still
// fails, as it does when GitHub revokes an installation's access.
func (s *Server) RefuseInstallation(id int64, refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[id] = refuse
}

// Tokens returns the live tokens an installation minted, oldest first.
func (s *Server) Tokens(installation int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, t := range s.tokens {
		if t.installation == installation && !t.revoked {
			out = append(out, k)
		}
	}
	// Minted tokens are numbered, so their order is their names'.
	sort.Strings(out)
	return out
}

// authenticate checks a request's credential for a route. A failure is GitHub's answer.
func (s *Server) authenticate(r *http.Request, kind authKind) (*cred, *reply) {
	scheme, raw, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimSpace(raw)
	if kind == authNone {
		// An endpoint the fake does not serve still answers on the caller's own budget.
		if c, fail := s.authenticate(r, authToken); fail == nil {
			return c, nil
		}
		return &cred{key: "anon", kind: "none"}, nil
	}
	if raw == "" || (!strings.EqualFold(scheme, "bearer") && !strings.EqualFold(scheme, "token")) {
		rep := s.errorReply(http.StatusUnauthorized, "Requires authentication", docsREST)
		return &cred{key: "anon", kind: "none"}, &rep
	}
	if kind == authJWT || (kind == authAppOrInstallation && strings.Count(raw, ".") == 2) {
		return s.checkJWT(raw)
	}
	t, ok := s.tokens[raw]
	bad := s.errorReply(http.StatusUnauthorized, "Bad credentials", docsREST)
	gone := t != nil && t.installation != 0 && s.installation(t.installation) == nil
	if !ok || gone || t.revoked || s.refused[t.installation] || (!t.expires.IsZero() && !s.now().Before(t.expires)) {
		return &cred{key: "bad:" + hashOf(raw), kind: "token"}, &bad
	}
	if t.installation == 0 {
		c := &cred{key: "tok:" + hashOf(raw), kind: "token", label: "user ID 1", scopes: t.scopes}
		if kind == authAppOrInstallation {
			rep := s.errorReply(http.StatusUnauthorized, "A JSON web token could not be decoded", docsREST)
			return c, &rep
		}
		if kind == authInstallation {
			rep := s.errorReply(http.StatusForbidden, "You must authenticate with an installation access token in order to list repositories for an installation.",
				"https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation")
			return c, &rep
		}
		return c, nil
	}
	id := t.installation
	return &cred{key: "inst:" + strconv.FormatInt(id, 10), kind: "installation", installation: id,
		label: "installation ID " + strconv.FormatInt(id, 10)}, nil
}

// checkJWT accepts what GitHub accepts: RS256 signed by the App's key, issued by its id (or
// client id), issued at most a minute ahead and expiring at most ten minutes after issue.
func (s *Server) checkJWT(raw string) (*cred, *reply) {
	refuse := func(msg string) (*cred, *reply) {
		rep := s.errorReply(http.StatusUnauthorized, msg, docsREST)
		return &cred{key: "bad:" + hashOf(raw), kind: "jwt"}, &rep
	}
	if s.app == nil || s.app.PublicKey == nil {
		return refuse("Integration not found")
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodRS256 {
			return nil, fmt.Errorf("alg %v", t.Header["alg"])
		}
		return s.app.PublicKey, nil
	})
	switch {
	case err != nil:
		return refuse("A JSON web token could not be decoded")
	case claims.Issuer != strconv.FormatInt(s.app.ID, 10) && (s.app.ClientID == "" || claims.Issuer != s.app.ClientID):
		return refuse("'Issuer' claim ('iss') must be an Integer")
	case claims.ExpiresAt == nil || claims.IssuedAt == nil:
		return refuse("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case claims.ExpiresAt.Sub(claims.IssuedAt.Time) > 10*time.Minute+time.Second:
		return refuse("'Expiration time' claim ('exp') is too far in the future")
	}
	id := strconv.FormatInt(s.app.ID, 10)
	return &cred{key: "app:" + id, kind: "jwt", label: "app ID " + id}, nil
}

// visible reports whether a credential can read a repository: a personal token reads every
// one, an installation token only its installation's.
func (s *Server) visible(c *cred, full string) bool {
	if c == nil {
		return false
	}
	switch c.kind {
	case "token":
		return true
	case "installation":
		in := s.installation(c.installation)
		return in != nil && covers(in, full)
	}
	return false
}

func (s *Server) installation(id int64) *Installation {
	if s.app == nil {
		return nil
	}
	for i := range s.app.Installations {
		if s.app.Installations[i].ID == id {
			return &s.app.Installations[i]
		}
	}
	return nil
}

func covers(in *Installation, full string) bool {
	owner, _, _ := strings.Cut(full, "/")
	if !strings.EqualFold(owner, in.Account) {
		return false
	}
	if in.Repos == nil {
		return true
	}
	for _, r := range in.Repos {
		if strings.EqualFold(r, full) {
			return true
		}
	}
	return false
}

// mint answers POST /app/installations/{id}/access_tokens.
func (s *Server) mint(c *call) reply {
	id, _ := strconv.ParseInt(c.param("id"), 10, 64)
	in := s.installation(id)
	if in == nil {
		return s.notFound("https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
	}
	if in.Suspended {
		return s.errorReply(http.StatusForbidden, "This installation has been suspended", "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app")
	}
	s.counts.Minted++
	sum := sha256.Sum256([]byte(strconv.FormatInt(id, 10) + "/" + strconv.Itoa(s.counts.Minted)))
	tok := fmt.Sprintf("ghs_%06d%s", s.counts.Minted, hex.EncodeToString(sum[:])[:30])
	exp := s.now().UTC().Add(time.Hour).Truncate(time.Second)
	s.tokens[tok] = &token{installation: id, expires: exp}
	return s.jsonReply(http.StatusCreated, map[string]any{"token": tok, "expires_at": stamp(exp),
		"permissions": permissions(in), "repository_selection": selection(in)})
}

func permissions(in *Installation) map[string]string {
	if in.Permissions != nil {
		return in.Permissions
	}
	return defaultPermissions()
}

func selection(in *Installation) string {
	if in.Repos == nil {
		return "all"
	}
	return "selected"
}

// hashOf names a secret without keeping it.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// numericID gives a login a stable id, as GitHub gives every account one.
func numericID(login string) int64 {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(login)))
	return int64(h.Sum32()%90000000) + 10000
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
