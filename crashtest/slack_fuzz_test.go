package crashtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/loadtest"
)

// inProcess builds the whole service in this process without starting its workers: nothing
// is ever sent (the outbox does not run), so fuzzed response_urls reach no network.
func inProcess(t testing.TB) http.Handler {
	t.Helper()
	cfg := config.Default()
	cfg.Storage.SQLitePath = filepath.Join(t.TempDir(), "releaseops.db")
	cfg.Storage.Synchronous = "OFF" // fuzzing measures robustness, not durability
	cfg.Slack.SigningSecret = config.NewSecret(slackSecret)
	cfg.Deploy.WebhookSecret = config.NewSecret(deploySecret)
	cfg.Services = []releaseops.Service{{Name: "checkout", Repo: "acme/checkout", SlackChannel: "C0CHECKOUT", Approvers: []string{"U0ALICE"}}}
	a, err := app.New(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) }) //nolint:errcheck
	return a.Server.Echo()
}

// postSigned sends a Slack-signed form to path and returns the status.
func postSigned(h http.Handler, path string, form url.Values) int {
	body := []byte(form.Encode())
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(body)))
	for k, v := range loadtest.SlackHeaders(slackSecret, body, time.Now()) {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// FuzzSlashCommand sends signed /readiness commands with arbitrary text through the real
// route: the server must answer, never with a 5xx.
func FuzzSlashCommand(f *testing.F) {
	for _, s := range []string{"", "checkout", "why checkout rollback", "worst", "<!here> *x*", "x'; DROP TABLE scores;--", "\xff"} {
		f.Add(s)
	}
	h := inProcess(f)
	f.Fuzz(func(t *testing.T, text string) {
		form := url.Values{"command": {"/readiness"}, "text": {text}, "user_id": {"U0ALICE"}, "team_id": {"T1"},
			"channel_id": {"C1"}, "response_url": {"http://127.0.0.1:9/response"}, "trigger_id": {"1.2"}}
		if code := postSigned(h, "/slack/commands", form); code >= 500 {
			t.Fatalf("text %q: status %d", text, code)
		}
	})
}

// FuzzInteractionPayload sends signed /slack/interactions forms whose payload field is
// arbitrary: malformed JSON must be a 4xx, anything else handled, never a 5xx or a panic.
func FuzzInteractionPayload(f *testing.F) {
	f.Add(`{"type":"block_actions","user":{"id":"U0ALICE"},"team":{"id":"T1"},"channel":{"id":"C0CHECKOUT"},` +
		`"container":{"type":"message","message_ts":"1.2","channel_id":"C0CHECKOUT"},"response_url":"http://127.0.0.1:9/r",` +
		`"actions":[{"action_id":"releaseops_approve","block_id":"b","value":"42","type":"button","action_ts":"1.3"}]}`)
	f.Add(`{"type":"block_actions","user":{"id":"U0MALLORY"},"actions":[{"action_id":"releaseops_deny","value":"'; DROP TABLE approvals;--","action_ts":"1"}]}`)
	f.Add(`{"type":"view_submission"}`)
	f.Add(`{"type":"block_actions","actions":[{"action_id":"releaseops_approve","value":"999999999999999999999999"}]}`)
	f.Add(`not json`)
	f.Add(``)
	f.Add(`{"type":1,"actions":"x"}`)
	h := inProcess(f)
	f.Fuzz(func(t *testing.T, payload string) {
		if code := postSigned(h, "/slack/interactions", url.Values{"payload": {payload}}); code >= 500 {
			t.Fatalf("payload %q: status %d", payload, code)
		}
	})
}
