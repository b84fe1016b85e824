package web

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

var serveAddr = flag.String("serve", "", "serve the fixture's pages on this address until interrupted, to look at them in a browser")

// TestServeFixture is a viewer, not a check: `go test ./web -run TestServeFixture -timeout 0
// -serve 127.0.0.1:8099` serves the pages with the test data, so a change to a template or
// the stylesheet can be looked at before its golden files are updated.
func TestServeFixture(t *testing.T) {
	if *serveAddr == "" {
		t.Skip("pass -serve ADDR to look at the pages with the fixture's data")
	}
	f := newFixture(t)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *serveAddr, Handler: f.Echo, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	t.Logf("serving the fixture on http://%s", *serveAddr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}
