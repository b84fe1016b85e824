package gate_test

import (
	"strings"
	"testing"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// TestGateRoundTripsPostgres counts what one gate request asks PostgreSQL, through a counting
// proxy: the round trips of its reads and of its write, per band (an allow, an approval, a
// block). It logs each round trip's statements (go test -v shows them).
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
			e.gate(map[string]any{"service": svc, "environment": "production", "version": "v" + string(rune('0'+i))})
		}
		tally.Stop()
		t.Logf("%s: %.1f round trips per request:\n%s", svc, float64(tally.RoundTrips())/n, strings.Join(tally.Summary(), "\n"))
		one := proxy.Count()
		e.gate(map[string]any{"service": svc, "environment": "production", "version": "one"})
		one.Stop()
		for i, tr := range one.Trips() {
			t.Logf("%s %2d: %s", svc, i+1, strings.Join(tr, " + "))
		}
	}
}
