package bot

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// blockTexts is every string of a message's blocks, as Slack would read them (the JSON
// escapes < and >; decoding brings them back).
func blockTexts(t *testing.T, m Message) string {
	t.Helper()
	b, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
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

func withOnCall(r ApprovalRequest, line string) ApprovalRequest {
	r.Reasons = append(append([]Reason(nil), r.Reasons...), Reason{Text: OnCallPrefix + line})
	return r
}

func TestApprovalOnCallLine(t *testing.T) {
	r := withOnCall(testApproval(), "Alice (until 18:00 UTC), then Bob")
	const want = "*On call:* Alice (until 18:00 UTC), then Bob"
	decided := Decision{State: "approved", By: "U0BOB", At: at.Add(4 * time.Minute)}
	for name, m := range map[string]Message{
		"request": ApprovalRequestMessage(r, testPublicURL),
		"decided": ApprovalDecidedMessage(r, decided, testPublicURL),
	} {
		if err := m.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := blockTexts(t, m)
		if !strings.Contains(s, want) {
			t.Errorf("%s: no on-call line in %s", name, s)
		}
		// A line of its own, not one of the reasons.
		if strings.Contains(s, "• On call") || strings.Count(s, "On call") != 1 {
			t.Errorf("%s: the on-call line is listed as a reason: %s", name, s)
		}
		if !strings.Contains(s, "*Reasons*\n• score 68.2") {
			t.Errorf("%s: the real reasons are gone: %s", name, s)
		}
	}
	// Only the on-call line: no empty Reasons section.
	only := withOnCall(ApprovalRequest{ID: "apr_1", Service: "checkout", Environment: "production"}, "Alice")
	if s := blockTexts(t, ApprovalRequestMessage(only, testPublicURL)); strings.Contains(s, "*Reasons*") || !strings.Contains(s, "*On call:* Alice") {
		t.Errorf("on-call only: %s", s)
	}
}

func TestApprovalOnCallHostileNames(t *testing.T) {
	r := withOnCall(testApproval(), "<!channel> (until 18:00 UTC), then <@U0MALLORY>\n<https://evil.example|Bob> & co")
	for name, m := range map[string]Message{
		"request": ApprovalRequestMessage(r, testPublicURL),
		"expired": ApprovalDecidedMessage(r, Decision{State: "expired", At: at.Add(30 * time.Minute)}, testPublicURL),
	} {
		b, _ := json.Marshal(m)
		assertNoInjection(t, b)
		s := blockTexts(t, m)
		if !strings.Contains(s, "*On call:* &lt;!channel&gt; (until 18:00 UTC), then &lt;@U0MALLORY&gt; &lt;https://evil.example|Bob&gt; &amp; co") {
			t.Errorf("%s: on-call names not escaped onto one line: %s", name, s)
		}
	}
}

func TestApprovalWithoutOnCall(t *testing.T) {
	r := testApproval()
	for name, m := range map[string]Message{
		"request": ApprovalRequestMessage(r, testPublicURL),
		"decided": ApprovalDecidedMessage(r, Decision{State: "denied", By: "U0BOB", At: at}, testPublicURL),
	} {
		if s := blockTexts(t, m); strings.Contains(s, "On call") {
			t.Errorf("%s: an on-call line without an on-call reason: %s", name, s)
		}
	}
	// A reason that links a playbook is a reason, whatever its text.
	r.Reasons = []Reason{{Text: OnCallPrefix + "rotation is missing", Playbook: testPublicURL + "/playbooks/incident_readiness"}}
	if s := blockTexts(t, ApprovalRequestMessage(r, testPublicURL)); strings.Contains(s, "*On call:*") || !strings.Contains(s, "• On call: rotation is missing") {
		t.Errorf("a playbook reason was taken for the on-call line: %s", s)
	}
}
