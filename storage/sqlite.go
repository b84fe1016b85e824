package storage

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

func dsn(path string, opts Options, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+opts.Synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "wal_autocheckpoint(0)")
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) the SQLite database at path, applies pending migrations and
// starts the writer, the checkpointer and the indexer. Close stops them. A new database file
// is created 0600 (its -wal and -shm files follow); an existing one that group or others may
// read or write is refused unless opts.AllowSharedFile is set.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	switch strings.ToUpper(opts.Synchronous) {
	case "FULL", "NORMAL", "EXTRA", "OFF":
		opts.Synchronous = strings.ToUpper(opts.Synchronous)
	default:
		return nil, fmt.Errorf("open %s: synchronous must be FULL, NORMAL, EXTRA or OFF, got %q", path, opts.Synchronous)
	}
	opts.defaults()
	if err := privateFile(path, opts.AllowSharedFile); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", dsn(path, opts, false))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := migrateOn(ctx, write, sqliteDialect, "", ""); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn(path, opts, true))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s for reading: %w", path, err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	ckpt, err := sql.Open("sqlite", dsn(path, opts, false))
	if err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("open %s for checkpoints: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	var pageSize int64
	if err := write.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		write.Close()
		read.Close()
		ckpt.Close()
		return nil, fmt.Errorf("open %s: read page size: %w", path, err)
	}
	db := &DB{d: sqliteDialect, path: path, read: read, write: write, ckpt: ckpt, log: opts.Logger, stop: make(chan struct{}),
		done: make(chan struct{}), indexDone: make(chan struct{}), holder: opts.Holder}
	db.walFrames.Store(-1)
	const walFrameHeader = 24
	db.Writer = newWriter([]*sql.DB{write}, nil, sqliteDialect, opts.MaxBatch, opts.Logger, path+"-wal", opts.WALLimit, &db.walFrames, pageSize+walFrameHeader)
	interval := opts.CheckpointInterval
	if interval <= 0 {
		interval = time.Second
	}
	go db.checkpointLoop(interval)
	db.start(opts)
	return db, nil
}

// migrateOn pins one connection of pool and migrates on it.
func migrateOn(ctx context.Context, pool *sql.DB, d *dialect, lock, unlock string) error {
	conn, err := pool.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := migrate(ctx, conn, d, lock, unlock); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// checkpointLoop moves the WAL into the database file off the request path: a PASSIVE
// checkpoint on a connection of its own runs beside the writer (it takes no write lock and
// waits for no reader), so no request's commit waits for it. Automatic checkpoints, which
// SQLite would run inside some unlucky commit, are off.
func (db *DB) checkpointLoop(interval time.Duration) {
	db.every(interval, db.done, func(ctx context.Context) {
		var busy, frames, copied int64
		if err := db.ckpt.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
			db.log.Warn("wal checkpoint", "err", err)
			return
		}
		db.walFrames.Store(frames) // the writer's bound reads it
	})
}

func (db *DB) closeSQLite() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := db.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		db.log.Warn("final wal checkpoint", "err", err)
	}
	db.ckpt.Close()
	rerr := db.read.Close()
	werr := db.write.Close()
	if werr != nil {
		return fmt.Errorf("close %s: %w", db.path, werr)
	}
	if rerr != nil {
		return fmt.Errorf("close %s: %w", db.path, rerr)
	}
	return nil
}

// IntegrityCheck runs SQLite's PRAGMA integrity_check and returns its verdict ("ok" when
// sound). PostgreSQL checks its own pages; there it reports "ok" when the server answers.
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	if db.d != sqliteDialect {
		if err := db.Ping(ctx); err != nil {
			return "", fmt.Errorf("integrity check: %w", err)
		}
		return "ok", nil
	}
	var res string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	return res, nil
}
