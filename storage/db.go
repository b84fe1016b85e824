// Package storage keeps ReleaseOps' state — deliveries, facts, scores, history, the outbox,
// approvals, leases and the audit log — in SQLite (one file, the default; modernc.org/sqlite,
// pure Go) or PostgreSQL (several replicas on one database; jackc/pgx). The functions above
// this package are the same on both: the queries are written once (dialect.go) and what
// cannot be lives beside its driver (sqlite.go, postgres.go).
//
// Writes go through a single Writer per process that commits in groups; reads use a separate
// pool, so readers never wait for the writer.
package storage

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune durability and batching. The zero value is not valid; use DefaultOptions.
type Options struct {
	// Synchronous is SQLite's synchronous pragma in WAL mode. FULL (the default) fsyncs the
	// WAL on every commit: an acknowledged delivery survives a power loss. NORMAL fsyncs only
	// at checkpoints: it survives a process crash (kill -9) but a power loss may drop the
	// last commits. PostgreSQL's durability is its own (synchronous_commit).
	Synchronous string
	// BusyTimeout is how long a SQLite connection waits on a lock before failing.
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
	// Holder names this process in lease rows (lease.go); empty: host name and process id.
	Holder string
	// ConnectRetry is how long OpenPostgres keeps retrying an unreachable server, with
	// backoff, before it gives up; 0: one attempt.
	ConnectRetry time.Duration
	Logger       *slog.Logger
}

// DefaultOptions returns the options used when config says nothing.
func DefaultOptions() Options {
	return Options{Synchronous: "FULL", BusyTimeout: 5 * time.Second, MaxBatch: 256, CheckpointInterval: 250 * time.Millisecond,
		IndexInterval: 250 * time.Millisecond, WALLimit: 64 << 20}
}

// DB is an open database: a read pool, the group-commit writer and the background loops.
type DB struct {
	d      *dialect
	path   string // the file, or the server without credentials
	read   *sql.DB
	write  *sql.DB
	Writer *Writer
	log    *slog.Logger
	stop   chan struct{}
	holder string

	// SQLite only: the checkpointer's own connection and what it last saw.
	ckpt      *sql.DB
	done      chan struct{} // the checkpointer has stopped
	walFrames atomic.Int64

	// PostgreSQL only: see postgres.go.
	pg *pgState

	indexDone chan struct{}
	leases    leaseSet
	subs      subscribers

	closeOnce sync.Once
	closeErr  error
}

// Driver returns the engine's name: "sqlite" or "postgres".
func (db *DB) Driver() string { return db.d.name }

// Path returns the database file path, or the PostgreSQL server and database (no password).
func (db *DB) Path() string { return db.path }

// query and queryRow run a read on the read pool, in the engine's spelling.
func (db *DB) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return db.read.QueryContext(ctx, db.d.sql(q), args...)
}

func (db *DB) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, db.d.sql(q), args...)
}

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", db.path, err)
	}
	return nil
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

// Close releases this process's leases, flushes the writer, stops the loops and closes every
// connection. Calling it again returns the first result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { db.closeErr = db.close() })
	return db.closeErr
}

func (db *DB) close() error {
	close(db.stop)
	<-db.done
	<-db.indexDone
	db.releaseLeases()
	db.Writer.close()
	auditHeads.Delete(db.Writer)
	if db.pg != nil {
		return db.closePostgres()
	}
	return db.closeSQLite()
}

// start begins the loops both engines run, once the writer exists.
func (db *DB) start(opts Options) {
	indexEvery := opts.IndexInterval
	if indexEvery <= 0 {
		indexEvery = DefaultOptions().IndexInterval
	}
	go db.indexLoop(indexEvery)
}

func (opts *Options) defaults() {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultOptions().MaxBatch
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultOptions().BusyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Holder == "" {
		opts.Holder = defaultHolder()
	}
}
