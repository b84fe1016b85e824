package main

import (
	"context"
	"io"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/storage"
)

// openExisting opens the configured database for the commands that read what `serve` or
// `ingest` stored; it refuses to create an empty SQLite file.
func openExisting(ctx context.Context, cfg *config.Config) (*storage.DB, error) {
	return app.OpenDB(ctx, cfg, newLogger(cfg, io.Discard), true)
}
