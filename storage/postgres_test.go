package storage

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/pgtest"
)

// An unreachable server at start: the error names where it looked; with a retry window, the
// open succeeds once the server answers.
func TestOpenPostgresRetriesAnUnreachableServer(t *testing.T) {
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	proxy.Cut()
	_, err := OpenPostgres(context.Background(), url, DefaultOptions())
	if err == nil || !strings.Contains(err.Error(), proxy.Addr()) {
		t.Fatalf("open with the server away: %v, want an error naming %s", err, proxy.Addr())
	}
	opts := DefaultOptions()
	opts.ConnectRetry = time.Minute
	go func() {
		time.Sleep(700 * time.Millisecond)
		proxy.Restore()
	}()
	db, err := OpenPostgres(context.Background(), url, opts)
	if err != nil {
		t.Fatalf("open after the server came back: %v", err)
	}
	db.Close()
}

func TestOpenPostgresRefusesABadURLWithoutEchoingIt(t *testing.T) {
	_, err := OpenPostgres(context.Background(), "postgres://user:s3cret@[::1/db", DefaultOptions())
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "storage.postgres_url") {
		t.Fatalf("bad URL: %v", err)
	}
}

// Lost mid-run: writes fail (nothing is reported stored that was not committed), and work
// again once the server is back, without reopening.
func TestPostgresLostMidRunRecovers(t *testing.T) {
	proxy, url := pgtest.NewProxy(t, pgtest.URL(t))
	db, err := OpenPostgres(context.Background(), url, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	insert := func(id string) error {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return db.Writer.Do(c, func(tx *Tx) error { _, _, err := InsertDelivery(tx, delivery(id)); return err })
	}
	if err := insert("before"); err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	err = insert("during")
	if err == nil {
		t.Fatal("a write succeeded with the server away")
	}
	if !Unavailable(err) {
		t.Fatalf("write with the server away: %v, want an error Unavailable recognises", err)
	}
	proxy.Restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := insert("after")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A pooled read connection that was open through the cut fails once, as unavailable (the
	// server answers 503 with Retry-After), and is replaced.
	var has bool
	for i := 0; ; i++ {
		has, err = db.HasDelivery(ctx, "deploy", "during")
		if err == nil || i > 20 {
			break
		}
		if !Unavailable(err) {
			t.Fatalf("read after the cut: %v, want an error Unavailable recognises", err)
		}
	}
	if err != nil || has {
		t.Fatalf("the failed write is stored: %v %v", has, err)
	}
	if n, _ := db.CountDeliveries(ctx); n != 2 {
		t.Fatalf("stored %d deliveries, want 2", n)
	}
}
