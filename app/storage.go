package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/storage"
)

// OpenDB opens the configured database: the SQLite file, or PostgreSQL (retrying an
// unreachable server for storage.connect_retry). existing refuses to create a SQLite file
// that is not there, for the commands that read what serve stored.
func OpenDB(ctx context.Context, cfg *config.Config, log *slog.Logger, existing bool) (*storage.DB, error) {
	opts := storage.DefaultOptions()
	opts.Synchronous = cfg.Storage.Synchronous
	opts.BusyTimeout = cfg.Storage.BusyTimeout.Std()
	opts.MaxBatch = cfg.Storage.MaxBatch
	opts.AllowSharedFile = cfg.Storage.AllowSharedFile
	opts.Logger = log
	if cfg.Storage.Driver == storage.DriverPostgres {
		if !existing {
			opts.ConnectRetry = cfg.Storage.ConnectRetry.Std()
		}
		return storage.OpenPostgres(ctx, cfg.Storage.PostgresURL.Value(), opts)
	}
	if existing {
		if _, err := os.Stat(cfg.Storage.SQLitePath); err != nil {
			return nil, fmt.Errorf("no database at %s: run `releaseops serve` or `releaseops ingest` first", cfg.Storage.SQLitePath)
		}
	}
	return storage.Open(ctx, cfg.Storage.SQLitePath, opts)
}

// wireWakes routes every "something committed" signal through the database, so the worker
// that follows it wakes on whichever replica holds its lease (LISTEN/NOTIFY on PostgreSQL;
// the same process on SQLite).
func (a *App) wireWakes() {
	db := a.DB
	db.Subscribe(storage.TopicFacts, func(string) { a.Worker.Wake() })
	db.Subscribe(storage.TopicOutbox, func(string) { a.Outbox.WakeLocal() })
	a.Outbox.Notify = func() { db.Announce(storage.TopicOutbox) }
	if a.Gate != nil {
		db.Subscribe(storage.TopicApprovals, func(string) { a.Gate.WakeLocal() })
		a.Gate.Notify = func() { db.Announce(storage.TopicApprovals) }
	}
}

// factsCommitted is the ingest and sync paths' Committed: new facts, for the rescoring worker
// wherever it runs.
func (a *App) factsCommitted() { a.DB.Announce(storage.TopicFacts) }

// runLeased runs fn under the named lease in the app's wait group: on one replica at a time,
// moving to another within seconds when its holder dies.
func (a *App) runLeased(ctx context.Context, lease string, fn func(context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.DB.RunLeased(ctx, lease, fn)
	}()
}
