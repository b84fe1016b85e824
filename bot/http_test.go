package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

func TestCommandSignatures(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	body := commandForm("checkout", h.slack.ResponseURL("cmd"))
	now := time.Now()
	tampered := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now, signingSecret)
	tampered.Body = http.NoBody
	tamperedBody := strings.Replace(body, "checkout", "payments", 1)
	tamp := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now, signingSecret)
	tamp2 := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", tamperedBody, now, signingSecret)
	tamp2.Header.Set("X-Slack-Signature", tamp.Header.Get("X-Slack-Signature")) // a signature of another body

	noSig := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now, signingSecret)
	noSig.Header.Del("X-Slack-Signature")
	noTS := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now, signingSecret)
	noTS.Header.Del("X-Slack-Request-Timestamp")
	badHex := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now, signingSecret)
	badHex.Header.Set("X-Slack-Signature", "v0=zz")

	cases := []struct {
		name   string
		req    *http.Request
		status int
		detail string
	}{
		{"wrong secret", signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now, "another-secret"), 401, "does not match"},
		{"body changed after signing", tamp2, 401, "does not match"},
		{"stale by 6 minutes", signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now.Add(-6*time.Minute), signingSecret), 401, "stale"},
		{"from 6 minutes ahead", signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now.Add(6*time.Minute), signingSecret), 401, "stale"},
		{"no signature", noSig, 401, "missing"},
		{"no timestamp", noTS, 401, "missing"},
		{"malformed signature", badHex, 401, "malformed"},
		{"valid 4 minutes old", signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, now.Add(-4*time.Minute), signingSecret), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, out, raw := h.do(c.req)
			if status != c.status {
				t.Fatalf("status %d, want %d: %s", status, c.status, raw)
			}
			if c.detail != "" && !strings.Contains(out["detail"].(string), c.detail) {
				t.Errorf("detail %q does not say %q", out["detail"], c.detail)
			}
			if c.status != 200 && (strings.Contains(raw, "v0=") || strings.Contains(raw, "readiness")) {
				t.Errorf("a refused request's answer echoes a signature or the command: %s", raw)
			}
		})
	}
	// Nothing was queued for the refused requests.
	if ms := h.messages(""); len(ms) != 0 {
		t.Errorf("refused requests queued %d messages", len(ms))
	}
}

func TestVerifierUsesInjectedClock(t *testing.T) {
	v := Verifier{Secret: signingSecret, Now: func() time.Time { return time.Unix(2_000_000_000, 0) }}
	r := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", "a=b", time.Unix(2_000_000_000-301, 0), signingSecret)
	if err := v.Verify(r.Header, []byte("a=b")); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("a timestamp 301 s before the clock: %v", err)
	}
}

func TestCommandsNotConfigured(t *testing.T) {
	h := newHarness(t, harnessOpts{cfg: func(c *Config) { c.SigningSecret = "" }})
	h.bot.verifier.Secret = ""
	status, out, _ := h.command("checkout")
	if status != 503 || !strings.Contains(out["detail"].(string), "slack.signing_secret") {
		t.Errorf("status %d %v: want 503 naming slack.signing_secret", status, out)
	}
}

func TestCommandAnswers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	card := testCard()
	h.storeCard(card)
	cases := []struct {
		text string
		want []string
	}{
		{"", []string{"release readiness from ReleaseOps"}},
		{"help", []string{"why <service> <dimension>"}},
		{"checkout", []string{"checkout — 72.4", "Weakest signals", "Branch governance"}},
		{"checkout staging", []string{"*Environment* staging", "*Band* watch"}},
		{"checkout production", []string{"*Environment* production"}},
		{"why checkout branch", []string{"Required reviewers", "Evidence:", "/events/github/72d3f0a0-1"}},
		{"why checkout nonsense", []string{"No dimension matches"}},
		{"chekout", []string{"No service named", "`checkout`"}},
		{"payments", []string{"has no score yet"}},
		{"worst", []string{"Lowest 1 of 1 services", "checkout"}},
		{"worst 3", []string{"worst takes no argument"}},
		{"<!channel>", []string{"No service named *&lt;!channel&gt;*"}},
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			status, out, raw := h.command(c.text)
			if status != 200 {
				t.Fatalf("status %d: %s", status, raw)
			}
			if out["response_type"] != "ephemeral" {
				t.Errorf("response_type %v", out["response_type"])
			}
			var m Message
			b, _ := json.Marshal(out)
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			all := m.Text + raw
			for _, w := range c.want {
				if !strings.Contains(all, w) && !strings.Contains(all, jsonEscape(w)) {
					t.Errorf("answer lacks %q:\n%s", w, raw)
				}
			}
			if strings.Contains(raw, "<!channel>") || strings.Contains(raw, `\u003c!channel\u003e`) {
				t.Errorf("answer carries a live <!channel>: %s", raw)
			}
		})
	}
	if ms := h.messages(""); len(ms) != 0 {
		t.Errorf("fast answers queued %d messages", len(ms))
	}
}

func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// slowScores holds every read until released: scoring that takes longer than Slack waits.
type slowScores struct {
	Scores
	release chan struct{}
	once    sync.Once
}

func (s *slowScores) GetScore(ctx context.Context, name string) (storage.ScoreRow, error) {
	<-s.release
	return s.Scores.GetScore(ctx, name)
}

func TestSlowAnswerGoesThroughResponseURL(t *testing.T) {
	slow := &slowScores{release: make(chan struct{})}
	h := newHarness(t, harnessOpts{scores: slow})
	slow.Scores = h.db
	h.bot.AnswerWithin = 20 * time.Millisecond
	h.storeCard(testCard())

	status, out, raw := h.command("checkout")
	if status != 200 || !strings.Contains(out["text"].(string), "Working on it") {
		t.Fatalf("want an acknowledgement at once, got %d %s", status, raw)
	}
	if len(h.messages("")) != 0 {
		t.Fatal("queued before the answer was ready")
	}
	close(slow.release)
	// Run waits for answers in flight once its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.bot.Run(ctx)
	ms := h.messages(outbox.StatePending)
	if len(ms) != 1 || ms[0].Kind != KindResponse || strings.Contains(ms[0].Target, "respond") {
		t.Fatalf("want one slack.response whose target hides the URL, got %+v", ms)
	}
	h.deliver(5)
	got := h.slack.posts("response:cmd")
	if len(got) != 1 || !strings.Contains(got[0].Text, "checkout — 72.4") || !strings.Contains(got[0].Text, `"response_type":"ephemeral"`) {
		t.Fatalf("response_url got %+v", got)
	}
}

// approvals is a fake gate.
type approvals struct {
	mu    sync.Mutex
	calls []string
	res   ClickResult
}

func (a *approvals) HandleApprovalClick(_ context.Context, id, user string, approve bool) (ClickResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, id+"/"+user+"/"+map[bool]string{true: "approve", false: "deny"}[approve])
	return a.res, nil
}

func TestApprovalClicks(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	decided := ApprovalDecidedMessage(testApproval(), Decision{State: "approved", By: "U0ALICE", At: at}, testPublicURL)
	gate := &approvals{res: ClickResult{Ephemeral: "Approved <!channel>.", Update: &decided}}
	h.bot.SetApprovalHandler(gate)

	click := func(action, ts string) (int, string) {
		payload := map[string]any{
			"type": "block_actions", "user": map[string]any{"id": "U0ALICE"}, "team": map[string]any{"id": "T0ACME"},
			"channel": map[string]any{"id": "C0CHECKOUT"}, "response_url": h.slack.ResponseURL("click"), "trigger_id": "t1",
			"container": map[string]any{"type": "message", "message_ts": "1763633000.000001", "channel_id": "C0CHECKOUT"},
			"actions":   []map[string]any{{"action_id": action, "block_id": "approval:apr_01HX", "value": "apr_01HX", "type": "button", "action_ts": ts}},
		}
		b, _ := json.Marshal(payload)
		form := url.Values{"payload": {string(b)}}.Encode()
		status, _, raw := h.do(signedRequest(http.MethodPost, "/slack/interactions", "application/x-www-form-urlencoded", form, time.Now(), signingSecret))
		return status, raw
	}
	if status, raw := click(ActionApprove, "1763633001.000001"); status != 200 {
		t.Fatalf("status %d %s", status, raw)
	}
	if status, _ := click(ActionDeny, "1763633002.000001"); status != 200 {
		t.Fatal(status)
	}
	if status, _ := click("something_else", "1763633003.000001"); status != 200 {
		t.Fatal(status)
	}
	if want := []string{"apr_01HX/U0ALICE/approve", "apr_01HX/U0ALICE/deny"}; strings.Join(gate.calls, ",") != strings.Join(want, ",") {
		t.Fatalf("gate saw %v, want %v", gate.calls, want)
	}
	h.deliver(10)
	got := h.slack.posts("response:click")
	if len(got) != 4 {
		t.Fatalf("want replace + ephemeral for each of 2 clicks, got %d", len(got))
	}
	if !strings.Contains(got[0].Text, `"replace_original":true`) || !strings.Contains(got[0].Text, "Approved by") {
		t.Errorf("first response should replace the message: %s", got[0].Text)
	}
	if !strings.Contains(got[1].Text, `"response_type":"ephemeral"`) || strings.Contains(got[1].Text, `\u003c!channel`) {
		t.Errorf("second response should be an escaped ephemeral: %s", got[1].Text)
	}

	// An unsigned click decides nothing.
	payload := url.Values{"payload": {`{"type":"block_actions","user":{"id":"U0MALLORY"},"actions":[{"type":"button","block_id":"approval:x","action_id":"releaseops_approve","value":"apr_01HX"}]}`}}.Encode()
	r := signedRequest(http.MethodPost, "/slack/interactions", "application/x-www-form-urlencoded", payload, time.Now(), "wrong")
	if status, _, _ := h.do(r); status != 401 || len(gate.calls) != 2 {
		t.Errorf("unsigned click: status %d, gate calls %d", status, len(gate.calls))
	}
}

func TestClickWithoutGate(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	payload := `{"type":"block_actions","user":{"id":"U0ALICE"},"response_url":"` + h.slack.ResponseURL("c") + `","actions":[{"type":"button","block_id":"approval:x","action_id":"releaseops_deny","value":"apr_1","action_ts":"1.1"}]}`
	r := signedRequest(http.MethodPost, "/slack/interactions", "application/x-www-form-urlencoded", url.Values{"payload": {payload}}.Encode(), time.Now(), signingSecret)
	if status, _, raw := h.do(r); status != 200 {
		t.Fatal(status, raw)
	}
	h.deliver(5)
	if got := h.slack.posts("response:c"); len(got) != 1 || !strings.Contains(got[0].Text, "does not handle approvals") {
		t.Errorf("got %+v", got)
	}
}
