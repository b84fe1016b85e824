package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseExempt(t *testing.T) {
	for text, want := range map[string]ExemptArgs{
		"exempt Checkout slo_defined 14 SLO tooling  is down": {Service: "checkout", Signal: "slo_defined", Days: 14, Reason: "SLO tooling is down"},
		"EXEMPT checkout SLO_DEFINED 3d r":                    {Service: "checkout", Signal: "slo_defined", Days: 3, Reason: "r"},
		"exempt checkout slo_defined -2 r":                    {Service: "checkout", Signal: "slo_defined", Days: -2, Reason: "r"},
	} {
		c := ParseCommand(text)
		if c.Kind != CmdExempt || c.Exempt == nil || *c.Exempt != want {
			t.Errorf("%q = %+v %+v, want %+v", text, c, c.Exempt, want)
		}
	}
	for text, problem := range map[string]string{
		"exempt":                          "needs a service, a signal",
		"exempt checkout":                 "needs a signal after the service",
		"exempt checkout slo_defined":     "needs a number of days",
		"exempt checkout slo_defined 3":   "needs a reason",
		"exempt checkout slo_defined x r": `not "x"`,
		"exempt checkout slo_defined 1.5": "needs a reason",
	} {
		if c := ParseCommand(text); c.Kind != CmdUsage || !strings.Contains(c.Problem, problem) {
			t.Errorf("%q = %+v, want a usage problem with %q", text, c, problem)
		}
	}
}

func testExemption() Exemption {
	return Exemption{ID: "exm_01", Service: "checkout", Signal: "slo_defined", SignalName: "SLO defined", Days: 10,
		Reason: "vendor outage <!channel> & <https://evil.example|here>", RequestedBy: "U0BOB",
		Current: "fail: no SLO declared <@U0MALLORY>", Playbook: testPublicURL + "/playbooks/observability",
		Approvers: []string{"U0ALICE", "U0CAROL"}, State: "pending"}
}

func TestGoldenExemptionMessages(t *testing.T) {
	approved := testExemption()
	approved.State, approved.DecidedBy, approved.DecidedAt, approved.ExpiresAt = "approved", "U0ALICE", at, at.Add(10*24*time.Hour)
	denied := testExemption()
	denied.State, denied.DecidedBy, denied.DecidedAt = "denied", "U0CAROL", at
	card := testCard()
	messages := map[string]Message{
		"exemption_request":  ExemptionRequestMessage(testExemption()),
		"exemption_approved": ExemptionDecidedMessage(approved),
		"exemption_denied":   ExemptionDecidedMessage(denied),
		"exemption_reminder": ExemptionReminderMessage(approved, approved.ExpiresAt.Add(-72*time.Hour), testPublicURL),
		"exemption_requested": ExemptionRequestedMessage(ExemptionReply{ID: "exm_01", Service: "checkout", Signal: "slo_defined",
			SignalName: "SLO defined", Days: 10, Channel: "C0EXEMPT", Approvers: []string{"U0ALICE"}}),
		"exemption_hint":       TextMessage(ExemptionHint("checkout", "rollback_recent", 30, []string{"U0ALICE"})),
		"scorecard_exemptions": ScorecardMessage(card, CardView{PublicURL: testPublicURL, Exemptions: true}),
	}
	for name, m := range messages {
		t.Run(name, func(t *testing.T) {
			if err := m.Validate(); err != nil {
				t.Fatalf("over Slack's limits: %v", err)
			}
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			assertNoInjection(t, got)
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot -run TestGoldenExemptionMessages -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; if the change is intended, run go test ./bot -run TestGoldenExemptionMessages -update and review the diff\n%s", name, got)
			}
		})
	}
	// Without exemptions the scorecard is as it was: no menu.
	plain, _ := json.Marshal(ScorecardMessage(card, CardView{PublicURL: testPublicURL}))
	if strings.Contains(string(plain), ActionExemptOffer) {
		t.Error("the scorecard offers exemptions while they are off")
	}
	offered, _ := json.Marshal(messages["scorecard_exemptions"])
	for _, want := range []string{`"value":"checkout rollback_recent"`, `"value":"checkout drift_triaged"`} {
		if !strings.Contains(string(offered), want) {
			t.Errorf("the menu lacks %s", want)
		}
	}
	if strings.Contains(string(offered), "checkout signed_commits") {
		t.Error("the menu offers an already waived signal")
	}
}

// fakeExemptions records what the bot hands the exemption handler.
type fakeExemptions struct {
	mu       sync.Mutex
	requests []ExemptionRequest
	clicks   []string
}

func (f *fakeExemptions) RequestExemption(_ context.Context, r ExemptionRequest) (ExemptionReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if r.Days > 30 {
		return ExemptionReply{Problem: "at most 30 days <!here>"}, nil
	}
	return ExemptionReply{ID: "exm_1", Service: r.Service, Signal: r.Signal, Days: r.Days, Channel: "C0EXEMPT", Approvers: []string{"U0CAROL"}}, nil
}

func (f *fakeExemptions) HandleExemptionClick(_ context.Context, id, user string, approve bool) (ClickResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clicks = append(f.clicks, id+"/"+user+"/"+map[bool]string{true: "approve", false: "deny"}[approve])
	return ClickResult{Ephemeral: "Approved."}, nil
}

func (f *fakeExemptions) ExemptionTerms() (int, []string) { return 30, []string{"U0CAROL"} }

func TestExemptCommandAndClicks(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// Off: the command says so, and nothing is offered.
	if _, _, raw := h.command("exempt checkout slo_defined 3 r"); !strings.Contains(raw, "Exemptions are not set up") {
		t.Fatalf("exempt while off: %s", raw)
	}
	fx := &fakeExemptions{}
	h.bot.SetExemptionHandler(fx)
	_, _, raw := h.command("exempt checkout slo_defined 3 vendor outage")
	if !strings.Contains(raw, "Requested") || !strings.Contains(raw, "\\u003c#C0EXEMPT\\u003e") {
		t.Fatalf("answer: %s", raw)
	}
	if len(fx.requests) != 1 || fx.requests[0].RequestedBy != "U0ALICE" || fx.requests[0].Invocation != "trig-exempt checkout slo_defined 3 vendor outage" ||
		fx.requests[0].Reason != "vendor outage" {
		t.Fatalf("handler saw %+v", fx.requests)
	}
	if _, _, raw := h.command("exempt checkout slo_defined 40 r"); !strings.Contains(raw, "at most 30 days \\u0026lt;!here\\u0026gt;") {
		t.Errorf("a refusal is shown escaped: %s", raw)
	}

	act := func(action map[string]any) {
		t.Helper()
		payload := map[string]any{"type": "block_actions", "user": map[string]any{"id": "U0CAROL"}, "response_url": h.slack.ResponseURL("x"),
			"actions": []map[string]any{action}}
		b, _ := json.Marshal(payload)
		r := signedRequest(http.MethodPost, "/slack/interactions", "application/x-www-form-urlencoded", url.Values{"payload": {string(b)}}.Encode(), time.Now(), signingSecret)
		if status, _, raw := h.do(r); status != 200 {
			t.Fatal(status, raw)
		}
	}
	act(map[string]any{"type": "button", "action_id": ActionExemptApprove, "block_id": "exemption:exm_1", "value": "exm_1", "action_ts": "1.1"})
	act(map[string]any{"type": "button", "action_id": ActionExemptDeny, "block_id": "exemption:exm_1", "value": "exm_1", "action_ts": "1.2"})
	act(map[string]any{"type": "overflow", "action_id": ActionExemptOffer, "block_id": "b", "action_ts": "1.3",
		"selected_option": map[string]any{"value": "checkout rollback_recent", "text": map[string]any{"type": "plain_text", "text": "Recent rollback"}}})
	if strings.Join(fx.clicks, ",") != "exm_1/U0CAROL/approve,exm_1/U0CAROL/deny" {
		t.Errorf("clicks = %v", fx.clicks)
	}
	h.deliver(5)
	got := h.slack.posts("response:x")
	if len(got) != 3 || !strings.Contains(got[2].Text, "/readiness exempt checkout rollback_recent \\u003cdays\\u003e \\u003creason\\u003e") {
		t.Fatalf("answers = %+v", got)
	}
}
