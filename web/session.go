package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	// sessionCookie holds a signed-in reader's session on every path.
	sessionCookie = "releaseops_session"
	// loginCookie carries a sign-in in progress (state, nonce, PKCE verifier, the page
	// asked for) from /auth/login to /auth/callback only.
	loginCookie = "releaseops_login"
	// loginTTL is how long a reader may take at the provider's login page.
	loginTTL = 10 * time.Minute
	// maxCookieBytes refuses an oversized value before any decoding: ours are well under
	// a kilobyte, and a browser stores at most 4 KB per cookie anyway.
	maxCookieBytes = 4096
)

// Purposes keep one signed value from passing for another: the login cookie, the session
// and the sign-out form token are all signed with the same key.
const (
	purposeSession = "releaseops session v1"
	purposeLogin   = "releaseops login v1"
	purposeCSRF    = "releaseops signout v1"
)

var (
	errNoCookie      = errors.New("no cookie")
	errBadSignature  = errors.New("signature does not match")
	errExpired       = errors.New("expired")
	errMalformedSeal = errors.New("malformed value")
)

// signer seals small JSON values with HMAC-SHA256. The values are readable by whoever holds
// the cookie (the reader's own browser): they carry nothing secret, only what must not be
// forged.
type signer struct{ key []byte }

// newSessionKey returns the configured key, or a random one for this process only.
func newSessionKey(configured string) (key []byte, random bool) {
	if configured != "" {
		return []byte(configured), false
	}
	key = make([]byte, 32)
	// crypto/rand.Read never fails on the platforms Go supports (it aborts the program
	// instead), so there is no error to pass on.
	_, _ = rand.Read(key)
	return key, true
}

func (s signer) mac(purpose, payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// seal returns base64url(JSON of v) "." base64url(MAC).
func (s signer) seal(purpose string, v any) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", purpose, err)
	}
	payload := base64.RawURLEncoding.EncodeToString(raw)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(purpose, payload)), nil
}

// open checks the MAC before decoding anything, so a forged value is never parsed.
func (s signer) open(purpose, value string, v any) error {
	if len(value) > maxCookieBytes {
		return errMalformedSeal
	}
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return errMalformedSeal
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return errMalformedSeal
	}
	if !hmac.Equal(got, s.mac(purpose, payload)) {
		return errBadSignature
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return errMalformedSeal
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %v", errMalformedSeal, err)
	}
	return nil
}

// token derives a value from data that only the key holder can compute (the sign-out
// form's token from the session id).
func (s signer) token(purpose, data string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac(purpose, data))
}

// session is a signed-in reader. The expiry is inside the signed value: the cookie's own
// Max-Age is only a hint to the browser, and a copied cookie must still stop working.
type session struct {
	// ID is random per sign-in; the sign-out form's token is derived from it.
	ID      string `json:"sid"`
	Subject string `json:"sub"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
	Issued  int64  `json:"iat"`
	Expires int64  `json:"exp"`
}

// display is how the header names the reader.
func (s session) display() string {
	for _, v := range []string{s.Email, s.Name, s.Subject} {
		if v != "" {
			return v
		}
	}
	return "signed in"
}

// loginState is a sign-in in progress, bound to the browser that started it.
type loginState struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"pkce"`
	Next     string `json:"next"`
	Expires  int64  `json:"exp"`
}

// randomToken is 32 random bytes, base64url: state, nonce and session ids.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails; see newSessionKey
	return base64.RawURLEncoding.EncodeToString(b)
}

// cookies reads and writes the two signed cookies.
type cookies struct {
	signer signer
	secure bool
	ttl    time.Duration
	now    func() time.Time
}

func (k cookies) cookie(name, value, path string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: path, MaxAge: maxAge, HttpOnly: true, Secure: k.secure,
		// Lax, not Strict: the provider's redirect back to /auth/callback is a cross-site
		// navigation, and the first page after it must see the session.
		SameSite: http.SameSiteLaxMode}
}

// newSession seals a session for the identity and returns its cookie.
func (k cookies) newSession(s session) (*http.Cookie, session, error) {
	now := k.now()
	s.ID = randomToken()
	s.Issued, s.Expires = now.Unix(), now.Add(k.ttl).Unix()
	v, err := k.signer.seal(purposeSession, s)
	if err != nil {
		return nil, session{}, err
	}
	return k.cookie(sessionCookie, v, "/", int(k.ttl/time.Second)), s, nil
}

// session returns the request's valid session. errNoCookie means none was sent; any other
// error means one was sent and refused (forged, malformed, expired).
func (k cookies) session(r *http.Request) (session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, errNoCookie
	}
	var s session
	if err := k.signer.open(purposeSession, c.Value, &s); err != nil {
		return session{}, err
	}
	now := k.now().Unix()
	// Both limits: the expiry sealed at sign-in, and the TTL configured now, so shortening
	// web.session_ttl also shortens the sessions already handed out.
	if now >= s.Expires || now >= s.Issued+int64(k.ttl/time.Second) || s.ID == "" {
		return session{}, errExpired
	}
	return s, nil
}

func (k cookies) clearSession() *http.Cookie { return k.cookie(sessionCookie, "", "/", -1) }

func (k cookies) newLogin(st loginState) (*http.Cookie, error) {
	st.Expires = k.now().Add(loginTTL).Unix()
	v, err := k.signer.seal(purposeLogin, st)
	if err != nil {
		return nil, err
	}
	return k.cookie(loginCookie, v, "/auth/", int(loginTTL/time.Second)), nil
}

func (k cookies) login(r *http.Request) (loginState, error) {
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" {
		return loginState{}, errNoCookie
	}
	var st loginState
	if err := k.signer.open(purposeLogin, c.Value, &st); err != nil {
		return loginState{}, err
	}
	if k.now().Unix() >= st.Expires {
		return loginState{}, errExpired
	}
	return st, nil
}

func (k cookies) clearLogin() *http.Cookie { return k.cookie(loginCookie, "", "/auth/", -1) }

// csrf is the sign-out form's token for a session.
func (k cookies) csrf(s session) string { return k.signer.token(purposeCSRF, s.ID) }
