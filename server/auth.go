package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
)

type apiToken struct {
	name   string
	digest [32]byte
	scopes map[string]bool
}

// tokenAuth checks bearer tokens. Tokens are compared as SHA-256 digests in constant time,
// and every configured token is compared, so timing reveals neither a prefix nor which matched.
type tokenAuth struct{ tokens []apiToken }

func newTokenAuth(cfg []config.APIToken) *tokenAuth {
	a := &tokenAuth{}
	for _, t := range cfg {
		at := apiToken{name: t.Name, digest: sha256.Sum256([]byte(t.Token.Value())), scopes: map[string]bool{}}
		for _, s := range t.Scopes {
			at.scopes[s] = true
		}
		a.tokens = append(a.tokens, at)
	}
	return a
}

// Caller is the authenticated token's name, stored in the echo context under "caller".
const callerKey = "caller"

// CallerName returns the name of the API token that made the request, or "".
func CallerName(c echo.Context) string {
	s, _ := c.Get(callerKey).(string)
	return s
}

func (a *tokenAuth) check(header, scope string) (string, error) {
	raw, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || raw == "" {
		return "", releaseops.Errorf(releaseops.EUNAUTHORIZED, "missing bearer token")
	}
	d := sha256.Sum256([]byte(raw))
	var found *apiToken
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = &a.tokens[i]
		}
	}
	if found == nil {
		return "", releaseops.Errorf(releaseops.EUNAUTHORIZED, "invalid bearer token")
	}
	if !found.scopes[scope] {
		return "", releaseops.Errorf(releaseops.EFORBIDDEN, "token %q lacks the %s scope", found.name, scope)
	}
	return found.name, nil
}

// Require is middleware that admits requests bearing a token with the scope.
func (s *Server) Require(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			name, err := s.auth.check(c.Request().Header.Get("Authorization"), scope)
			if err != nil {
				return err
			}
			c.Set(callerKey, name)
			return next(c)
		}
	}
}
