package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/deploy"
)

const slackSecret = "slack-secret-for-tests"

// TestSlackEndToEnd runs the whole service with Slack configured against a fake Slack: a
// signed production deploy leads to a release-notes post in the service's channel, the
// outbox API shows it sent, and /readiness answers through the real HTTP server.
func TestSlackEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var posts []url.Values
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/chat.postMessage" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		mu.Lock()
		posts = append(posts, r.Form)
		n := len(posts)
		mu.Unlock()
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1763633000.%06d"}`, r.Form.Get("channel"), n)
	}))
	defer fake.Close()
	e := newEnv(t, func(c *configT) {
		c.Slack.BotToken = config.NewSecret("xoxb-e2e")
		c.Slack.SigningSecret = config.NewSecret(slackSecret)
		c.Slack.APIURL = fake.URL + "/api/"
		c.Slack.DefaultChannel = "C0DEFAULT"
	})

	body := []byte(`{"id":"deploy-7-finished","service":"checkout","environment":"production","status":"succeeded",
		"commit_sha":"9f2c1ab","version":"v7","actor":"alice","finished_at":"2026-11-20T09:59:00Z"}`)
	if status, res := e.post("/webhooks/deploy", map[string]string{"X-ReleaseOps-Signature": deploy.Sign(deploySecret, body)}, body); status != http.StatusAccepted {
		t.Fatalf("deploy webhook: %d %v", status, res)
	}
	e.settle()
	for range 5 {
		if _, err := e.app.Outbox.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	if len(posts) != 1 || posts[0].Get("channel") != "C0CHECKOUT" || !strings.Contains(posts[0].Get("blocks"), "checkout v7 is in production") ||
		!strings.Contains(posts[0].Get("blocks"), "no GitHub token is configured") {
		t.Fatalf("want one release-notes post in C0CHECKOUT, got %v", posts)
	}
	mu.Unlock()
	status, res := e.get("/api/v1/outbox?state=sent", readToken)
	if status != 200 || !strings.Contains(fmt.Sprint(res["messages"]), "release_notes:checkout:deploy-7-finished") {
		t.Errorf("outbox API: %d %v", status, res)
	}

	form := url.Values{"command": {"/readiness"}, "text": {"checkout"}, "response_url": {fake.URL + "/respond"}, "trigger_id": {"t"}}.Encode()
	req := slackRequest(t, e.srv.URL+"/slack/commands", form, slackSecret, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "checkout —") {
		t.Fatalf("/readiness checkout: %d %s", resp.StatusCode, b)
	}
	req = slackRequest(t, e.srv.URL+"/slack/commands", form, "not-the-secret", time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(b), `"detail"`) {
		t.Errorf("a bad signature: %d %s", resp.StatusCode, b)
	}
}

func slackRequest(t *testing.T, u, form, secret string, at time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, form)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return req
}
