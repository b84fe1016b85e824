package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/pgtest"
)

// PostgreSQL not answering at start: serve answers on its address meanwhile — /healthz 200,
// /readyz and webhooks 503 with Retry-After — and becomes ready once the server is back.
func TestServeWaitsForPostgres(t *testing.T) {
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	proxy.Cut()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen: %s\nstorage:\n  driver: postgres\n  postgres_url: %q\n  connect_retry: 2m\n", addr, url)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, []string{"--config", cfg}, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	get := func(path string) (*http.Response, error) {
		c := &http.Client{Timeout: 3 * time.Second}
		return c.Get("http://" + addr + path)
	}
	wait := func(path string, want int) *http.Response {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := get(path)
			if err == nil {
				res.Body.Close()
				if res.StatusCode == want {
					return res
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v %v, want %d", path, res, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	res := wait("/readyz", http.StatusServiceUnavailable)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("503 while waiting for PostgreSQL has no Retry-After")
	}
	wait("/healthz", http.StatusOK)
	if res, err := http.Post("http://"+addr+"/webhooks/deploy", "application/json", nil); err != nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("webhook while waiting: %v %v, want 503", res, err)
	}
	proxy.Restore()
	wait("/readyz", http.StatusOK)
}
