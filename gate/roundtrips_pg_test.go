package gate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// TestGateRoundTripsPostgres counts what gate requests ask PostgreSQL, through a counting
// proxy, per band (an allow, an approval, a block), and logs each round trip's statements
// (go test -v shows them: the profile in BENCHMARKS.md). Other work of the process (the
// indexer, leases) shares the proxy, so it checks only the gate's own statements: its inputs
// are read in one round trip per request, and one replica appending to the audit log does
// not read the log's head first.
func TestGateRoundTripsPostgres(t *testing.T) {
	url := pgtest.URL(t)
	proxy, purl := pgtest.NewProxy(t, url+"&sslmode=disable")
	e := newEnv(t, func(c *config.Config) {
		c.Storage.Driver, c.Storage.PostgresURL = storage.DriverPostgres, config.NewSecret(purl)
	})
	for svc, score := range map[string]float64{"checkout": 70, "payments": 90, "legacy": 40} {
		e.setScore(svc, score)
	}
	for _, svc := range []string{"payments", "checkout", "legacy"} {
		e.gate(map[string]any{"service": svc, "environment": "production", "version": "warm"}) // statements prepared
		const n = 5
		tally := proxy.Count()
		for i := range n {
			e.gate(map[string]any{"service": svc, "environment": "production", "version": fmt.Sprint("v", i)})
		}
		tally.Stop()
		inputs, heads := 0, 0
		for _, tr := range tally.Trips() {
			all := strings.Join(tr, "\n")
			if strings.Contains(all, "updated_at FROM scores") {
				inputs++
			}
			if strings.Contains(all, "FROM audit_log ORDER BY") {
				heads++
			}
		}
		t.Logf("%s: %.1f round trips per request, the process's other work included:\n%s",
			svc, float64(tally.RoundTrips())/n, strings.Join(tally.Summary(), "\n"))
		if inputs != n || heads != 0 {
			t.Errorf("%s: %d requests read their inputs in %d round trips and the audit head %d times, want %d and 0", svc, n, inputs, heads, n)
		}
		one := proxy.Count()
		e.gate(map[string]any{"service": svc, "environment": "production", "version": "one"})
		one.Stop()
		for i, tr := range one.Trips() {
			t.Logf("%s %2d: %s", svc, i+1, strings.Join(tr, " + "))
		}
	}
}
