package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/storage"
)

// openExisting opens the configured database for the commands that read what `serve` or
// `ingest` stored; it refuses to create an empty one.
func openExisting(ctx context.Context, cfg *config.Config) (*storage.DB, error) {
	if _, err := os.Stat(cfg.Storage.SQLitePath); err != nil {
		return nil, fmt.Errorf("no database at %s: run `releaseops serve` or `releaseops ingest` first", cfg.Storage.SQLitePath)
	}
	opts := storage.DefaultOptions()
	opts.Synchronous = cfg.Storage.Synchronous
	opts.AllowSharedFile = cfg.Storage.AllowSharedFile
	opts.Logger = newLogger(cfg, io.Discard)
	return storage.Open(ctx, cfg.Storage.SQLitePath, opts)
}
