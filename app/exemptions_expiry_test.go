package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// TestExemptionExpiryRetriedAfterFailedRescore: the gate reads the stored card, so an expiry
// whose rescore fails (a database error, a shutdown cancelling it) must be tried again on the
// next tick, not marked done with the card still saying waived; and it is audited once.
func TestExemptionExpiryRetriedAfterFailedRescore(t *testing.T) {
	e := newExemptEnv(t, nil)
	ctx := context.Background()
	e.command("U0BOB", "exempt checkout slo_defined 2 vendor outage")
	id := e.only("pending")[0].(map[string]any)["id"].(string)
	mustContain(t, "the approval", e.click("U0ALICE", "releaseops_exempt_approve", id), "Approved")
	e.app.Exemptions.Settle()
	if s := e.signal("slo_defined"); !s.Waived {
		t.Fatalf("approved, but the card says %+v", s)
	}

	e.clock.Advance(2*24*time.Hour + time.Minute)
	rescore := e.app.Exemptions.Rescore
	e.app.Exemptions.Rescore = func(context.Context, []string) error { return errors.New("database gone") }
	if err := e.app.Exemptions.Tick(ctx); err == nil || !strings.Contains(err.Error(), "database gone") {
		t.Fatalf("tick with a failing rescore: %v", err)
	}
	if kinds := e.auditKinds(); kinds[gate.AuditExemptionExpired] != 0 {
		t.Fatalf("the expiry was audited before the card changed: %v", kinds)
	}

	e.app.Exemptions.Rescore = rescore
	for range 2 {
		if err := e.app.Exemptions.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.signal("slo_defined"); s.Waived || !strings.Contains(s.Reason, "expired") {
		t.Errorf("the next tick left the card waived: %+v", s)
	}
	if kinds := e.auditKinds(); kinds[gate.AuditExemptionExpired] != 1 {
		t.Errorf("expiry audited %d times, want once: %v", kinds[gate.AuditExemptionExpired], kinds)
	}
}

// TestExemptionSurvivesAStaleRound: a rescoring round that read the waivers before the
// approval and stores its cards after the approval's own rescore overwrites the waived card
// with one that is not; nothing else would rescore the service before its next event. The
// reminder loop finds such a card (stored before the decision) and rescores it.
func TestExemptionSurvivesAStaleRound(t *testing.T) {
	e := newExemptEnv(t, nil)
	ctx := context.Background()
	e.command("U0BOB", "exempt checkout slo_defined 10 vendor outage")
	id := e.only("pending")[0].(map[string]any)["id"].(string)

	// A round for a new deploy of checkout reads the waivers, then waits in its listeners.
	read, release := make(chan struct{}), make(chan struct{})
	var readOnce sync.Once
	waivers := e.app.Worker.Waivers
	e.app.Worker.Waivers = func(ctx context.Context, now time.Time) (map[string][]scoring.GrantedWaiver, error) {
		m, err := waivers(ctx, now)
		readOnce.Do(func() { close(read) })
		return m, err
	}
	var blockOnce sync.Once
	e.app.Worker.Listeners = append(e.app.Worker.Listeners, func(context.Context, []storage.StoredFact) {
		blockOnce.Do(func() { <-release })
	})
	body := []byte(`{"id":"deploy-8","service":"checkout","environment":"production","status":"succeeded",
		"commit_sha":"9f2c1ab","version":"v8","actor":"alice","finished_at":"2026-11-20T09:59:00Z"}`)
	if status, res := e.post("/webhooks/deploy", map[string]string{"X-ReleaseOps-Signature": deploy.Sign(deploySecret, body)}, body); status != http.StatusAccepted {
		t.Fatalf("deploy webhook: %d %v", status, res)
	}
	stepped := make(chan error, 1)
	go func() { _, err := e.app.Worker.Step(ctx); stepped <- err }()
	<-read

	e.clock.Advance(time.Second)
	mustContain(t, "the approval", e.click("U0ALICE", "releaseops_exempt_approve", id), "Approved")
	// The approval's rescore runs while the round waits, as it does on another replica; a
	// worker that made it wait for the round instead would store last and need no repair.
	settled := make(chan struct{})
	go func() { e.app.Exemptions.Settle(); close(settled) }()
	select {
	case <-settled:
	case <-time.After(10 * time.Second):
	}
	close(release)
	if err := <-stepped; err != nil {
		t.Fatal(err)
	}
	<-settled
	if s := e.signal("slo_defined"); s.Waived {
		t.Log("the round stored before the approval's rescore: nothing to repair")
	}
	e.clock.Advance(time.Minute)
	if err := e.app.Exemptions.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.signal("slo_defined"); !s.Waived || s.Waiver == nil || s.Waiver.Ref != id {
		t.Errorf("approved, but after the loop's tick the stored card says %+v", s)
	}
}
