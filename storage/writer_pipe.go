package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// A piped write is one whose statements are known before any of them runs: no statement's
// arguments depend on another's result, and the Go code decides nothing between them. On
// PostgreSQL the writer sends every piped request of a batch, with the shared writer lock
// before them, as one pgx batch: the server runs it as one implicit transaction committed at
// its Sync, so the whole batch costs one network round trip, where a transaction of the same
// statements costs BEGIN, the lock, one per statement and COMMIT (measured with 3 replicas on
// 2 cores: BENCHMARKS.md, "PostgreSQL"). Everywhere else, and when the batch fails, the
// request's fn runs as any other write does; fn must make the same writes as its statements.

// pipeStmt is one statement of a piped write, in this package's spelling.
type pipeStmt struct {
	query string
	args  []any
	// scan reads the statement's row (pgx.ErrNoRows when there is none); nil: no row is read.
	scan func(pgx.Row) error
}

// doPiped runs a piped write: stmts pipelined on PostgreSQL, fn everywhere else; express
// sends it to the express lane (DoExpress). Every statement must be one the shared writer
// lock covers.
func (w *Writer) doPiped(ctx context.Context, express bool, fn func(*Tx) error, stmts ...pipeStmt) error {
	r := &writeReq{ctx: ctx, fn: fn, pc: reflect.ValueOf(fn).Pointer(), express: express, done: make(chan error, 1)}
	if w.d.name == DriverPostgres && w.d.sharedLock != "" {
		for _, s := range stmts {
			if !sharedStatements[s.query] {
				return fmt.Errorf("storage: a piped statement needs the exclusive writer lock: %.60q", s.query)
			}
		}
		r.pipe = stmts
	}
	return w.submit(r)
}

// commitPiped commits batch, every request of which is piped, in one pgx batch. It reports
// ok=false, with nothing written, when the batch failed as a whole (a request's statement
// failed, so the implicit transaction rolled back): the caller then commits the requests
// through their fns, where a savepoint each keeps one failure from the others.
func (w *lane) commitPiped(ctx context.Context, batch []*writeReq) (errs []error, ok bool) {
	errs = make([]error, len(batch))
	live := batch[:0:0]
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return errs, true
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return nil, false
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c, isPgx := dc.(*stdlib.Conn)
		if !isPgx {
			return errors.New("storage: the writer's connection is not pgx's")
		}
		b := &pgx.Batch{}
		b.Queue(w.d.sharedLock)
		for _, r := range live {
			for _, s := range r.pipe {
				b.Queue(w.d.sql(s.query), s.args...)
			}
		}
		br := c.Conn().SendBatch(ctx, b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("take the writer lock: %w", err)
		}
		for _, r := range live {
			for _, s := range r.pipe {
				var err error
				if s.scan != nil {
					err = s.scan(br.QueryRow())
				} else {
					_, err = br.Exec()
				}
				if err != nil {
					br.Close()
					return err
				}
			}
		}
		// Close reads up to the server's ReadyForQuery, which follows the commit's flush:
		// nothing is acknowledged before it returns without error.
		return br.Close()
	})
	if err != nil {
		// A statement the server refused is one request's bad data, which the transactions
		// isolate; anything else (the connection, the driver) would cost every batch a second
		// try, and is worth seeing. Either way nothing was acknowledged: a batch whose commit's
		// answer was lost is run again, and its deliveries then answer as duplicates.
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			w.log.Debug("piped batch fell back to transactions", "requests", len(live), "err", err)
		} else if !errors.Is(err, sql.ErrConnDone) {
			w.log.Warn("piped batch fell back to transactions", "requests", len(live), "err", err)
		}
		return nil, false
	}
	return errs, true
}
