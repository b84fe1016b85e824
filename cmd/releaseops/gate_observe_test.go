package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/gate"
)

// In observe mode `releaseops gate` exits 0 and the pipeline's log says what enforcement
// would have done and why.
func TestGateCommandObserveMode(t *testing.T) {
	a, srv, _ := gateServer(t)
	a.Gate.Policy.Mode = gate.ModePolicy{ByEnvironment: map[string]string{"staging": "observe"}}
	ask := func(extra ...string) (int, string) {
		var out, errb bytes.Buffer
		args := append([]string{"gate", "--server", srv.URL, "--token", cliGateToken}, extra...)
		code := run(context.Background(), args, &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := ask("--service", "legacy", "--env", "staging")
	if code != 0 || !strings.Contains(out, "legacy to staging: ALLOW") || !strings.Contains(out, "observe mode (gate.mode_by_environment.staging)") ||
		!strings.Contains(out, "would block: score 40.0 is in the blocked band for staging") || !strings.Contains(out, "would block: Observability 0.30") {
		t.Errorf("blocked service in observe mode: %d\n%s", code, out)
	}
	if strings.Count(out, "blocked band") != 1 {
		t.Errorf("a reason printed twice:\n%s", out)
	}
	code, out = ask("--service", "checkout", "--env", "staging")
	if code != 0 || !strings.Contains(out, "would need approval: ") || strings.Contains(out, "waiting for an approver") {
		t.Errorf("watch service in observe mode: %d\n%s", code, out)
	}
	if code, out := ask("--service", "legacy", "--env", "production"); code != 2 || strings.Contains(out, "would block") {
		t.Errorf("production stays enforced: %d\n%s", code, out)
	}
}
