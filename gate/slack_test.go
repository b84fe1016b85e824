package gate_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
)

const slackSecret = "slack-signing-secret-for-tests"

// click sends a signed block_actions payload to POST /slack/interactions, as Slack does.
func (e *env) click(approvalID, user, action string) int {
	e.t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T1"},
		"channel": map[string]any{"id": checkoutCh}, "container": map[string]any{"type": "message", "message_ts": "1.2", "channel_id": checkoutCh},
		"response_url": "https://hooks.slack.test/actions/1", "trigger_id": "t1",
		"actions": []map[string]any{{"action_id": action, "block_id": "approval:" + approvalID, "value": approvalID, "type": "button", "action_ts": strconv.FormatInt(time.Now().UnixNano(), 10)}},
	})
	body := "payload=" + url.QueryEscape(string(payload))
	// Slack's signature covers a timestamp the bot compares with the wall clock.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(slackSecret))
	m.Write([]byte("v0:" + ts + ":" + body))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The bot's Approve and Deny buttons reach the gate's state machine through app's adapter.
func TestSlackButtonsDecide(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Slack.SigningSecret = config.NewSecret(slackSecret) })
	e.setScore("checkout", 70)
	id := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "alice"})["approval_id"])
	if code := e.click(id, "U0ALICE", "releaseops_approve"); code != http.StatusOK {
		t.Fatalf("self-approval click: %d", code)
	}
	if a := e.approval(id); a["state"] != "pending" {
		t.Fatalf("the requester's click decided: %v", a)
	}
	if code := e.click(id, "U0BOB", "releaseops_deny"); code != http.StatusOK {
		t.Fatalf("deny click: %d", code)
	}
	if a := e.approval(id); a["state"] != "denied" || a["decided_by"] != "U0BOB" {
		t.Fatalf("after Bob's deny: %v", a)
	}
	// Each clicker got an ephemeral answer through response_url.
	answers := 0
	for _, m := range e.messagesOf("") {
		if m.Kind == "slack.response" {
			answers++
		}
	}
	if answers != 2 {
		t.Errorf("%d click answers queued, want 2", answers)
	}
}
