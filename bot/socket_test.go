package bot

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestSocketMode runs the bot against a fake Slack that speaks Socket Mode: the bot opens the
// connection with its app-level token, gets a /readiness command and a click over the
// websocket, and acknowledges each with the answer.
func TestSocketMode(t *testing.T) {
	acks := make(chan map[string]any, 4)
	var srv *httptest.Server
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/apps.connections.open":
			if r.Header.Get("Authorization") != "Bearer xapp-test" {
				w.Write([]byte(`{"ok":false,"error":"invalid_auth"}`))
				return
			}
			w.Write([]byte(`{"ok":true,"url":"ws` + strings.TrimPrefix(srv.URL, "http") + `/ws"}`))
		case "/ws":
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.WriteJSON(map[string]any{"type": "hello", "num_connections": 1})
			c.WriteJSON(map[string]any{"envelope_id": "e1", "type": "slash_commands", "accepts_response_payload": true,
				"payload": map[string]any{"command": "/readiness", "text": "checkout", "user_id": "U0ALICE", "trigger_id": "t1", "response_url": "https://hooks.slack.example/x"}})
			c.WriteJSON(map[string]any{"envelope_id": "e2", "type": "interactive",
				"payload": map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0ALICE"}, "response_url": "https://hooks.slack.example/y",
					"actions": []map[string]any{{"type": "button", "block_id": "approval:a1", "action_id": ActionApprove, "value": "a1", "action_ts": "1.2"}}}})
			for {
				var m map[string]any
				if err := c.ReadJSON(&m); err != nil {
					return
				}
				acks <- m
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	h := newHarness(t, harnessOpts{cfg: func(c *Config) {
		c.SocketMode, c.AppToken, c.SigningSecret, c.APIURL = true, "xapp-test", "", srv.URL+"/api/"
	}})
	h.storeCard(testCard())
	gate := &approvals{res: ClickResult{Ephemeral: "Approved."}}
	h.bot.SetApprovalHandler(gate)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.bot.Run(ctx); close(done) }()

	got := map[string]map[string]any{}
	timeout := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case m := <-acks:
			got[m["envelope_id"].(string)] = m
		case <-timeout:
			t.Fatalf("acks received: %v", got)
		}
	}
	cancel()
	<-done
	payload, _ := json.Marshal(got["e1"]["payload"])
	if !strings.Contains(string(payload), "checkout — 72.4") || !strings.Contains(string(payload), `"response_type":"ephemeral"`) {
		t.Errorf("the command's ack should carry the scorecard: %s", payload)
	}
	if len(gate.calls) != 1 || gate.calls[0] != "a1/U0ALICE/approve" {
		t.Errorf("gate calls %v", gate.calls)
	}
	if ms := h.messages(""); len(ms) != 1 || ms[0].Kind != KindResponse {
		t.Errorf("the click's ephemeral answer should be queued for its response_url: %+v", ms)
	}
}
