package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// Concurrent Approve and Deny clicks on one request, through two replicas on PostgreSQL (and
// one process on SQLite), decide it exactly once; every click is audited in one chain.
func TestConcurrentExemptionClicks(t *testing.T) {
	t.Run(storage.DriverSQLite, func(t *testing.T) {
		e := newExemptEnv(t, nil)
		concurrentExemptionClicks(t, e, e)
	})
	t.Run(storage.DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		pg := func(c *config.Config) {
			c.Storage.Driver, c.Storage.PostgresURL = storage.DriverPostgres, config.NewSecret(url)
		}
		e := newExemptEnv(t, pg)
		other := newExemptEnv(t, pg)
		concurrentExemptionClicks(t, e, other)
	})
}

// Concurrent requests for one signal of one service, through two replicas on PostgreSQL,
// store exactly one pending request; the others are told one is pending, with nothing
// stored or audited for them.
func TestConcurrentExemptionRequests(t *testing.T) {
	t.Run(storage.DriverSQLite, func(t *testing.T) {
		e := newExemptEnv(t, nil)
		concurrentExemptionRequests(t, e, e)
	})
	t.Run(storage.DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		pg := func(c *config.Config) {
			c.Storage.Driver, c.Storage.PostgresURL = storage.DriverPostgres, config.NewSecret(url)
		}
		concurrentExemptionRequests(t, newExemptEnv(t, pg), newExemptEnv(t, pg))
	})
}

func concurrentExemptionRequests(t *testing.T, e, other *exemptEnv) {
	ctx := context.Background()
	const requests = 16
	replies := make([]bot.ExemptionReply, requests)
	var wg sync.WaitGroup
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := []*exemptEnv{e, other}[i%2].app.Exemptions
			r, err := x.RequestExemption(ctx, bot.ExemptionRequest{RequestedBy: "U0BOB", Invocation: fmt.Sprintf("trigger-%d", i),
				ExemptArgs: bot.ExemptArgs{Service: "checkout", Signal: "slo_defined", Days: 5, Reason: "vendor outage"}})
			if err != nil {
				t.Error(err)
			}
			replies[i] = r
		}()
	}
	wg.Wait()
	stored := 0
	for _, r := range replies {
		switch {
		case r.Problem == "" && r.ID != "":
			stored++
		case !strings.Contains(r.Problem, "already has a pending exemption request"):
			t.Errorf("a refused request says %q", r.Problem)
		}
	}
	if pending := e.only("pending"); stored != 1 || len(pending) != 1 {
		t.Fatalf("%d requests accepted, %d pending, want 1 and 1", stored, len(pending))
	}
	if kinds := e.auditKinds(); kinds[gate.AuditExemptionRequest] != 1 {
		t.Errorf("audit = %v, want one request", kinds)
	}
}

func concurrentExemptionClicks(t *testing.T, e, other *exemptEnv) {
	ctx := context.Background()
	e.command("U0BOB", "exempt checkout slo_defined 10 vendor outage")
	id := e.only("pending")[0].(map[string]any)["id"].(string)
	const clicks = 24
	answers := make([]string, clicks)
	var wg sync.WaitGroup
	for i := range clicks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := []*exemptEnv{e, other}[i%2].app.Exemptions
			r, err := x.HandleExemptionClick(ctx, id, []string{"U0ALICE", "U0CAROL"}[i%2], i%3 != 0)
			if err != nil {
				t.Error(err)
			}
			answers[i] = r.Ephemeral
		}()
	}
	wg.Wait()
	e.app.Exemptions.Settle()
	other.app.Exemptions.Settle()
	decided := 0
	for _, a := range answers {
		if strings.HasPrefix(a, "Approved:") || strings.HasPrefix(a, "Denied:") {
			decided++
		} else if !strings.Contains(a, "already") {
			t.Errorf("a refused click says %q", a)
		}
	}
	if decided != 1 {
		t.Fatalf("%d clicks decided, want 1: %q", decided, answers)
	}
	row, err := e.app.DB.GetExemption(ctx, id)
	if err != nil || row.State == storage.ExemptionPending {
		t.Fatalf("after the clicks: %+v %v", row, err)
	}
	accepted, audited := 0, 0
	rows, err := e.app.DB.ListAudit(ctx, "checkout", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Kind != gate.AuditExemptionClick {
			continue
		}
		audited++
		var d struct {
			Accepted bool   `json:"accepted"`
			Action   string `json:"action"`
		}
		json.Unmarshal(r.Detail, &d)
		if d.Accepted {
			accepted++
			if d.Action != row.State {
				t.Errorf("the accepted click was %s, the request is %s", d.Action, row.State)
			}
		}
	}
	if audited != clicks || accepted != 1 {
		t.Errorf("audited %d clicks with %d accepted, want %d and 1", audited, accepted, clicks)
	}
	e.auditKinds() // verifies the chain
	// The waiver shows on the card read through either replica when approved.
	if row.State == storage.ExemptionApproved {
		if s := other.signal("slo_defined"); !s.Waived {
			t.Errorf("approved, but the card says %+v", s)
		}
	}
}
