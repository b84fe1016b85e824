package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
)

// newPreviewEnv is checkout with two production deploys, the later one failed, so its trust
// ladder has a step to show; Slack commands are on.
func newPreviewEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, func(c *config.Config) {
		c.Slack.SigningSecret = config.NewSecret(slackSecret)
		c.Services = append(c.Services, serviceT{Name: "search", Owner: "team-search"})
	})
	now := e.clock.Now() // Friday 2026-11-20 10:00 UTC
	for i, d := range []struct {
		id, status string
		at         time.Time
	}{{"co-1", "succeeded", now.Add(-50 * time.Hour)}, {"co-2", "failed", now.Add(-26 * time.Hour)}} {
		b, _ := json.Marshal(map[string]any{"id": d.id, "service": "checkout", "environment": "production", "status": d.status,
			"commit_sha": []string{"aaa111", "bbb222"}[i], "finished_at": d.at})
		if _, err := e.app.ReplayPipeline().Receive(context.Background(), "deploy", http.Header{}, b, false); err != nil {
			t.Fatal(err)
		}
	}
	e.settle()
	return e
}

func (e *env) slashCommand(text string) (int, string) {
	e.t.Helper()
	form := url.Values{"command": {"/readiness"}, "text": {text}, "response_url": {e.srv.URL + "/respond"}, "trigger_id": {"t-" + text}}.Encode()
	resp, err := http.DefaultClient.Do(slackRequest(e.t, e.srv.URL+"/slack/commands", form, slackSecret, time.Now()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// The reply's JSON escapes <, > and &; the assertions read it as Slack shows it.
	s := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
	return resp.StatusCode, s
}

func TestReadinessRiskAndWindowThroughTheGate(t *testing.T) {
	e := newPreviewEnv(t)
	outboxBefore, err := e.app.Outbox.List(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	code, body := e.slashCommand("risk checkout v7")
	if code != http.StatusOK {
		t.Fatalf("/readiness risk: %d %s", code, body)
	}
	for _, want := range []string{`"response_type":"ephemeral"`, "checkout v7 to production now — risk", "*Factors*, biggest first",
		"*Change size*", "_unknown_ — change size unknown: the request has no commit_sha", "*The gate would answer now:*",
		"*Trust ladder:* rung 0 of 3 — deploy co-2 failed or was rolled back", "*Window:* open", "nothing was recorded"} {
		if !strings.Contains(body, want) {
			t.Errorf("/readiness risk lacks %q:\n%s", want, body)
		}
	}
	code, body = e.slashCommand("window checkout")
	if code != http.StatusOK || !strings.Contains(body, "Best times to deploy checkout to production") || !strings.Contains(body, "*1. ") ||
		!strings.Contains(body, "history: ") || !strings.Contains(body, `"response_type":"ephemeral"`) {
		t.Errorf("/readiness window: %d %s", code, body)
	}
	if _, body = e.slashCommand("risk chekout"); !strings.Contains(body, "No service named *chekout*") {
		t.Errorf("/readiness risk of an unknown service: %s", body)
	}
	if _, body = e.slashCommand("checkout"); !strings.Contains(body, "*Trust ladder:* rung 0 of 3 — deploy co-2 failed or was rolled back") {
		t.Errorf("/readiness checkout has no trust line: %s", body)
	}
	// Asking records nothing: no approval request, no message queued.
	after, err := e.app.Outbox.List(context.Background(), "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(outboxBefore) {
		t.Errorf("previews queued %d messages", len(after)-len(outboxBefore))
	}
}

func TestScorecardAPICarriesTrust(t *testing.T) {
	e := newPreviewEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/services/checkout?include=trust", nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/services/checkout: %d %s", resp.StatusCode, raw)
	}
	var body struct {
		Service string `json:"service"`
		Trust   *struct {
			Rung  int `json:"rung"`
			Top   int `json:"top"`
			Steps []struct {
				At     time.Time `json:"at"`
				Rung   int       `json:"rung"`
				Reason string    `json:"reason"`
			} `json:"steps"`
		} `json:"trust"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("decode: %v\n%s", err, raw)
	}
	if body.Service != "checkout" || body.Trust == nil || body.Trust.Rung != 0 || body.Trust.Top != 3 || len(body.Trust.Steps) != 1 ||
		body.Trust.Steps[0].Reason != "deploy co-2 failed or was rolled back" {
		t.Fatalf("trust = %+v", body.Trust)
	}
	// Everything else is the stored card, byte for byte and in order.
	row, err := e.app.DB.GetScore(context.Background(), "checkout")
	if err != nil {
		t.Fatal(err)
	}
	stored := bytes.TrimRight(row.Card, " \n")
	if !bytes.HasPrefix(raw, stored[:len(stored)-1]) || !bytes.HasPrefix(raw[len(stored)-1:], []byte(`,"trust":{"rung":0,"top":3,"steps":[`)) {
		t.Errorf("the scorecard JSON changed beyond the trust field:\nstored %s\nserved %s", stored, raw)
	}

	// A new deploy moves the ladder at once: the cached one is dropped with the round's facts.
	b, _ := json.Marshal(map[string]any{"id": "co-3", "service": "checkout", "environment": "production", "status": "rolled_back",
		"finished_at": e.clock.Now().Add(-time.Minute)})
	if _, err := e.app.ReplayPipeline().Receive(context.Background(), "deploy", http.Header{}, b, false); err != nil {
		t.Fatal(err)
	}
	e.settle()
	_, out := e.get("/api/v1/services/checkout?include=trust", readToken)
	steps, _ := out["trust"].(map[string]any)["steps"].([]any)
	if len(steps) != 2 || steps[1].(map[string]any)["reason"] != "deploy co-3 failed or was rolled back" {
		t.Errorf("after a rolled-back deploy, trust steps = %v", steps)
	}

	// A service with no deploy has an empty list of steps, not null.
	b, _ = json.Marshal(map[string]any{"id": "se-1", "service": "search", "environment": "staging", "status": "succeeded"})
	if _, err := e.app.ReplayPipeline().Receive(context.Background(), "deploy", http.Header{}, b, false); err != nil {
		t.Fatal(err)
	}
	e.settle()
	code, out := e.get("/api/v1/services/search?include=trust", readToken)
	trust, _ := out["trust"].(map[string]any)
	if code != http.StatusOK || trust == nil || trust["steps"] == nil || len(trust["steps"].([]any)) != 0 {
		t.Errorf("search: %d trust=%v", code, out["trust"])
	}
}

func TestServicePageShowsTheGatesPreview(t *testing.T) {
	e := newPreviewEnv(t)
	resp, err := http.Get(e.srv.URL + "/services/checkout")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /services/checkout: %d", resp.StatusCode)
	}
	for _, want := range []string{"Deploying to production now", "<dt>Trust ladder</dt><dd>rung 0 <small>of 3</small></dd>",
		"deploy co-2 failed or was rolled back", "<h3>Top risk factors</h3>", "Change size <span class=\"tag\">unknown</span>"} {
		if !strings.Contains(page, want) {
			t.Errorf("service page lacks %q", want)
		}
	}
}
