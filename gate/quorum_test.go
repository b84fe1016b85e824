package gate_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/storage"
)

// quorumServices gives checkout four approvers (alice, who asks, among them) and tier 1, so
// a watch-band deploy of it needs two by the default gate.quorum; legacy, tier 2, needs one.
func quorumServices(c *config.Config) {
	approvers := []string{"U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"}
	c.Services = []releaseops.Service{
		{Name: "checkout", Repo: "acme/checkout", SlackChannel: checkoutCh, Tier: 1, Approvers: approvers},
		{Name: "legacy", Repo: "acme/legacy", SlackChannel: "C0LEGACY", Tier: 2, Approvers: approvers},
	}
}

// clicksOf returns the audited clicks on an approval as "actor:outcome:votes/quorum", where
// outcome is decided, counted or refused.
func clicksOf(e *env, service, id string) []string {
	var out []string
	for _, en := range e.audit(service) {
		if en["kind"] != gate.AuditClick || en["approval_id"] != id {
			continue
		}
		d := en["detail"].(map[string]any)
		outcome := "refused"
		switch {
		case d["accepted"] == true:
			outcome = "decided"
		case d["counted"] == true:
			outcome = "counted"
		}
		out = append(out, fmt.Sprintf("%s:%s:%v/%v", en["actor"], outcome, d["votes"], d["quorum"]))
	}
	return out
}

func votersOf(a map[string]any) []string {
	var out []string
	vs, _ := a["votes"].([]any)
	for _, v := range vs {
		out = append(out, str(v.(map[string]any)["approver"]))
	}
	return out
}

// A blackout that approvers may override asks a quorum of 2: the requester cannot be one of
// them, the first approver cannot decide alone (the message shows "1 of 2 approvals" and who),
// a second click by the same approver does not count, and a second approver decides.
func TestBlackoutOverrideNeedsQuorumOfTwo(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		quorumServices(c)
		c.Gate.Blackouts = []risk.BlackoutConfig{{Name: "black-friday", Reason: "peak traffic", From: "2026-11-20", To: "2026-11-21",
			Timezone: "UTC", Environments: []string{"production"}, AllowOverride: true, Quorum: 2}}
	})
	e.setScore("checkout", 90) // mature: only the blackout asks for approvers
	out := e.gate(map[string]any{"service": "checkout", "environment": "production", "version": "v2.0.0", "requested_by": "alice"})
	if out["decision"] != "needs_approval" || out["quorum"] != 2.0 {
		t.Fatalf("gate in an overridable blackout: %v", out)
	}
	id := str(out["approval_id"])
	if a := e.approval(id); a["quorum"] != 2.0 || a["state"] != "pending" || len(votersOf(a)) != 0 || a["votes"] == nil {
		t.Fatalf("new approval %v", a)
	}
	post, ok := e.message("approval:" + id + ":request")
	if !ok || !strings.Contains(string(post.Payload), "0 of 2 approvals") {
		t.Fatalf("the request does not say it needs 2 approvals: %s", post.Payload)
	}
	ctx := context.Background()

	r, err := e.app.Gate.Click(ctx, id, "U0ALICE", true) // alice asked, through gate.users
	if err != nil || r.Accepted || r.Counted || !strings.Contains(r.Text, "You requested this deploy") {
		t.Fatalf("the requester's vote: %+v %v", r, err)
	}
	r, err = e.app.Gate.Click(ctx, id, "U0BOB", true)
	if err != nil || r.Accepted || !r.Counted || !r.Changed || !strings.Contains(r.Text, "1 of 2 approvals") {
		t.Fatalf("the first approver: %+v %v", r, err)
	}
	a := e.approval(id)
	if a["state"] != "pending" || strings.Join(votersOf(a), ",") != "U0BOB" || a["decided_by"] != "" {
		t.Fatalf("after one of two approvals: %v", a)
	}
	progress, ok := e.message("approval:" + id + ":votes:1")
	if !ok || progress.Kind != "slack.update" || progress.Target != checkoutCh {
		t.Fatalf("no in-place update after the first vote: %+v (found %v)", progress, ok)
	}
	if p := string(progress.Payload); !strings.Contains(p, "1 of 2 approvals") || !strings.Contains(p, "U0BOB") ||
		!strings.Contains(p, "releaseops_approve") || !strings.Contains(p, `"post_key":"approval:`+id+`:request"`) {
		t.Fatalf("the update does not show 1 of 2, who approved, and the buttons: %s", p)
	}

	r, err = e.app.Gate.Click(ctx, id, "U0BOB", true)
	if err != nil || r.Accepted || r.Counted || !strings.Contains(r.Text, "already approved") || !strings.Contains(r.Text, "1 of 2 approvals") {
		t.Fatalf("the same approver again: %+v %v", r, err)
	}
	if a := e.approval(id); a["state"] != "pending" || len(votersOf(a)) != 1 {
		t.Fatalf("a second click by the same approver counted: %v", a)
	}
	if _, ok := e.message("approval:" + id + ":votes:2"); ok {
		t.Fatal("a repeated vote queued an update")
	}

	r, err = e.app.Gate.Click(ctx, id, "U0CAROL", true)
	if err != nil || !r.Accepted || r.Counted || r.Text != "Approved: checkout to production (2 of 2 approvals: U0BOB, U0CAROL)." {
		t.Fatalf("the second approver: %+v %v", r, err)
	}
	a = e.approval(id)
	if a["state"] != "approved" || a["decided_by"] != "U0CAROL" || strings.Join(votersOf(a), ",") != "U0BOB,U0CAROL" {
		t.Fatalf("after two of two approvals: %v", a)
	}
	upd, ok := e.message("approval:" + id + ":approved")
	if !ok || !strings.Contains(string(upd.Payload), "2 of 2 approvals") || strings.Contains(string(upd.Payload), "releaseops_approve") {
		t.Fatalf("decided update %s (found %v)", upd.Payload, ok)
	}
	if r, _ := e.app.Gate.Click(ctx, id, "U0DAVE", true); r.Accepted || r.Counted || !strings.Contains(r.Text, "already approved by U0CAROL") {
		t.Fatalf("a vote after the decision: %+v", r)
	}
	want := "U0ALICE:refused:0/2 U0BOB:counted:1/2 U0BOB:refused:1/2 U0CAROL:decided:2/2 U0DAVE:refused:2/2"
	if got := strings.Join(clicksOf(e, "checkout", id), " "); got != want {
		t.Errorf("audited clicks\n got %s\nwant %s", got, want)
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify %v", v)
	}
}

// One Deny denies, whatever approvals came before it; the denied message still says who had
// approved.
func TestDenyAfterOneApproval(t *testing.T) {
	e := newEnv(t, quorumServices)
	e.setScore("checkout", 70) // watch band, tier 1: the default quorum is 2
	out := e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "U0DAVE"})
	id := str(out["approval_id"])
	if out["quorum"] != 2.0 {
		t.Fatalf("watch band, tier 1: %v", out)
	}
	ctx := context.Background()
	if r, err := e.app.Gate.Click(ctx, id, "U0BOB", true); err != nil || !r.Counted {
		t.Fatalf("first approval: %+v %v", r, err)
	}
	r, err := e.app.Gate.Click(ctx, id, "U0CAROL", false)
	if err != nil || !r.Accepted || r.Text != "Denied: checkout to production." {
		t.Fatalf("deny after one approval: %+v %v", r, err)
	}
	a := e.approval(id)
	if a["state"] != "denied" || a["decided_by"] != "U0CAROL" || strings.Join(votersOf(a), ",") != "U0BOB" {
		t.Fatalf("after the deny: %v", a)
	}
	upd, ok := e.message("approval:" + id + ":denied")
	if p := string(upd.Payload); !ok || !strings.Contains(p, "Denied by") || !strings.Contains(p, "1 of 2 approvals") || !strings.Contains(p, "U0BOB") {
		t.Fatalf("denied update %s (found %v)", p, ok)
	}
	if got := strings.Join(clicksOf(e, "checkout", id), " "); got != "U0BOB:counted:1/2 U0CAROL:decided:1/2" {
		t.Errorf("audited clicks %s", got)
	}
}

// Concurrent Approve clicks on a quorum-1 and a quorum-2 approval, through two replicas on
// PostgreSQL, decide each exactly once; on the quorum-2 one exactly one vote before the
// decision counts without deciding.
func TestConcurrentQuorumClicks(t *testing.T) {
	t.Run(storage.DriverSQLite, func(t *testing.T) {
		e := newEnv(t, quorumServices)
		concurrentQuorumClicks(t, e, e)
	})
	t.Run(storage.DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		e := newEnv(t, func(c *config.Config) {
			quorumServices(c)
			c.Storage.Driver, c.Storage.PostgresURL = storage.DriverPostgres, config.NewSecret(url)
		})
		other := &env{t: t, cfg: e.cfg, clock: e.clock, gh: e.gh}
		other.open()
		concurrentQuorumClicks(t, e, other)
	})
}

func concurrentQuorumClicks(t *testing.T, e, other *env) {
	e.setScore("checkout", 70)
	e.setScore("legacy", 70)
	q2 := str(e.gate(map[string]any{"service": "checkout", "environment": "production", "requested_by": "alice"})["approval_id"])
	q1 := str(e.gate(map[string]any{"service": "legacy", "environment": "production", "requested_by": "alice"})["approval_id"])
	if a := e.approval(q1); a["quorum"] != 1.0 {
		t.Fatalf("legacy approval %v", a)
	}
	voters := []string{"U0BOB", "U0CAROL", "U0DAVE"}
	const clicks = 24
	results := map[string][]gate.ClickResult{q1: make([]gate.ClickResult, clicks), q2: make([]gate.ClickResult, clicks)}
	var wg sync.WaitGroup
	for _, id := range []string{q1, q2} {
		for i := range clicks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := []*env{e, other}[i%2].app.Gate
				r, err := g.Click(context.Background(), id, voters[i%len(voters)], true)
				if err != nil {
					t.Error(err)
				}
				results[id][i] = r
			}()
		}
	}
	wg.Wait()
	for id, want := range map[string]struct{ counted, updates int }{q1: {0, 1}, q2: {1, 2}} {
		decided, counted := 0, 0
		for _, r := range results[id] {
			if r.Accepted {
				decided++
			}
			if r.Counted {
				counted++
			}
		}
		a := e.approval(id)
		if decided != 1 || counted != want.counted || a["state"] != "approved" || len(votersOf(a)) != int(a["quorum"].(float64)) {
			t.Errorf("approval %s: %d decided and %d counted clicks (want 1 and %d); %v", id, decided, counted, want.counted, a)
		}
		updates := 0
		for _, m := range e.messagesOf(str(a["service"])) {
			if m.Kind == "slack.update" {
				updates++
			}
		}
		if updates != want.updates {
			t.Errorf("approval %s: %d updates queued, want %d", id, updates, want.updates)
		}
		outcomes := map[string]int{}
		for _, c := range clicksOf(e, str(a["service"]), id) {
			outcomes[strings.Split(c, ":")[1]]++
		}
		if outcomes["decided"] != 1 || outcomes["counted"] != want.counted || outcomes["refused"] != clicks-1-want.counted {
			t.Errorf("approval %s: audited %v", id, outcomes)
		}
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify %v", v)
	}
}
