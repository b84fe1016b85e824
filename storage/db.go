// Package storage keeps ReleaseOps' state in one SQLite file (modernc.org/sqlite, pure Go):
// deliveries, facts, scores, history, the outbox, approvals and the audit log.
//
// Writes go through a single Writer that commits in groups; reads use a separate pool of
// read-only connections, so WAL readers never wait for the writer.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Options tune durability and batching. The zero value is not valid; use DefaultOptions.
type Options struct {
	// Synchronous is SQLite's synchronous pragma in WAL mode. FULL (the default) fsyncs the
	// WAL on every commit: an acknowledged delivery survives a power loss. NORMAL fsyncs only
	// at checkpoints: it survives a process crash (kill -9) but a power loss may drop the
	// last commits.
	Synchronous string
	// BusyTimeout is how long a connection waits on a lock before failing.
	BusyTimeout time.Duration
	// MaxBatch caps how many waiting writes share one transaction.
	MaxBatch int
	// CheckpointInterval is how often the background checkpointer runs. Automatic
	// checkpoints are off so that no request pays for one.
	CheckpointInterval time.Duration
	// IndexInterval is how often the indexer moves new facts and deliveries into the service
	// indexes (service_index.go). Readers see the tail either way; a short one is cheaper.
	IndexInterval time.Duration
	// WALLimit is the WAL size (bytes) past which the writer checkpoints between two batches
	// so that the WAL starts over; 0 turns this off. Under light load the WAL restarts anyway.
	WALLimit int64
	// AllowSharedFile opens an existing database file that group or others may read or
	// write. Off (the default), such a file is refused: it holds raw webhook bodies,
	// approvals and the audit log. A new file is created 0600 either way.
	AllowSharedFile bool
	Logger          *slog.Logger
}

// DefaultOptions returns the options used when config says nothing.
func DefaultOptions() Options {
	return Options{Synchronous: "FULL", BusyTimeout: 5 * time.Second, MaxBatch: 256, CheckpointInterval: 250 * time.Millisecond,
		IndexInterval: 250 * time.Millisecond, WALLimit: 64 << 20}
}

// DB is an open database: a read pool, the group-commit writer and the checkpointer.
type DB struct {
	path   string
	read   *sql.DB
	write  *sql.DB
	ckpt   *sql.DB // the checkpointer's own connection
	Writer *Writer
	log    *slog.Logger
	stop   chan struct{}
	done   chan struct{} // the checkpointer has stopped

	indexDone chan struct{}
	// walFrames is the frame count of the WAL's current generation at the last checkpoint.
	walFrames atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

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

// Open opens (creating if needed) the database at path, applies pending migrations and
// starts the writer and the checkpointer. Close stops them. A new database file is created
// 0600 (its -wal and -shm files follow); an existing one that group or others may read or
// write is refused unless opts.AllowSharedFile is set.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	switch strings.ToUpper(opts.Synchronous) {
	case "FULL", "NORMAL", "EXTRA", "OFF":
		opts.Synchronous = strings.ToUpper(opts.Synchronous)
	default:
		return nil, fmt.Errorf("open %s: synchronous must be FULL, NORMAL, EXTRA or OFF, got %q", path, opts.Synchronous)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultOptions().MaxBatch
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultOptions().BusyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
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
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
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
	db := &DB{path: path, read: read, write: write, ckpt: ckpt, log: opts.Logger, stop: make(chan struct{}), done: make(chan struct{}),
		indexDone: make(chan struct{})}
	db.walFrames.Store(-1)
	const walFrameHeader = 24
	db.Writer = newWriter(write, opts.MaxBatch, opts.Logger, path+"-wal", opts.WALLimit, &db.walFrames, pageSize+walFrameHeader)
	interval := opts.CheckpointInterval
	if interval <= 0 {
		interval = time.Second
	}
	go db.checkpointLoop(interval)
	indexEvery := opts.IndexInterval
	if indexEvery <= 0 {
		indexEvery = DefaultOptions().IndexInterval
	}
	go db.indexLoop(indexEvery)
	return db, nil
}

// Path returns the database file path.
func (db *DB) Path() string { return db.path }

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", db.path, err)
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

// every runs fn each interval, with a bounded context, until Close; then it closes done.
func (db *DB) every(interval time.Duration, done chan struct{}, fn func(context.Context)) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			fn(ctx)
			cancel()
		}
	}
}

// Close flushes the writer, runs a final checkpoint and closes every connection. Calling it
// again returns the first result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	close(db.stop)
	<-db.done
	<-db.indexDone
	db.Writer.close()
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

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok" when sound).
func (db *DB) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	if err := db.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return "", fmt.Errorf("integrity check: %w", err)
	}
	return res, nil
}
