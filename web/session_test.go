package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSealOpen(t *testing.T) {
	s := signer{key: []byte(strings.Repeat("k", 32))}
	v, err := s.seal(purposeSession, session{ID: "i", Subject: "u", Email: "a@example.com", Issued: 1, Expires: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got session
	if err := s.open(purposeSession, v, &got); err != nil || got.Email != "a@example.com" {
		t.Fatalf("open = %+v, %v", got, err)
	}
	for name, tc := range map[string]struct {
		purpose, value string
		key            string
	}{
		"other purpose":   {purposeLogin, v, strings.Repeat("k", 32)},
		"other key":       {purposeSession, v, strings.Repeat("j", 32)},
		"truncated":       {purposeSession, v[:len(v)-1], strings.Repeat("k", 32)},
		"no dot":          {purposeSession, strings.ReplaceAll(v, ".", ""), strings.Repeat("k", 32)},
		"oversized":       {purposeSession, strings.Repeat("a", maxCookieBytes+1), strings.Repeat("k", 32)},
		"payload swapped": {purposeSession, "eyJzdWIiOiJtYWxsb3J5In0" + v[strings.Index(v, "."):], strings.Repeat("k", 32)},
	} {
		var out session
		if err := (signer{key: []byte(tc.key)}).open(tc.purpose, tc.value, &out); err == nil {
			t.Errorf("%s: opened %+v", name, out)
		}
	}
}

func TestSessionLimits(t *testing.T) {
	clock := &testClock{t: now}
	k := cookies{signer: signer{key: []byte(strings.Repeat("k", 32))}, ttl: time.Hour, now: clock.Now}
	ck, s, err := k.newSession(session{Subject: "u-alice", Email: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID == "" || s.Expires-s.Issued != 3600 || ck.MaxAge != 3600 || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Fatalf("session %+v, cookie %+v", s, ck)
	}
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: ck.Value})
		return r
	}
	if _, err := k.session(req()); err != nil {
		t.Fatalf("fresh session refused: %v", err)
	}
	clock.Advance(time.Hour)
	if _, err := k.session(req()); err != errExpired {
		t.Errorf("session at its expiry: %v, want errExpired", err)
	}
	if _, err := k.session(httptest.NewRequest(http.MethodGet, "/", nil)); err != errNoCookie {
		t.Errorf("no cookie: %v", err)
	}
	// Two sessions of the same person have different sign-out tokens.
	_, s2, _ := k.newSession(session{Subject: "u-alice"})
	if k.csrf(s) == k.csrf(s2) || k.csrf(s) == "" {
		t.Error("sign-out tokens are not per session")
	}
}
