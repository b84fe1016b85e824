package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/internal/pgtest"
)

// PostgreSQL lost mid-run: a webhook is answered 503 with Retry-After, not acknowledged, and
// the sender's retry stores it once the server is back.
func TestWebhookDuringAPostgresOutageIs503ThenStoredOnRetry(t *testing.T) {
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	e := newEnv(t, func(c *config.Config) {
		c.Storage.Driver = "postgres"
		c.Storage.PostgresURL = config.NewSecret(url)
	})
	send := func(id string) *http.Response {
		body := []byte(`{"id":"` + id + `","service":"checkout","environment":"production","status":"succeeded","commit":"abc"}`)
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/deploy", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-ReleaseOps-Signature", deploy.Sign(deploySecret, body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := send("d-before"); res.StatusCode != http.StatusAccepted {
		t.Fatalf("before the outage: %d", res.StatusCode)
	}
	proxy.Cut()
	res := send("d-during")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("during the outage: %d Retry-After %q, want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	proxy.Restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := send("d-during")
		if res.StatusCode == http.StatusAccepted {
			break
		}
		if res.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("retry after the outage: %d", res.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := send("d-during"); res.StatusCode != http.StatusOK {
		t.Fatalf("a second retry: %d, want 200 (duplicate)", res.StatusCode)
	}
	for i := 0; ; i++ {
		n, err := e.app.DB.CountDeliveries(t.Context())
		if err == nil {
			if n != 2 {
				t.Fatalf("stored %d deliveries, want 2", n)
			}
			break
		}
		if i > 20 {
			t.Fatal(err)
		}
	}
}
