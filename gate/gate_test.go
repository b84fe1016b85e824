package gate_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/outbox"
)

func TestAllowPostsNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("payments", 91)
	out := e.gate(map[string]any{"service": "payments", "environment": "production", "version": "v2.0.0", "requested_by": "carol"})
	if out["decision"] != "allow" || out["band"] != "mature" || out["approval_id"] != nil || out["score"] != 91.0 {
		t.Fatalf("got %v", out)
	}
	if ms := e.messagesOf("payments"); len(ms) != 0 {
		t.Errorf("an allowed deploy queued %d messages: %+v", len(ms), ms)
	}
	entries := e.audit("payments")
	if len(entries) != 1 || entries[0]["kind"] != gate.AuditGateDecision || entries[0]["actor"] != "carol" {
		t.Fatalf("audit %v", entries)
	}
	// The decision is evidence too: an internal event with a gate_decision fact.
	code, ev := e.request(http.MethodGet, "/api/v1/events?source=releaseops&service=payments", readToken, nil)
	if code != 200 || len(ev["events"].([]any)) != 1 {
		t.Fatalf("internal events: %d %v", code, ev)
	}
}

func TestWatchApprovalFlow(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	out := e.gate(map[string]any{"service": "checkout", "environment": "production", "version": "v1.42.0", "commit_sha": "9f2c1e0", "requested_by": "alice"})
	if out["decision"] != "needs_approval" || out["band"] != "watch" {
		t.Fatalf("got %v", out)
	}
	id := str(out["approval_id"])
	if !strings.HasPrefix(id, "apr_") || out["approval_url"] != "https://releaseops.example.com/api/v1/approvals/"+id {
		t.Fatalf("approval id %q url %v", id, out["approval_url"])
	}
	post, ok := e.message("approval:" + id + ":request")
	if !ok || post.Kind != "slack.post" || post.Target != checkoutCh || !strings.Contains(string(post.Payload), `"value":"`+id+`"`) {
		t.Fatalf("approval request message %+v (found %v)", post, ok)
	}
	a := e.approval(id)
	if a["state"] != "pending" || a["service"] != "checkout" || a["version"] != "v1.42.0" || a["requested_by"] != "alice" || a["decided_by"] != "" || a["decided_at"] != nil {
		t.Fatalf("approval %v", a)
	}
	if exp := str(a["expires_at"]); exp != "2026-11-20T10:30:00Z" {
		t.Errorf("expires_at %s, want 30 minutes after the request", exp)
	}
	ctx := context.Background()

	r, err := e.app.Gate.Click(ctx, id, "U0CAROL", true)
	if err != nil || r.Accepted || !strings.Contains(r.Text, "Only the approvers of checkout") {
		t.Fatalf("non-approver: %+v %v", r, err)
	}
	r, err = e.app.Gate.Click(ctx, id, "U0ALICE", true) // alice asked (mapped through gate.users)
	if err != nil || r.Accepted || !strings.Contains(r.Text, "You requested this deploy") {
		t.Fatalf("self-approval: %+v %v", r, err)
	}
	r, err = e.app.Gate.Click(ctx, id, "U0BOB", true)
	if err != nil || !r.Accepted || r.Text != "Approved: checkout to production." {
		t.Fatalf("approver: %+v %v", r, err)
	}
	r, err = e.app.Gate.Click(ctx, id, "U0ALICE", false)
	if err != nil || r.Accepted || !strings.Contains(r.Text, "already approved by U0BOB") {
		t.Fatalf("late click: %+v %v", r, err)
	}
	a = e.approval(id)
	if a["state"] != "approved" || a["decided_by"] != "U0BOB" || str(a["decided_at"]) != "2026-11-20T10:00:00Z" {
		t.Fatalf("approval after the click %v", a)
	}
	upd, ok := e.message("approval:" + id + ":approved")
	if !ok || upd.Kind != "slack.update" || upd.Target != checkoutCh || !strings.Contains(string(upd.Payload), `"post_key":"approval:`+id+`:request"`) {
		t.Fatalf("update message %+v (found %v)", upd, ok)
	}
	var clicks []string
	for _, en := range e.audit("checkout") {
		if en["kind"] == gate.AuditClick {
			d := en["detail"].(map[string]any)
			clicks = append(clicks, fmt.Sprintf("%s:%v", en["actor"], d["accepted"]))
		}
	}
	if strings.Join(clicks, " ") != "U0CAROL:false U0ALICE:false U0BOB:true U0ALICE:false" {
		t.Errorf("audited clicks %v", clicks)
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify %v", v)
	}
}

func TestSelfApprovalBySlackID(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 65)
	id := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "U0BOB"})["approval_id"])
	r, _ := e.app.Gate.Click(context.Background(), id, "U0BOB", true)
	if r.Accepted {
		t.Fatal("the requester approved their own deploy")
	}
	r, _ = e.app.Gate.Click(context.Background(), id, "U0ALICE", true)
	if !r.Accepted {
		t.Fatalf("another approver was refused: %s", r.Text)
	}
}

func TestDeny(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	id := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "dave"})["approval_id"])
	r, err := e.app.Gate.Click(context.Background(), id, "U0ALICE", false)
	if err != nil || !r.Accepted || r.Text != "Denied: checkout to production." {
		t.Fatalf("%+v %v", r, err)
	}
	if a := e.approval(id); a["state"] != "denied" || a["decided_by"] != "U0ALICE" {
		t.Fatalf("%v", a)
	}
	if _, ok := e.message("approval:" + id + ":denied"); !ok {
		t.Error("no update queued for the denial")
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	ask := func() string {
		return str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "dave"})["approval_id"])
	}
	lazy, looped := ask(), ask()

	e.clock.Advance(30*time.Minute - time.Millisecond)
	if a := e.approval(lazy); a["state"] != "pending" {
		t.Fatalf("expired early: %v", a)
	}
	e.clock.Advance(time.Millisecond) // exactly approval_timeout
	// Read lazily: a pending approval past its time is expired by the read.
	if a := e.approval(lazy); a["state"] != "expired" || str(a["decided_at"]) != "2026-11-20T10:30:00Z" || a["decided_by"] != "" {
		t.Fatalf("lazy expiry: %v", a)
	}
	// The loop's pass expires the other.
	n, err := e.app.Gate.ExpireDue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v", n, err)
	}
	if a := e.approval(looped); a["state"] != "expired" {
		t.Fatalf("loop expiry: %v", a)
	}
	r, _ := e.app.Gate.Click(context.Background(), looped, "U0ALICE", true)
	if r.Accepted || !strings.Contains(r.Text, "expired") {
		t.Fatalf("click after expiry: %+v", r)
	}
	if _, ok := e.message("approval:" + lazy + ":expired"); !ok {
		t.Error("no update queued for the expiry")
	}

	// Across a restart: the approval expires while the process is down; the loop's first
	// scan at start expires it.
	down := ask()
	e.restart()
	e.clock.Advance(time.Hour)
	n, err = e.app.Gate.ExpireDue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue after restart = %d, %v", n, err)
	}
	if a := e.approval(down); a["state"] != "expired" {
		t.Fatalf("after restart: %v", a)
	}
	expiries := 0
	for _, en := range e.audit("checkout") {
		if en["kind"] == gate.AuditExpired {
			expiries++
		}
	}
	if expiries != 3 {
		t.Errorf("%d expiries audited, want 3", expiries)
	}
}

func TestBlockedReasonsWithPlaybooks(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("legacy", 41.5)
	out := e.gate(map[string]any{"service": "legacy", "environment": "production"})
	if out["decision"] != "block" || out["band"] != "blocked" || out["approval_id"] != nil {
		t.Fatalf("%v", out)
	}
	var dims []string
	for _, r := range out["reasons"].([]any) {
		r := r.(map[string]any)
		if r["kind"] == "dimension" {
			dims = append(dims, str(r["dimension"]))
			if !strings.HasPrefix(str(r["playbook"]), "https://releaseops.example.com/playbooks/") || !strings.Contains(str(r["text"]), str(r["playbook"])) {
				t.Errorf("reason without playbook: %v", r)
			}
		}
	}
	if strings.Join(dims, ",") != "rollback_readiness,release_auditability,observability" {
		t.Errorf("weakest dimensions %v", dims)
	}
	if ms := e.messagesOf("legacy"); len(ms) != 0 {
		t.Errorf("a block posted %d messages", len(ms))
	}
	// requested_by defaults to the token's name.
	if en := e.audit("legacy"); en[0]["actor"] != "token:ci" {
		t.Errorf("actor %v", en[0]["actor"])
	}
}

func TestUnknownAndStale(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Gate.OnUnknown = "needs_approval" })
	out := e.gate(map[string]any{"service": "newborn", "environment": "production"})
	reasons := out["reasons"].([]any)
	if out["decision"] != "needs_approval" || out["band"] != "unknown" || out["score"] != nil ||
		!strings.Contains(str(reasons[0].(map[string]any)["text"]), "gate.on_unknown is needs_approval") {
		t.Fatalf("%v", out)
	}
	// No slack_channel: the approval goes to slack.default_channel.
	if m, ok := e.message("approval:" + str(out["approval_id"]) + ":request"); !ok || m.Target != "C0DEFAULT" {
		t.Fatalf("default channel: %+v %v", m, ok)
	}
	e.setScore("payments", 95)
	e.clock.Advance(31 * 24 * time.Hour)
	out = e.gate(map[string]any{"service": "payments", "environment": "production"})
	if out["decision"] != "needs_approval" || !strings.Contains(str(out["reasons"].([]any)[0].(map[string]any)["text"]), "stale") {
		t.Fatalf("stale: %v", out)
	}
}

func TestBreakGlass(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("legacy", 30)
	body := map[string]any{"service": "legacy", "environment": "production", "version": "v9", "requested_by": "erin",
		"break_glass": map[string]any{"reason": "SEV1 incident 4711: hotfix"}}
	b, _ := json.Marshal(body)
	if code, out := e.request(http.MethodPost, "/api/v1/gate", readToken, b); code != http.StatusForbidden {
		t.Fatalf("a read token broke glass: %d %v", code, out)
	}
	out := e.gate(body)
	if out["decision"] != "allow" || out["break_glass"] != true || out["would"] != "block" {
		t.Fatalf("%v", out)
	}
	first := out["reasons"].([]any)[0].(map[string]any)
	if first["kind"] != "break_glass" || !strings.Contains(str(first["text"]), "SEV1 incident 4711") {
		t.Errorf("first reason %v", first)
	}
	m, ok := e.message("break_glass:" + str(out["request_id"]))
	if !ok || m.Kind != "slack.post" || m.Target != "C0LEGACY" || !strings.Contains(string(m.Payload), "SEV1 incident 4711") {
		t.Fatalf("break-glass post %+v %v", m, ok)
	}
	kinds := []string{}
	for _, en := range e.audit("legacy") {
		kinds = append(kinds, str(en["kind"]))
	}
	if strings.Join(kinds, ",") != gate.AuditGateDecision+","+gate.AuditBreakGlass {
		t.Errorf("audit kinds %v", kinds)
	}
	body["break_glass"] = map[string]any{"reason": " "}
	b, _ = json.Marshal(body)
	if code, out := e.request(http.MethodPost, "/api/v1/gate", gateToken, b); code != http.StatusUnprocessableEntity || !strings.Contains(str(out["error"]), "break_glass.reason") {
		t.Fatalf("blank reason: %d %v", code, out)
	}
}

func TestBadRequests(t *testing.T) {
	e := newEnv(t, nil)
	for _, c := range []struct {
		body, token string
		code        int
		want        string
	}{
		{`{"service":"chekout","environment":"production"}`, gateToken, 404, "did you mean checkout"},
		{`{"service":"checkout",`, gateToken, 400, "not valid JSON"},
		{`[1]`, gateToken, 400, "JSON object"},
		{`{"service":"checkout","environment":"production","version":42}`, gateToken, 422, "version must be a string"},
		{`{"service":"checkout","environment":"production","break_glass":"now"}`, gateToken, 422, "break_glass must be a object"},
		{`{"service":"checkout"}`, gateToken, 422, "environment is required"},
		{`{"environment":"production"}`, gateToken, 422, "service is required"},
		{`{"service":"checkout","environment":"production"}`, "", 401, "bearer"},
	} {
		code, out := e.request(http.MethodPost, "/api/v1/gate", c.token, []byte(c.body))
		got := str(out["error"]) + " " + str(out["detail"])
		if code != c.code || !strings.Contains(got, c.want) {
			t.Errorf("%s: %d %q, want %d containing %q", c.body, code, got, c.code, c.want)
		}
	}
	if code, _ := e.request(http.MethodGet, "/api/v1/approvals/apr_nope", readToken, nil); code != 404 {
		t.Errorf("unknown approval: %d", code)
	}
	// Every refused request is in the audit log (the unauthenticated one never reached the gate).
	refused := 0
	for _, a := range e.audit("") {
		if a["kind"] == "gate.refused" {
			refused++
		}
	}
	if refused != 7 {
		t.Errorf("%d refused requests audited, want 7", refused)
	}
	if len(e.audit("chekout")) != 1 {
		t.Errorf("the refused request for an unknown service is not audited under its name")
	}
}

func TestConcurrentClicks(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	id := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "dave"})["approval_id"])
	var wg sync.WaitGroup
	results := make([]gate.ClickResult, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := []string{"U0ALICE", "U0BOB"}[i%2]
			r, err := e.app.Gate.Click(context.Background(), id, user, i%3 != 0)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	accepted := 0
	for _, r := range results {
		if r.Accepted {
			accepted++
		}
	}
	if accepted != 1 {
		t.Fatalf("%d clicks accepted, want exactly 1", accepted)
	}
	a := e.approval(id)
	state := str(a["state"])
	if state != "approved" && state != "denied" {
		t.Fatalf("state %s", state)
	}
	decisions, refusals := 0, 0
	for _, en := range e.audit("checkout") {
		if en["kind"] != gate.AuditClick {
			continue
		}
		if en["detail"].(map[string]any)["accepted"] == true {
			decisions++
		} else {
			refusals++
		}
	}
	if decisions != 1 || refusals != 9 {
		t.Errorf("audited %d decisions and %d refusals, want 1 and 9", decisions, refusals)
	}
	updates := 0
	for _, m := range e.messagesOf("checkout") {
		if m.Kind == "slack.update" {
			updates++
		}
	}
	if updates != 1 {
		t.Errorf("%d updates queued, want 1", updates)
	}
	// The outcome is recorded once as evidence too.
	code, ev := e.request(http.MethodGet, "/api/v1/events?source=releaseops&service=checkout&type=gate.approval", readToken, nil)
	if code != 200 || len(ev["events"].([]any)) != 1 {
		t.Errorf("outcome events: %d %v", code, ev)
	}
}

func TestProtectionRuleWatchWaitsForSlack(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	e.protectionRule("d-watch-1", "acme/checkout", "production", "alice", 501)
	e.settle()
	// Replayed by a crash: the listener sees the same facts again.
	facts, err := e.app.DB.FactsAfter(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	e.app.Gate.Listener(context.Background(), facts)
	// And GitHub redelivers: stored once, decided once.
	e.protectionRule("d-watch-1", "acme/checkout", "production", "alice", 501)
	e.settle()

	var requests []outbox.Stored
	for _, m := range e.messagesOf("checkout") {
		if m.Kind == "slack.post" && strings.HasPrefix(m.Key, "approval:") {
			requests = append(requests, m)
		}
	}
	if len(requests) != 1 {
		for _, m := range requests {
			t.Log(m.Key, string(m.Payload))
		}
		t.Fatalf("%d approval requests, want 1", len(requests))
	}
	id := strings.TrimSuffix(strings.TrimPrefix(requests[0].Key, "approval:"), ":request")
	if _, ok := e.message("protection:d-watch-1:review"); ok {
		t.Fatal("GitHub was answered before the Slack decision")
	}
	if a := e.approval(id); a["state"] != "pending" || a["origin"] != "github" || a["requested_by"] != "alice" {
		t.Fatalf("approval %v", a)
	}
	if r, _ := e.app.Gate.Click(context.Background(), id, "U0ALICE", true); r.Accepted {
		t.Fatal("the GitHub deployment's creator (alice → U0ALICE) approved it")
	}
	if r, _ := e.app.Gate.Click(context.Background(), id, "U0BOB", true); !r.Accepted {
		t.Fatalf("approver refused: %s", r.Text)
	}
	e.deliver()
	reviews := e.gh.Reviews()
	if len(reviews) != 1 {
		t.Fatalf("GitHub got %d reviews, want 1: %v", len(reviews), reviews)
	}
	r := reviews[0]
	if r["state"] != "approved" || r["environment_name"] != "production" || r["path"] != "/api/repos/acme/checkout/actions/runs/501/deployment_protection_rule" ||
		!strings.Contains(r["comment"], "approved in Slack by U0BOB") {
		t.Errorf("review %v", r)
	}
	if e.gh.auth[0] != "Bearer "+ghToken {
		t.Errorf("authorization %q", e.gh.auth[0])
	}
	// The API and GitHub agree.
	if a := e.approval(id); a["state"] != r["state"] {
		t.Errorf("API says %v, GitHub was told %s", a["state"], r["state"])
	}
}

func TestProtectionRuleImmediateAnswers(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("payments", 90)
	e.setScore("legacy", 20)
	e.protectionRule("d-mature", "acme/payments", "production", "carol", 601)
	e.protectionRule("d-blocked", "acme/legacy", "production", "carol", 602)
	e.settle()
	e.deliver()
	got := map[string]string{}
	for _, r := range e.gh.Reviews() {
		got[r["path"]] = r["state"]
		if r["state"] == "rejected" && !strings.Contains(r["comment"], "playbooks/rollback_readiness") {
			t.Errorf("rejection without reasons: %q", r["comment"])
		}
	}
	if got["/api/repos/acme/payments/actions/runs/601/deployment_protection_rule"] != "approved" ||
		got["/api/repos/acme/legacy/actions/runs/602/deployment_protection_rule"] != "rejected" {
		t.Fatalf("reviews %v", got)
	}
}

func TestProtectionCallbackRetried(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("payments", 90)
	e.gh.FailNext(502, 429)
	e.protectionRule("d-retry", "acme/payments", "production", "carol", 701)
	e.settle()
	e.deliver()
	m, _ := e.message("protection:d-retry:review")
	if m.State != outbox.StatePending || m.Attempts != 1 || !strings.Contains(m.LastError, "502") {
		t.Fatalf("after a 502: %+v", m)
	}
	if strings.Contains(m.LastError, ghToken) {
		t.Fatal("the token leaked into the error")
	}
	for range 2 {
		e.clock.Advance(10 * time.Minute)
		e.deliver()
	}
	m, _ = e.message("protection:d-retry:review")
	if m.State != outbox.StateSent || m.Attempts != 3 || len(e.gh.Reviews()) != 1 {
		t.Fatalf("after retries: %+v, %d reviews", m, len(e.gh.Reviews()))
	}
	// A 4xx other than 429 is final: the message is dead, listed, not retried.
	e.gh.FailNext(422)
	e.protectionRule("d-final", "acme/payments", "production", "carol", 702)
	e.settle()
	e.deliver()
	if m, _ := e.message("protection:d-final:review"); m.State != outbox.StateDead {
		t.Fatalf("after a 422: %+v", m)
	}
}

func TestAuditTamperingDetected(t *testing.T) {
	e := newEnv(t, nil)
	e.setScore("checkout", 70)
	e.setScore("payments", 90)
	for range 3 {
		e.gate(map[string]any{"service": "payments", "environment": "production"})
	}
	id := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "dave"})["approval_id"])
	e.app.Gate.Click(context.Background(), id, "U0BOB", true)
	v := e.verify()
	if v["ok"] != true || v["entries"] != 5.0 || len(str(v["head"])) != 64 {
		t.Fatalf("untouched log: %v", v)
	}
	e.close()

	// Edit entry 3 in the SQLite file, as someone with file access would: the append-only
	// trigger is dropped first, then the decision is rewritten.
	db, err := sql.Open("sqlite", e.cfg.Storage.SQLitePath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET detail = '{}' WHERE seq = 3`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("the trigger let an update through: %v", err)
	}
	if _, err := db.Exec(`DROP TRIGGER audit_log_no_update`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_log SET detail = replace(detail, '"allow"', '"block"') WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e.open()
	v = e.verify()
	if v["ok"] != false || v["first_bad"] != 3.0 || !strings.Contains(str(v["problem"]), "entry 3 was edited") {
		t.Fatalf("after tampering: %v", v)
	}
}
