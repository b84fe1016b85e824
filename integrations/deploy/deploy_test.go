package deploy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fixtures"
)

const secret = "deploy-test-secret"

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signed(body []byte) http.Header {
	h := http.Header{}
	h.Set(SignatureHeader, Sign(secret, body))
	return h
}

func wantCode(t *testing.T, err error, code string) *releaseops.Error {
	t.Helper()
	var e *releaseops.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *releaseops.Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
	return e
}

func TestSign(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if got, want := Sign(secret, body), "sha256="+hex.EncodeToString(m.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := readTestdata(t, "finished.json")
	src := New(secret)
	if err := src.Verify(signed(body), body); err != nil {
		t.Fatalf("Verify(valid) = %v", err)
	}
	upper := http.Header{}
	upper.Set(SignatureHeader, "sha256="+strings.ToUpper(strings.TrimPrefix(Sign(secret, body), "sha256=")))
	if err := src.Verify(upper, body); err != nil {
		t.Fatalf("Verify(uppercase hex) = %v", err)
	}

	tampered := append([]byte{}, body...)
	tampered[10] ^= 1
	cases := []struct {
		name    string
		header  string
		body    []byte
		message string
	}{
		{"missing", "", body, "missing X-ReleaseOps-Signature"},
		{"no prefix", strings.TrimPrefix(Sign(secret, body), "sha256="), body, "malformed X-ReleaseOps-Signature"},
		{"sha1 prefix", "sha1=" + strings.Repeat("0", 40), body, "malformed X-ReleaseOps-Signature"},
		{"not hex", "sha256=" + strings.Repeat("zz", 32), body, "malformed X-ReleaseOps-Signature"},
		{"short", "sha256=abcd", body, "malformed X-ReleaseOps-Signature"},
		{"wrong secret", Sign("other", body), body, "does not match"},
		{"tampered body", Sign(secret, body), tampered, "does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set(SignatureHeader, c.header)
			}
			err := src.Verify(h, c.body)
			e := wantCode(t, err, releaseops.EUNAUTHORIZED)
			if !strings.Contains(e.Error(), c.message) {
				t.Errorf("error %q does not name %q", e.Error(), c.message)
			}
			expected := strings.TrimPrefix(Sign(secret, c.body), "sha256=")
			if strings.Contains(strings.ToLower(e.Error()), expected) {
				t.Errorf("error %q leaks the expected signature", e.Error())
			}
		})
	}

	err := New("").Verify(signed(body), body)
	wantCode(t, err, releaseops.EUNAVAILABLE)
}

func TestParseFull(t *testing.T) {
	body := readTestdata(t, "finished.json")
	p, err := New(secret).Parse(signed(body), body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if p.Type != "deploy" || p.DeliveryID != "deploy-8842-finished" {
		t.Errorf("type/delivery = %q/%q", p.Type, p.DeliveryID)
	}
	wantSubject := releaseops.Subject{Kind: releaseops.SubjectService, Key: "checkout"}
	if p.Subject != wantSubject {
		t.Errorf("subject = %+v", p.Subject)
	}
	finished := time.Date(2026, 11, 20, 10, 12, 0, 0, time.UTC)
	if !p.OccurredAt.Equal(finished) {
		t.Errorf("occurred at = %v", p.OccurredAt)
	}
	if len(p.Facts) != 1 || p.Facts[0].Kind != releaseops.FactDeploy || p.Facts[0].Deploy == nil {
		t.Fatalf("facts = %+v", p.Facts)
	}
	f := p.Facts[0]
	if f.Subject != wantSubject || !f.At.Equal(finished) {
		t.Errorf("fact subject/at = %+v %v", f.Subject, f.At)
	}
	d := f.Deploy
	if d.ID != "deploy-8842-finished" || d.Environment != "production" || d.Status != "succeeded" ||
		d.Kind != "deploy" || d.Version != "v1.42.0" || d.CommitSHA != "9f2c1e0" || d.PreviousSHA != "41ab77d" ||
		d.Strategy != "canary" || d.Phases != 4 || d.Actor != "alice" || d.URL != "https://ci.example.com/runs/8842" {
		t.Errorf("deploy = %+v", d)
	}
	if d.HealthChecks == nil || !*d.HealthChecks || d.FeatureFlags == nil || !*d.FeatureFlags || d.Snapshot == nil || !*d.Snapshot {
		t.Errorf("flags = %v %v %v", d.HealthChecks, d.FeatureFlags, d.Snapshot)
	}
	if d.RTOSeconds != nil {
		t.Errorf("rto = %v, want nil", *d.RTOSeconds)
	}
	if d.StartedAt == nil || !d.StartedAt.Equal(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)) || d.FinishedAt == nil || !d.FinishedAt.Equal(finished) {
		t.Errorf("times = %v %v", d.StartedAt, d.FinishedAt)
	}
}

func TestParseDefaultsAndRehearsal(t *testing.T) {
	body := readTestdata(t, "minimal.json")
	p, err := New(secret).Parse(nil, body)
	if err != nil {
		t.Fatalf("Parse(minimal): %v", err)
	}
	d := p.Facts[0].Deploy
	if d.Kind != releaseops.KindDeploy || d.Status != releaseops.DeployStarted || d.HealthChecks != nil || d.Phases != 0 {
		t.Errorf("deploy = %+v", d)
	}
	if !p.OccurredAt.IsZero() || !p.Facts[0].At.IsZero() {
		t.Errorf("no times given, want zero At, got %v", p.OccurredAt)
	}

	body = readTestdata(t, "rehearsal.json")
	p, err = New(secret).Parse(nil, body)
	if err != nil {
		t.Fatalf("Parse(rehearsal): %v", err)
	}
	d = p.Facts[0].Deploy
	if d.Kind != releaseops.KindRehearsal || d.RTOSeconds == nil || *d.RTOSeconds != 184.5 {
		t.Errorf("rehearsal = %+v", d)
	}
	if d.StartedAt.Location() != time.UTC || !d.StartedAt.Equal(time.Date(2026, 11, 18, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("started at = %v, want 08:00 UTC", d.StartedAt)
	}
}

func TestParseSchemaErrors(t *testing.T) {
	const base = `"id":"d-1","service":"checkout","environment":"production","status":"started"`
	cases := []struct {
		name, body, want string
	}{
		{"missing id", `{"service":"checkout","environment":"production","status":"started"}`, "id: is required"},
		{"field names are case-sensitive", `{"ID":"d-1","Service":"checkout","environment":"production","status":"started"}`, "id: is required; service: is required"},
		{"null id", `{"id":null,"service":"checkout","environment":"production","status":"started"}`, "id: is required"},
		{"empty id", `{"id":"  ","service":"checkout","environment":"production","status":"started"}`, "id: must not be empty"},
		{"numeric id", `{"id":42,"service":"checkout","environment":"production","status":"started"}`, "id: must be a string (got number)"},
		{"long id", `{"id":"` + strings.Repeat("x", 300) + `","service":"checkout","environment":"production","status":"started"}`, "id: must be at most 256 characters"},
		{"missing service", `{"id":"d-1","environment":"production","status":"started"}`, "service: is required"},
		{"missing environment", `{"id":"d-1","service":"checkout","status":"started"}`, "environment: is required"},
		{"missing status", `{"id":"d-1","service":"checkout","environment":"production"}`, "status: is required"},
		{"bad status", `{` + base[:strings.Index(base, `"status"`)] + `"status":"done"}`, `status: must be one of started, succeeded, failed, rolled_back (got "done")`},
		{"bad kind", `{` + base + `,"kind":"hotfix"}`, `kind: must be one of deploy, rollback, rehearsal (got "hotfix")`},
		{"bad strategy", `{` + base + `,"strategy":"yolo"}`, `strategy: must be one of big_bang, rolling, canary, blue_green (got "yolo")`},
		{"phases string", `{` + base + `,"phases":"four"}`, "phases: must be a number (got string)"},
		{"phases negative", `{` + base + `,"phases":-1}`, "phases: must be a whole number ≥ 0 (got -1)"},
		{"phases fraction", `{` + base + `,"phases":1.5}`, "phases: must be a whole number ≥ 0 (got 1.5)"},
		{"rto string", `{` + base + `,"rto_seconds":"fast"}`, "rto_seconds: must be a number (got string)"},
		{"rto negative", `{` + base + `,"rto_seconds":-3}`, "rto_seconds: must be ≥ 0 or null (got -3)"},
		{"health_checks string", `{` + base + `,"health_checks":"yes"}`, "health_checks: must be true or false (got string)"},
		{"feature_flags number", `{` + base + `,"feature_flags":1}`, "feature_flags: must be true or false (got number)"},
		{"snapshot object", `{` + base + `,"snapshot":{}}`, "snapshot: must be true or false (got object)"},
		{"version number", `{` + base + `,"version":1.2}`, "version: must be a string (got number)"},
		{"commit_sha array", `{` + base + `,"commit_sha":["a"]}`, "commit_sha: must be a string (got array)"},
		{"started_at not RFC3339", `{` + base + `,"started_at":"20 Nov 2026"}`, `started_at: must be an RFC 3339 time such as 2026-11-20T10:00:00Z (got "20 Nov 2026")`},
		{"finished_at number", `{` + base + `,"finished_at":1700000000}`, "finished_at: must be an RFC 3339 time string (got number)"},
		{"finished before started", `{` + base + `,"started_at":"2026-11-20T10:00:00Z","finished_at":"2026-11-20T09:00:00Z"}`, "finished_at: must not be before started_at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(secret).Parse(nil, []byte(c.body))
			e := wantCode(t, err, releaseops.EINVALID)
			if !strings.Contains(e.Message, c.want) {
				t.Errorf("message %q does not contain %q", e.Message, c.want)
			}
		})
	}
}

func TestParseCollectsEveryProblem(t *testing.T) {
	body := `{"service":"checkout","status":"done","kind":"hotfix","phases":"four","rto_seconds":-1,"started_at":"yesterday","extra":true}`
	_, err := New(secret).Parse(nil, []byte(body))
	e := wantCode(t, err, releaseops.EINVALID)
	for _, field := range []string{"id: is required", "environment: is required", "status: must be one of", "kind: must be one of", "phases: must be a number", "rto_seconds: must be ≥ 0", "started_at: must be an RFC 3339"} {
		if !strings.Contains(e.Message, field) {
			t.Errorf("message %q does not name %q", e.Message, field)
		}
	}
	if strings.Contains(e.Message, "extra") || strings.Contains(e.Message, "service:") {
		t.Errorf("message %q names a field that is fine", e.Message)
	}
}

func TestParseMalformed(t *testing.T) {
	for _, body := range []string{``, `not json`, `{"id":`, `[1,2]`, `"a string"`, `42`, `null`} {
		_, err := New(secret).Parse(nil, []byte(body))
		wantCode(t, err, releaseops.EMALFORMED)
	}
}

func TestParseClipsEchoedValues(t *testing.T) {
	body := `{"id":"d","service":"s","environment":"e","status":"` + strings.Repeat("x", 10000) + `"}`
	_, err := New(secret).Parse(nil, []byte(body))
	e := wantCode(t, err, releaseops.EINVALID)
	if len(e.Message) > 300 {
		t.Errorf("message is %d bytes long; a caller's value should be clipped", len(e.Message))
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range fixtures.Testdata(f, ".json") {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"d","service":"s","environment":"e","status":"started","phases":1e400}`))
	f.Add([]byte(`{"id":"d","service":"s","environment":"e","status":"started","rto_seconds":-0}`))
	f.Add([]byte(`{"id":"d","service":"s","environment":"e","status":"started","started_at":"2026-11-20T10:00:00+25:00"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := New(secret).Parse(nil, body)
		if err != nil {
			code := releaseops.ErrorCode(err)
			if code != releaseops.EMALFORMED && code != releaseops.EINVALID {
				t.Fatalf("unexpected code %s: %v", code, err)
			}
			return
		}
		if p.DeliveryID == "" || len(p.Facts) != 1 || p.Facts[0].Deploy == nil {
			t.Fatalf("parsed without an id or a deploy fact: %+v", p)
		}
	})
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"id":"d-1","service":"checkout","environment":"staging","status":"started"}`)
	f.Add(body, Sign(secret, body))
	f.Add(body, "sha256=")
	f.Add(body, "")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		h := http.Header{}
		h.Set(SignatureHeader, sig)
		err := New(secret).Verify(h, body)
		if err == nil && !hmac.Equal([]byte(strings.ToLower(strings.TrimSpace(sig))), []byte(Sign(secret, body))) {
			t.Fatalf("accepted a signature that is not the body's")
		}
		if err != nil && releaseops.ErrorCode(err) != releaseops.EUNAUTHORIZED {
			t.Fatalf("code = %s", releaseops.ErrorCode(err))
		}
	})
}

// TestOpenSSLRecipe checks the signing recipe of docs/integrations.md against Verify.
func TestOpenSSLRecipe(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	body := readTestdata(t, "finished.json")
	cmd := exec.Command("sh", "-c", `openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1`)
	cmd.Env = append(os.Environ(), "SECRET="+secret)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl: %v", err)
	}
	h := http.Header{}
	h.Set(SignatureHeader, "sha256="+strings.TrimSpace(string(out)))
	if err := New(secret).Verify(h, body); err != nil {
		t.Fatalf("Verify(openssl signature) = %v", err)
	}
}

// plainString must agree with encoding/json whenever it takes the fast path, and leave every
// string it cannot decode exactly (escapes, invalid UTF-8, control characters) to it.
func FuzzPlainStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`"checkout"`, `"v1.42.0"`, `""`, `"a\"b"`, `"caf\u00e9"`, `"café"`, "\"\xff\"", "\"a\tb\"", `"\\"`, `42`, `"x`, `"😀"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := plainString(raw)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("plainString(%q) = %q, but encoding/json refuses it: %v", raw, got, err)
		}
		if got != want {
			t.Fatalf("plainString(%q) = %q, encoding/json gives %q", raw, got, want)
		}
	})
}

// The deploy decoder checks validity with goccy/go-json and splits the object itself: both
// must agree with encoding/json on every input, or a body could be accepted or read differently
// from what the spec's reference decoder would do.
func FuzzSplitObjectMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"id":"a","id":"b"}`, `{"service":"x","unknown":{"id":1}}`, ` { "a" : [1, {"b": "}"}] , "c":null } `, `{"\u0069d":"x"}`, "{\"id\xff\":1}",
		`[]`, `null`, `"s"`, `{"a":1,}`, `{"a" 1}`, `{"a":"\"}"}`, `{"n":-1.5e3,"t":true,"f":false}`} {
		f.Add([]byte(s))
	}
	if entries, err := os.ReadDir("testdata"); err == nil {
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join("testdata", e.Name())); err == nil && !e.IsDir() {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		valid := json.Valid(body)
		if gojson.Valid(body) != valid {
			t.Fatalf("goccy/go-json says valid=%v, encoding/json %v, for %q", !valid, valid, body)
		}
		if !valid {
			return
		}
		var want map[string]json.RawMessage
		stdErr := json.Unmarshal(body, &want)
		got, ok := splitObject(body)
		if ok != (stdErr == nil && want != nil) {
			t.Fatalf("splitObject ok=%v, encoding/json err=%v map=%v, for %q", ok, stdErr, want != nil, body)
		}
		if !ok {
			return
		}
		for _, k := range fieldNames {
			if v, present := want[k]; !bytes.Equal(got.get(k), v) || present != (got.get(k) != nil) {
				t.Fatalf("field %q: splitObject %q, encoding/json %q (present %v), in %q", k, got.get(k), v, present, body)
			}
		}
	})
}
