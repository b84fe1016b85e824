package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/integrations/terraform"
	"github.com/releaseops/releaseops/internal/fixtures"
)

func githubHeaders(event, delivery string, body []byte) map[string]string {
	return map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": github.Sign(ghSecret, body)}
}

func readFixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures.Dir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, e *env) int64 {
	t.Helper()
	n, err := e.app.DB.CountDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEveryGitHubFixtureIsAcceptedAndReadableBack(t *testing.T) {
	e := newEnv(t, nil)
	files, _ := filepath.Glob(filepath.Join(fixtures.Dir(t), "github", "*.json"))
	if len(files) == 0 {
		t.Skip("no GitHub fixtures")
	}
	for i, f := range files {
		body, _ := os.ReadFile(f)
		event := strings.SplitN(filepath.Base(f), ".", 2)[0]
		id := fmt.Sprintf("delivery-%02d", i)
		status, res := e.post("/webhooks/github", githubHeaders(event, id, body), body)
		if status != http.StatusAccepted {
			t.Fatalf("%s: status %d %v", filepath.Base(f), status, res)
		}
		status, ev := e.get("/api/v1/events/github/"+id, readToken)
		if status != http.StatusOK || ev["type"] != event || ev["outcome"] == "" {
			t.Fatalf("%s: read back %d %v", filepath.Base(f), status, ev)
		}
		var raw map[string]any
		if err := json.Unmarshal(mustJSON(ev["body"]), &raw); err != nil || len(raw) == 0 {
			t.Fatalf("%s: body not kept: %v", filepath.Base(f), err)
		}
	}
	status, list := e.get("/api/v1/events?source=github&limit=100", readToken)
	if status != http.StatusOK || len(list["events"].([]any)) != len(files) {
		t.Fatalf("events list: %d, %d events, want %d", status, len(list["events"].([]any)), len(files))
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestBadSignaturesAreRefusedAndNothingIsStored(t *testing.T) {
	e := newEnv(t, nil)
	body := readFixture(t, "github/push.branch-with-commit.json")
	good := github.Sign(ghSecret, body)
	cases := map[string]map[string]string{
		"wrong secret": {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": github.Sign("other", body)},
		"missing":      {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1"},
		"sha1 only":    {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature": "sha1=" + strings.Repeat("0", 40)},
		"tampered":     {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d1", "X-Hub-Signature-256": good[:len(good)-2] + "00"},
	}
	for name, h := range cases {
		status, res := e.post("/webhooks/github", h, body)
		if status != http.StatusUnauthorized || res["error"] == "" {
			t.Errorf("%s: %d %v", name, status, res)
		}
		if strings.Contains(fmt.Sprint(res), good[7:]) {
			t.Errorf("%s: the expected signature leaked: %v", name, res)
		}
	}
	dBody := []byte(`{"id":"x","service":"checkout","environment":"production","status":"succeeded"}`)
	if status, _ := e.post("/webhooks/deploy", map[string]string{"X-ReleaseOps-Signature": "sha256=00"}, dBody); status != http.StatusUnauthorized {
		t.Errorf("deploy bad signature: %d", status)
	}
	pBody := readFixture(t, "pagerduty/incident.priority_updated.json")
	if status, _ := e.post("/webhooks/pagerduty", map[string]string{"X-PagerDuty-Signature": pagerduty.Sign("nope", pBody)}, pBody); status != http.StatusUnauthorized {
		t.Errorf("pagerduty bad signature: %d", status)
	}
	tBody := readFixture(t, "terraform/run.errored.json")
	if status, _ := e.post("/webhooks/terraform", map[string]string{"X-TFE-Notification-Signature": terraform.Sign("nope", tBody)}, tBody); status != http.StatusUnauthorized {
		t.Errorf("terraform bad signature: %d", status)
	}
	if n := count(t, e); n != 0 {
		t.Fatalf("%d deliveries stored from refused requests", n)
	}
}

func TestRedeliveryIsStoredOnce(t *testing.T) {
	e := newEnv(t, nil)
	body := readFixture(t, "github/pull_request.closed.merged.json")
	h := githubHeaders("pull_request", "same-guid", body)
	if status, res := e.post("/webhooks/github", h, body); status != http.StatusAccepted || res["outcome"] != "stored" {
		t.Fatalf("first: %d %v", status, res)
	}
	for i := 0; i < 3; i++ {
		if status, res := e.post("/webhooks/github", h, body); status != http.StatusOK || res["outcome"] != "duplicate" {
			t.Fatalf("redelivery: %d %v", status, res)
		}
	}
	if n := count(t, e); n != 1 {
		t.Fatalf("stored %d times", n)
	}
	p := readFixture(t, "pagerduty/incident.priority_updated.json")
	ph := map[string]string{"X-PagerDuty-Signature": pagerduty.Sign(pdSecret, p)}
	e.post("/webhooks/pagerduty", ph, p)
	if status, res := e.post("/webhooks/pagerduty", ph, p); status != http.StatusOK || res["outcome"] != "duplicate" {
		t.Fatalf("pagerduty redelivery: %d %v", status, res)
	}
}

func TestDeploySchemaErrorsNameTheirFields(t *testing.T) {
	e := newEnv(t, nil)
	cases := map[string]string{
		`{"service":"checkout","environment":"production","status":"succeeded"}`:                      "id",
		`{"id":"a","environment":"production","status":"succeeded"}`:                                  "service",
		`{"id":"a","service":"checkout","status":"succeeded"}`:                                        "environment",
		`{"id":"a","service":"checkout","environment":"production"}`:                                  "status",
		`{"id":"a","service":"checkout","environment":"production","status":"done"}`:                  "status",
		`{"id":"a","service":"checkout","environment":"production","status":"failed","kind":"x"}`:     "kind",
		`{"id":"a","service":"checkout","environment":"production","status":"failed","phases":"4"}`:   "phases",
		`{"id":"a","service":"checkout","environment":"production","status":"failed","strategy":"y"}`: "strategy",
	}
	for body, field := range cases {
		b := []byte(body)
		status, res := e.post("/webhooks/deploy", map[string]string{"X-ReleaseOps-Signature": deploy.Sign(deploySecret, b)}, b)
		msg := fmt.Sprint(res["error"], " ", res["detail"])
		if status != http.StatusUnprocessableEntity || !strings.Contains(msg, field) {
			t.Errorf("%s: %d %q, want 422 naming %s", body, status, msg, field)
		}
	}
	b := []byte(`not json`)
	if status, _ := e.post("/webhooks/deploy", map[string]string{"X-ReleaseOps-Signature": deploy.Sign(deploySecret, b)}, b); status != http.StatusBadRequest {
		t.Errorf("malformed: %d, want 400", status)
	}
	if n := count(t, e); n != 0 {
		t.Fatalf("%d invalid deliveries stored", n)
	}
}

func TestOversizeBodyIs413(t *testing.T) {
	e := newEnv(t, nil)
	big := bytes.Repeat([]byte("a"), 25<<20+1)
	status, res := e.post("/webhooks/github", githubHeaders("push", "big", big), big)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %v", status, res)
	}
}

func TestUnconfiguredSourceSays503AndWhichKey(t *testing.T) {
	e := newEnv(t, func(c *configT) { c.Terraform.WebhookSecret = secretT{} })
	status, res := e.post("/webhooks/terraform", nil, []byte(`{}`))
	if status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(res["detail"]), "terraform.webhook_secret") {
		t.Fatalf("%d %v", status, res)
	}
}

func TestAPIRequiresTokenAndScope(t *testing.T) {
	e := newEnv(t, nil)
	if status, _ := e.get("/api/v1/events", ""); status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", status)
	}
	if status, _ := e.get("/api/v1/events", "wrong-token-0123456789"); status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d", status)
	}
	if status, _ := e.get("/api/v1/events", readToken); status != http.StatusOK {
		t.Fatalf("read token: %d", status)
	}
}

func TestBranchProtectionFixtureRaisesGovernanceWithItsDeliveryAsEvidence(t *testing.T) {
	e := newEnv(t, func(c *configT) {
		c.Services = append(c.Services, serviceT{Name: "octo-repo", Repo: "octo-org/octo-repo", DefaultBranch: "production"})
	})
	e.settle()
	e.app.Worker.RescoreAll(context.Background())
	before := dimension(t, e, "octo-repo", "branch_governance")
	body := readFixture(t, "github/branch_protection_rule.created.json")
	if status, res := e.post("/webhooks/github", githubHeaders("branch_protection_rule", "bpr-1", body), body); status != http.StatusAccepted {
		t.Fatalf("%d %v", status, res)
	}
	e.settle()
	after := dimension(t, e, "octo-repo", "branch_governance")
	if after["score"].(float64) <= before["score"].(float64) {
		t.Fatalf("branch governance did not rise: %v → %v", before["score"], after["score"])
	}
	if !strings.Contains(string(mustJSON(after["signals"])), `"delivery":"bpr-1"`) {
		t.Fatalf("delivery bpr-1 is not evidence: %s", mustJSON(after["signals"]))
	}
}

func dimension(t *testing.T, e *env, service, id string) map[string]any {
	t.Helper()
	status, card := e.get("/api/v1/services/"+service, readToken)
	if status != http.StatusOK {
		t.Fatalf("scorecard of %s: %d %v", service, status, card)
	}
	for _, d := range card["dimensions"].([]any) {
		if m := d.(map[string]any); m["id"] == id {
			return m
		}
	}
	t.Fatalf("no dimension %s", id)
	return nil
}
