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

// openConfigured loads the config at path and opens its existing database: the start of every
// command that reads what serve stored.
func openConfigured(ctx context.Context, path string) (*config.Config, *storage.DB, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, nil, err
	}
	db, err := openExisting(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
}
