package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
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
