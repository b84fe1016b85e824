package gate_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// setOnCall stores an oncall fact for the service, as the PagerDuty sync does, read at at.
func (e *env) setOnCall(service string, at time.Time, levels ...releaseops.OnCallLevel) {
	e.t.Helper()
	subj := releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "P" + strings.ToUpper(service)}
	err := e.app.DB.Writer.Do(context.Background(), func(t *storage.Tx) error {
		_, _, err := storage.InsertDelivery(t, &storage.NewDelivery{Source: releaseops.SourcePagerDuty, DeliveryID: "sync:oncall:" + service + at.String(),
			Type: releaseops.EventSync, Subject: subj, Service: service, Outcome: releaseops.OutcomeStored, ReceivedAt: at,
			Headers: map[string]string{}, Body: []byte(`{}`),
			Facts: []releaseops.Fact{{Kind: releaseops.FactOnCall, Subject: subj, Service: service, At: at,
				Evidence: releaseops.Evidence{Source: releaseops.SourcePagerDuty, Event: releaseops.EventSync, At: at},
				OnCall:   &releaseops.OnCall{ServiceID: subj.Key, EscalationPolicyID: "PEP1", Levels: levels}}}})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// slackText is the decoded text of a queued Slack post or update.
func slackText(t *testing.T, m outbox.Stored) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(m.Payload, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case []any:
			for _, x := range v {
				walk(x)
			}
		case map[string]any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

const onCallLine = "*On call:* Alice (until 18:00 UTC), then Bob"

func TestApprovalNamesOnCall(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	now := e.clock.Now()
	e.setOnCall("checkout", now.Add(-time.Hour),
		releaseops.OnCallLevel{Level: 1, User: "Alice", Until: time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)}, releaseops.OnCallLevel{Level: 2, User: "Bob"})
	out := e.gate(map[string]any{"service": "checkout", "environment": "production", "version": "v1.42.0", "requested_by": "alice"})
	for _, r := range out["reasons"].([]any) {
		if r.(map[string]any)["kind"] == "oncall" {
			t.Fatalf("the gate's answer carries the on-call line: %v", out["reasons"])
		}
	}
	id := str(out["approval_id"])
	post, ok := e.message("approval:" + id + ":request")
	if !ok || !strings.Contains(slackText(t, post), onCallLine) {
		t.Fatalf("request without the on-call line (found %v): %s", ok, post.Payload)
	}
	// The rota moves on; the decided message still says who was on call when asked.
	e.setOnCall("checkout", now, releaseops.OnCallLevel{Level: 1, User: "Zed"})
	if r, err := e.app.Gate.Click(context.Background(), id, "U0BOB", true); err != nil || !r.Accepted {
		t.Fatalf("click %+v %v", r, err)
	}
	upd, ok := e.message("approval:" + id + ":approved")
	if s := slackText(t, upd); !ok || !strings.Contains(s, onCallLine) || strings.Contains(s, "Zed") {
		t.Fatalf("update (found %v): %s", ok, s)
	}
}

func TestApprovalOnCallEscapedAndStale(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	e.setScore("payments", 70)
	now := e.clock.Now()
	e.setOnCall("checkout", now.Add(-time.Hour), releaseops.OnCallLevel{Level: 1, User: "<!channel>"})
	e.setOnCall("payments", now.Add(-25*time.Hour), releaseops.OnCallLevel{Level: 1, User: "Pat"})
	id := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "alice"})["approval_id"])
	post, _ := e.message("approval:" + id + ":request")
	if s := slackText(t, post); !strings.Contains(s, "*On call:* &lt;!channel&gt;") || strings.Contains(s, "<!channel") {
		t.Fatalf("hostile on-call name: %s", s)
	}
	id = str(e.gate(map[string]any{"service": "payments", "environment": "production", "requested_by": "carol"})["approval_id"])
	post, _ = e.message("approval:" + id + ":request")
	if s := slackText(t, post); strings.Contains(s, "On call") {
		t.Fatalf("a 25 h old rota was shown: %s", s)
	}
}

// A GitHub protection rule's approval is posted with the same message.
func TestProtectionRuleApprovalNamesOnCall(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	e.setOnCall("checkout", e.clock.Now().Add(-time.Hour), releaseops.OnCallLevel{Level: 1, User: "Alice", Until: time.Date(2026, 11, 20, 18, 0, 0, 0, time.UTC)},
		releaseops.OnCallLevel{Level: 2, User: "Bob"})
	e.protectionRule("d-watch-oc", "acme/checkout", "production", "alice", 701)
	e.settle()
	for _, m := range e.messagesOf("checkout") {
		if m.Kind == "slack.post" && strings.HasPrefix(m.Key, "approval:") {
			if !strings.Contains(slackText(t, m), onCallLine) {
				t.Fatalf("protection rule approval without the on-call line: %s", m.Payload)
			}
			return
		}
	}
	t.Fatal("no approval request posted")
}
