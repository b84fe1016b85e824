package crashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/integrations/terraform"
	"github.com/releaseops/releaseops/loadtest"
)

// attack is one bad input of SECURITY.md's table. It returns the status the server answered
// and what was observed (stored or not, an excerpt of the answer).
type attack func(t *testing.T, s *target) (status int, observed string)

// target is the running server and helpers to talk to it.
type target struct {
	p      *proc
	client *http.Client
	dir    string
	n      int
	last   http.Header // headers of the last answer
}

func (s *target) id(prefix string) string { s.n++; return fmt.Sprintf("sec-%s-%d", prefix, s.n) }

func (s *target) post(t *testing.T, path string, h http.Header, body io.Reader, length int64) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.p.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	for k, v := range h {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return s.do(t, req)
}

func (s *target) do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	s.last = resp.Header
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b)
}

func (s *target) postBytes(t *testing.T, path string, h http.Header, body []byte) (int, string) {
	return s.post(t, path, h, bytes.NewReader(body), int64(len(body)))
}

func (s *target) get(t *testing.T, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.p.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	return s.do(t, req)
}

// stored says whether a delivery is in the database, through the events API.
func (s *target) stored(t *testing.T, source, id string) string {
	code, _ := s.get(t, "/api/v1/events/"+source+"/"+url.PathEscape(id))
	switch code {
	case http.StatusOK:
		return "stored"
	case http.StatusNotFound:
		return "nothing stored"
	}
	return fmt.Sprintf("events API answered %d", code)
}

func signedDeploy(secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set(deploy.SignatureHeader, deploy.Sign(secret, body))
	return h
}

func deployJSON(id, service string, extra string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"service":%q,"environment":"production","status":"succeeded"%s}`, id, service, extra))
}

func errorOf(body string) string {
	var e struct{ Error, Detail string }
	if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		if len(body) > 80 {
			body = body[:80] + "…"
		}
		return strings.TrimSpace(body)
	}
	if e.Detail != "" {
		return e.Error + " (" + e.Detail + ")"
	}
	return e.Error
}

// attacks, keyed by the id in SECURITY.md's table.
var attacks = map[string]attack{
	"unsigned": func(t *testing.T, s *target) (int, string) {
		id := s.id("unsigned")
		code, body := s.postBytes(t, "/webhooks/deploy", nil, deployJSON(id, "checkout", ""))
		return code, errorOf(body) + "; " + s.stored(t, "deploy", id)
	},
	"wrong-signature": func(t *testing.T, s *target) (int, string) {
		id := s.id("wrongsig")
		b := deployJSON(id, "checkout", "")
		code, body := s.postBytes(t, "/webhooks/deploy", signedDeploy("not-the-secret", b), b)
		return code, errorOf(body) + "; " + s.stored(t, "deploy", id)
	},
	"github-sha1-only": func(t *testing.T, s *target) (int, string) {
		h := http.Header{"X-Github-Event": {"ping"}, "X-Github-Delivery": {"sec-sha1"}, "X-Hub-Signature": {"sha1=" + strings.Repeat("0", 40)}}
		code, body := s.postBytes(t, "/webhooks/github", h, []byte(`{"zen":"x","hook_id":1}`))
		return code, errorOf(body) + "; " + s.stored(t, "github", "sec-sha1")
	},
	"github-odd-unused-fields": func(t *testing.T, s *target) (int, string) {
		// An older GitHub App's created_at, as GitHub sent it, in a field no signal reads.
		b, err := os.ReadFile("../integrations/github/testdata/lenient/check_run.older-app.json")
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{"X-Github-Event": {"check_run"}, "X-Github-Delivery": {"sec-odd-app"}, "Content-Type": {"application/json"},
			github.SignatureHeader: {github.Sign(ghSecret, b)}}
		code, body := s.postBytes(t, "/webhooks/github", h, b)
		var res struct {
			Outcome string
			Facts   int
		}
		_ = json.Unmarshal([]byte(body), &res)
		return code, fmt.Sprintf("outcome %q with %d fact(s), in the events API: %s", res.Outcome, res.Facts, s.stored(t, "github", "sec-odd-app"))
	},
	"pagerduty-wrong-secret": func(t *testing.T, s *target) (int, string) {
		b := []byte(`{"event":{"id":"sec-pd-1","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2026-11-20T10:00:00Z","data":{"id":"Q1","service":{"id":"PCHK123"}}}}`)
		h := http.Header{pagerduty.SignatureHeader: {pagerduty.Sign("wrong", b)}}
		code, body := s.postBytes(t, "/webhooks/pagerduty", h, b)
		return code, errorOf(body) + "; " + s.stored(t, "pagerduty", "sec-pd-1")
	},
	"terraform-truncated-signature": func(t *testing.T, s *target) (int, string) {
		b := []byte(`{"payload_version":1,"run_id":"run-sec","notifications":[{"trigger":"run:errored"}]}`)
		h := http.Header{terraform.SignatureHeader: {terraform.Sign(tfSecret, b)[:64]}}
		code, body := s.postBytes(t, "/webhooks/terraform", h, b)
		return code, errorOf(body)
	},
	"replayed-delivery": func(t *testing.T, s *target) (int, string) {
		id := s.id("replay")
		b := deployJSON(id, "checkout", "")
		first, _ := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		code, body := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		var res struct{ Outcome string }
		_ = json.Unmarshal([]byte(body), &res)
		return code, fmt.Sprintf("first answer %d; replay outcome %q; the delivery is kept once (unique on source + id)", first, res.Outcome)
	},
	"replayed-slack-timestamp": func(t *testing.T, s *target) (int, string) {
		form := []byte(url.Values{"command": {"/readiness"}, "text": {"checkout"}, "user_id": {"U0ALICE"}}.Encode())
		h := loadtest.SlackHeaders(slackSecret, form, time.Now().Add(-10*time.Minute))
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		code, body := s.postBytes(t, "/slack/commands", h, form)
		return code, errorOf(body)
	},
	"slack-unsigned": func(t *testing.T, s *target) (int, string) {
		form := []byte(url.Values{"command": {"/readiness"}, "text": {"checkout"}}.Encode())
		h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
		code, body := s.postBytes(t, "/slack/commands", h, form)
		return code, errorOf(body)
	},
	"body-26mb": func(t *testing.T, s *target) (int, string) {
		const size = 26 << 20
		h := http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"sec-26mb"}, github.SignatureHeader: {"sha256=" + strings.Repeat("0", 64)}}
		code, body := s.post(t, "/webhooks/github", h, io.LimitReader(zeros{}, size), size)
		return code, errorOf(body) + "; " + s.stored(t, "github", "sec-26mb")
	},
	"body-26mb-chunked": func(t *testing.T, s *target) (int, string) {
		const size = 26 << 20
		h := http.Header{"X-Github-Event": {"push"}, "X-Github-Delivery": {"sec-26mb-c"}, github.SignatureHeader: {"sha256=" + strings.Repeat("0", 64)}}
		code, body := s.post(t, "/webhooks/github", h, io.LimitReader(zeros{}, size), -1) // no Content-Length
		return code, errorOf(body) + "; " + s.stored(t, "github", "sec-26mb-c")
	},
	"header-100kb": func(t *testing.T, s *target) (int, string) {
		h := http.Header{"X-Padding": {strings.Repeat("a", 100<<10)}}
		code, _ := s.postBytes(t, "/webhooks/deploy", h, []byte(`{}`))
		return code, "refused by net/http before any handler (server.max_header_bytes 64 KB)"
	},
	"malformed-json": func(t *testing.T, s *target) (int, string) {
		b := []byte(`{"id":"sec-malformed","service":`)
		code, body := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		return code, errorOf(body) + "; " + s.stored(t, "deploy", "sec-malformed")
	},
	"wrong-types": func(t *testing.T, s *target) (int, string) {
		id := s.id("types")
		b := []byte(fmt.Sprintf(`{"id":%q,"service":["checkout"],"environment":7,"status":"succeeded","phases":"four","health_checks":"yes"}`, id))
		code, body := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		return code, errorOf(body) + "; " + s.stored(t, "deploy", id)
	},
	"unknown-enum": func(t *testing.T, s *target) (int, string) {
		id := s.id("enum")
		b := deployJSON(id, "checkout", `,"strategy":"yolo"`)
		b = bytes.Replace(b, []byte(`"succeeded"`), []byte(`"exploded"`), 1)
		code, body := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		return code, errorOf(body) + "; " + s.stored(t, "deploy", id)
	},
	"sql-metacharacters-service": func(t *testing.T, s *target) (int, string) {
		id := s.id("sql")
		name := `x'); DROP TABLE deliveries;--`
		b := deployJSON(id, name, "")
		code, _ := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		look, _ := s.get(t, "/api/v1/services/"+url.PathEscape(name))
		list, _ := s.get(t, "/api/v1/events?limit=1")
		return code, fmt.Sprintf("%s as data (bound parameters); GET of the name %d; events API still %d", s.stored(t, "deploy", id), look, list)
	},
	"unicode-service": func(t *testing.T, s *target) (int, string) {
		id := s.id("unicode")
		name := "ｃｈｅｃｋｏｕｔ\u202e\u200bλ"
		b := deployJSON(id, name, "")
		code, _ := s.postBytes(t, "/webhooks/deploy", signedDeploy(deploySecret, b), b)
		look, body := s.get(t, "/api/v1/services/"+url.PathEscape(name))
		return code, fmt.Sprintf("%s, kept apart from checkout; GET of the name %d %s", s.stored(t, "deploy", id), look, errorOf(body))
	},
	"mrkdwn-injection": func(t *testing.T, s *target) (int, string) {
		text := "<!channel> *pwned* <https://evil.example|click>"
		form := []byte(url.Values{"command": {"/readiness"}, "text": {text}, "user_id": {"U0ALICE"}, "response_url": {"http://127.0.0.1:9/r"}}.Encode())
		h := loadtest.SlackHeaders(slackSecret, form, time.Now())
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		code, body := s.postBytes(t, "/slack/commands", h, form)
		verdict := "answer contains no live <!channel> or link"
		if strings.Contains(body, "<!channel>") || strings.Contains(body, "<https://evil.example") {
			verdict = "UNESCAPED in the answer: " + body
		}
		return code, verdict
	},
	"api-no-token": func(t *testing.T, s *target) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.p.base+"/api/v1/events", nil)
		code, body := s.do(t, req)
		return code, errorOf(body)
	},
	"api-wrong-token": func(t *testing.T, s *target) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.p.base+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+readToken+"x")
		code, body := s.do(t, req)
		return code, errorOf(body)
	},
	"in-flight-cap": func(t *testing.T, s *target) (int, string) {
		// A second server allows one request in flight; a delivery whose body never ends holds it.
		dir := t.TempDir()
		p := start(t, writeConfig(t, dir, "server: {max_in_flight: 1}\n"))
		// A raw connection sends the headers and part of a declared body, so the server enters
		// the handler and waits for the rest, holding the one slot. Should a probe have held the
		// slot when it arrived, the server refuses it instead (it gets an answer): hold again.
		var held net.Conn
		defer func() {
			if held != nil {
				held.Close()
			}
		}()
		var code int
		var body string
		for i := 0; i < 100; i++ {
			if held == nil || answered(held) {
				if held != nil {
					held.Close()
				}
				var err error
				if held, err = net.Dial("tcp", strings.TrimPrefix(p.base, "http://")); err != nil {
					t.Fatal(err)
				}
				if _, err := fmt.Fprintf(held, "POST /webhooks/deploy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":"); err != nil {
					t.Fatal(err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			b := deployJSON(s.id("busy"), "checkout", "")
			req, _ := http.NewRequest(http.MethodPost, p.base+"/webhooks/deploy", bytes.NewReader(b))
			req.Header = signedDeploy(deploySecret, b)
			if code, body = s.do(t, req); code == http.StatusServiceUnavailable {
				break
			}
		}
		return code, errorOf(body) + "; Retry-After: " + s.last.Get("Retry-After")
	},
	"rate-limit": func(t *testing.T, s *target) (int, string) {
		dir := t.TempDir()
		p := start(t, writeConfig(t, dir, "server: {rate_limits: {deploy: 0.01}}\n"))
		var code int
		var body string
		for i := 0; i < 2; i++ {
			b := deployJSON(s.id("rate"), "checkout", "")
			req, _ := http.NewRequest(http.MethodPost, p.base+"/webhooks/deploy", bytes.NewReader(b))
			req.Header = signedDeploy(deploySecret, b)
			code, body = s.do(t, req)
		}
		return code, errorOf(body) + "; Retry-After: " + s.last.Get("Retry-After")
	},
	"world-readable-secret-file": func(t *testing.T, s *target) (int, string) {
		secret := filepath.Join(s.dir, "deploy-secret")
		if err := os.WriteFile(secret, []byte("s3cret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(s.dir, "world.yaml")
		if err := os.WriteFile(cfg, []byte("deploy: {webhook_secret: \"file:"+secret+"\"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, binary(t), "check-config", "--config", cfg).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		msg := strings.TrimSpace(string(out))
		if i := strings.Index(msg, "deploy.webhook_secret"); i >= 0 {
			msg = msg[i:]
		}
		if strings.Contains(msg, "s3cret") {
			msg = "SECRET PRINTED: " + msg
		}
		return code, "exit code; " + firstLine(msg)
	},
}

// answered reports whether the server has written anything on a held connection.
func answered(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	var b [1]byte
	n, err := c.Read(b[:])
	_ = c.SetReadDeadline(time.Time{})
	return n > 0 || errors.Is(err, io.EOF)
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// rowRE matches a row of SECURITY.md's table: | `id` | input | answer | ...
var rowRE = regexp.MustCompile(`^\| ` + "`" + `([a-z0-9-]+)` + "`" + ` \|(?:[^|\\]|\\.)*\| (\d{1,3})\b`)

// TestSecurityTable runs every bad input against a real `releaseops serve` and checks the
// answer that SECURITY.md's table states, so the table stays true. Run with -v to see each
// observed answer.
func TestSecurityTable(t *testing.T) {
	f, err := os.Open("../SECURITY.md")
	if err != nil {
		t.Fatalf("SECURITY.md: %v", err)
	}
	defer f.Close()
	want := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := rowRE.FindStringSubmatch(sc.Text()); m != nil {
			code, _ := strconv.Atoi(m[2])
			want[m[1]] = code
		}
	}
	for id := range attacks {
		if _, ok := want[id]; !ok {
			t.Errorf("attack %q has no row in SECURITY.md's table", id)
		}
	}
	dir := t.TempDir()
	s := &target{p: start(t, writeConfig(t, dir, "")), client: &http.Client{Timeout: 90 * time.Second}, dir: dir}
	ids := make([]string, 0, len(want))
	for id := range want {
		ids = append(ids, id)
	}
	rand.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	for _, id := range ids {
		a, ok := attacks[id]
		if !ok {
			t.Errorf("SECURITY.md row %q has no attack in this test", id)
			continue
		}
		code, observed := a(t, s)
		t.Logf("| `%s` | %d | %s |", id, code, observed)
		if code != want[id] {
			t.Errorf("%s: the server answered %d, SECURITY.md says %d (%s)", id, code, want[id], observed)
		}
		if strings.Contains(observed, "UNESCAPED") || strings.Contains(observed, "SECRET PRINTED") || strings.Contains(observed, "; stored") {
			t.Errorf("%s: %s", id, observed)
		}
	}
	if code, _ := s.get(t, "/readyz"); code != http.StatusOK {
		t.Errorf("after the attacks /readyz answered %d", code)
	}
}
