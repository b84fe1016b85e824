package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Writer.Do after Close has begun.
var ErrClosed = errors.New("storage: writer closed")

// Writer is the database's only writer. Each call to Do waits for its function to run inside a
// transaction and for that transaction to commit; calls that arrive while a commit is under way
// share the next transaction (group commit), so the cost of a durable commit (one WAL fsync
// with synchronous=FULL) is paid once per batch, not once per request. Each function runs under
// its own SAVEPOINT, so one failing request rolls back only its own writes.
type Writer struct {
	d    *dialect
	reqs chan *writeReq
	// express feeds the express lane (addExpressLane), nil without one: the writes a
	// rescoring round waits for, so that they do not queue behind every delivery.
	express chan *writeReq
	max     int
	log     *slog.Logger
	mu      sync.RWMutex // held for reading while sending, for writing while closing
	closed  bool
	stopped chan struct{}
	lanes   sync.WaitGroup

	// walPath and walLimit bound the WAL under sustained load (see bound). walFrames is the
	// number of frames in the WAL's current generation as the last checkpoint (the background
	// one's or the writer's) reported it, -1 before any; frameBytes is a frame's size.
	walPath    string
	walLimit   int64
	walFrames  *atomic.Int64
	frameBytes int64
	lastBound  time.Time
	// boundCheckpoints counts the checkpoints bound ran, for tests.
	boundCheckpoints atomic.Int64
	// pipedBatches and pipedFallbacks count the batches committed as one pgx batch and those
	// that failed so and went through transactions instead (writer_pipe.go), for tests.
	pipedBatches, pipedFallbacks atomic.Int64

	// onBatch (SetOnBatch) is called after each commit with the batch size, the time the
	// commit took and the number of requests still queued. For metrics. Atomic: the indexer's
	// first writes run before the caller gets to set it.
	onBatch atomic.Pointer[func(size int, took time.Duration, queued int)]
}

// SetOnBatch sets the hook called after each commit (nil: none).
func (w *Writer) SetOnBatch(fn func(size int, took time.Duration, queued int)) {
	if fn == nil {
		w.onBatch.Store(nil)
		return
	}
	w.onBatch.Store(&fn)
}

// lane is one connection of the writer and the goroutine that commits on it. SQLite has one
// (its single writer); PostgreSQL several, so that one replica's batches of deliveries commit
// concurrently under the shared writer lock (writer_lock.go). Lanes take requests from one
// queue; a caller that waits for one write before the next keeps its order.
type lane struct {
	*Writer
	db   *sql.DB
	reqs chan *writeReq // where this lane takes its requests: the writer's queue or its express queue

	// prepared holds statements compiled once on the lane's connection and reused by every
	// later batch; wanted collects queries seen in a batch, compiled after its commit (the
	// connection is busy during the transaction). Only the lane's goroutine touches them.
	prepared map[string]*sql.Stmt
	wanted   map[string]bool
	// exclusiveFns are the write functions (by code pointer) seen needing PostgreSQL's
	// exclusive writer lock after a shared statement: they start under it (writer_lock.go).
	exclusiveFns map[uintptr]bool
}

type writeReq struct {
	ctx     context.Context
	fn      func(*Tx) error
	solo    func(context.Context, *sql.DB) error // runs outside any transaction, alone
	pc      uintptr                              // fn's code: the closures of one call site share it
	pipe    []pipeStmt                           // fn's statements, on PostgreSQL (writer_pipe.go)
	express bool                                 // to the express lane, when there is one
	done    chan error
}

// Tx is the transaction a write function runs in. Exec prepares each distinct query once per
// batch and reuses the statement for every request in it.
type Tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
	w     *lane
	lk    *txLock // PostgreSQL's writer lock, taken lazily (writer_lock.go); nil on SQLite
	ran   bool    // this request has run a statement
}

// Context returns the request's context.
func (t *Tx) Context() context.Context { return t.ctx }

// Exec runs a statement in the transaction.
func (t *Tx) Exec(query string, args ...any) (sql.Result, error) {
	st, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(t.ctx, args...)
}

// stmt returns the transaction's statement for query, in the engine's spelling.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if err := t.lockFor(query); err != nil {
		return nil, err
	}
	query = t.w.d.sql(query)
	st, ok := t.stmts[query]
	if !ok {
		if p := t.w.prepared[query]; p != nil {
			st = t.tx.StmtContext(t.ctx, p) // reuses the statement already compiled on this connection
		} else {
			var err error
			if st, err = t.tx.PrepareContext(t.ctx, query); err != nil {
				return nil, fmt.Errorf("prepare %q: %w", query, err)
			}
			if cacheable(query) {
				t.w.wanted[query] = true
			}
		}
		t.stmts[query] = st
	}
	return st, nil
}

// QueryRow runs a query that returns at most one row. Its statement is cached like Exec's.
func (t *Tx) QueryRow(query string, args ...any) *sql.Row {
	st, err := t.stmt(query)
	if errors.Is(err, errNeedExclusive) {
		// Not run: the writer starts this request over in a transaction of its own.
		return t.tx.QueryRowContext(t.ctx, `SELECT 1 WHERE false`)
	}
	if err != nil {
		// *sql.Row carries no error of its own making: run the query unprepared, which fails
		// the same way and reports it at Scan.
		return t.tx.QueryRowContext(t.ctx, t.w.d.sql(query), args...)
	}
	return st.QueryRowContext(t.ctx, args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	if err := t.lockFor(query); err != nil {
		return nil, err
	}
	return t.tx.QueryContext(t.ctx, t.w.d.sql(query), args...)
}

// newWriter starts a writer with one lane per connection in dbs, and an express lane on
// express unless it is nil (addExpressLane).
func newWriter(dbs []*sql.DB, express *sql.DB, d *dialect, max int, log *slog.Logger, walPath string, walLimit int64, walFrames *atomic.Int64, frameBytes int64) *Writer {
	w := &Writer{d: d, reqs: make(chan *writeReq, max*4), max: max, log: log, stopped: make(chan struct{}),
		walPath: walPath, walLimit: walLimit, walFrames: walFrames, frameBytes: frameBytes}
	for _, db := range dbs {
		l := &lane{Writer: w, db: db, reqs: w.reqs, prepared: map[string]*sql.Stmt{}, wanted: map[string]bool{}, exclusiveFns: map[uintptr]bool{}}
		w.lanes.Add(1)
		go l.loop()
	}
	if express != nil {
		w.addExpressLane(express)
	}
	go func() {
		w.lanes.Wait()
		close(w.stopped)
	}()
	return w
}

// addExpressLane gives the writer one more lane, on db, that commits only the requests sent
// with DoExpress (or an express piped write) and leaves the others to the rest. A rescoring
// round waits for its listeners' writes and then for its scores: in the one queue each waited
// behind every delivery queued before it (measured with 3 replicas under load: 50–150 ms a
// write, most of a round). Only for an engine whose writes commit concurrently (PostgreSQL's
// lanes).
func (w *Writer) addExpressLane(db *sql.DB) {
	w.express = make(chan *writeReq, w.max)
	l := &lane{Writer: w, db: db, reqs: w.express, prepared: map[string]*sql.Stmt{}, wanted: map[string]bool{}, exclusiveFns: map[uintptr]bool{}}
	w.lanes.Add(1)
	go l.loop()
}

// Queued returns the number of writes waiting for a transaction, on any lane.
func (w *Writer) Queued() int { return len(w.reqs) + len(w.express) }

// Do runs fn in a transaction shared with other waiting writes and returns once that
// transaction has committed (nil) or fn or the commit failed. If ctx ends while the request
// waits, Do returns ctx.Err(); the write may still commit later, which is why every write is
// idempotent on its natural key.
func (w *Writer) Do(ctx context.Context, fn func(*Tx) error) error {
	return w.submit(&writeReq{ctx: ctx, fn: fn, pc: reflect.ValueOf(fn).Pointer(), done: make(chan error, 1)})
}

// DoExpress is Do on the express lane where there is one (PostgreSQL), so that the write does
// not wait behind the deliveries queued before it; elsewhere it is Do. For the few writes a
// worker's round waits for, not for a stream of them: the lane is one connection.
func (w *Writer) DoExpress(ctx context.Context, fn func(*Tx) error) error {
	return w.submit(&writeReq{ctx: ctx, fn: fn, pc: reflect.ValueOf(fn).Pointer(), express: true, done: make(chan error, 1)})
}

// Checkpoint runs PRAGMA wal_checkpoint(mode) between batches. PostgreSQL checkpoints
// itself: there it does nothing.
func (w *Writer) Checkpoint(ctx context.Context, mode string) error {
	if w.d != sqliteDialect {
		return nil
	}
	return w.submit(&writeReq{ctx: ctx, done: make(chan error, 1), solo: func(ctx context.Context, db *sql.DB) error {
		_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(`+mode+`)`)
		return err
	}})
}

func (w *Writer) submit(r *writeReq) error {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	q := w.reqs
	if r.express && w.express != nil {
		q = w.express
	}
	select {
	case q <- r:
		w.mu.RUnlock()
	case <-r.ctx.Done():
		w.mu.RUnlock()
		return r.ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// close stops accepting writes, commits everything already queued and stops the loop.
func (w *Writer) close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.stopped
		return
	}
	w.closed = true
	close(w.reqs)
	if w.express != nil {
		close(w.express)
	}
	w.mu.Unlock()
	<-w.stopped
}

func (w *lane) loop() {
	defer w.lanes.Done()
	batch := make([]*writeReq, 0, w.max)
	var solos []*writeReq
	for r := range w.reqs {
		if r.solo != nil {
			r.done <- r.solo(r.ctx, w.db)
			continue
		}
		batch = append(batch[:0], r)
	fill:
		for len(batch) < w.max {
			select {
			case r2, ok := <-w.reqs:
				if !ok {
					break fill
				}
				if r2.solo != nil {
					solos = append(solos, r2) // runs after this batch commits
					break fill
				}
				batch = append(batch, r2)
			default:
				break fill
			}
		}
		start := time.Now()
		w.commit(batch)
		if fn := w.onBatch.Load(); fn != nil {
			(*fn)(len(batch), time.Since(start), len(w.reqs))
		}
		// The requests just committed were woken onto this goroutine's processor; yielding
		// lets them answer their clients now instead of after the next transaction, and the
		// next batch collects what arrived meanwhile (measured: batches of 6 became 12, with
		// 5% more deploy events/s in the bench on 2 cores).
		runtime.Gosched()
		for _, s := range solos {
			s.done <- s.solo(s.ctx, w.db)
		}
		solos = solos[:0]
		w.prepareWanted()
		w.bound()
	}
	for _, st := range w.prepared {
		st.Close()
	}
}

// boundEvery is how often the writer looks at the WAL's size.
const boundEvery = 100 * time.Millisecond

// bound keeps the WAL from growing without end under sustained load. SQLite starts the WAL
// over only when a write begins after a checkpoint has copied every frame; the background
// checkpointer never gets there while commits keep coming (measured: a 1.3 GB WAL after 10 s
// at 7,000 events/s, and every page write then extends the file). Between two batches the
// writer holds no transaction, so a PASSIVE checkpoint here copies the last frames the
// background one has not (a few milliseconds' worth) and the next commit restarts the WAL.
// It waits for no reader: a reader that still needs old frames only delays the restart.
// A restarted WAL keeps its file size, so the file is only the first test: the frames of the
// current generation, as the last checkpoint counted them, must be past the limit too, or a
// quiet service that once had a burst would checkpoint (and fsync) every 100 ms for ever.
func (w *lane) bound() {
	if w.walLimit <= 0 || time.Since(w.lastBound) < boundEvery {
		return
	}
	w.lastBound = time.Now()
	if f := w.walFrames.Load(); f >= 0 && f*w.frameBytes < w.walLimit {
		return
	}
	st, err := os.Stat(w.walPath)
	if err != nil || st.Size() < w.walLimit {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, frames, copied int64
	if err := w.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		w.log.Warn("wal checkpoint to bound the wal", "err", err)
		return
	}
	w.walFrames.Store(frames)
	w.boundCheckpoints.Add(1)
}

// cacheable reports whether a statement can be compiled once and reused: data statements can,
// schema changes and transaction control cannot (they change or depend on the schema state).
func cacheable(query string) bool {
	q := strings.ToUpper(strings.TrimSpace(query))
	for _, p := range []string{"INSERT", "UPDATE", "DELETE", "SELECT", "REPLACE", "WITH"} {
		if strings.HasPrefix(q, p) {
			return true
		}
	}
	return false
}

// maxPrepared bounds the statement cache; the writer's queries are a small fixed set.
const maxPrepared = 128

func (w *lane) prepareWanted() {
	for q := range w.wanted {
		delete(w.wanted, q)
		if len(w.prepared) >= maxPrepared {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := w.db.PrepareContext(ctx, q)
		cancel()
		if err != nil {
			w.log.Warn("prepare statement", "err", err)
			continue
		}
		w.prepared[q] = st
	}
}

func (w *lane) commit(batch []*writeReq) {
	// The transaction is not tied to any one request's context: a client that hangs up must
	// not roll back the writes of the others in its batch.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var piped, rest []*writeReq
	for _, r := range batch {
		if r.pipe != nil {
			piped = append(piped, r)
		} else {
			rest = append(rest, r)
		}
	}
	if len(piped) == 0 {
		w.finish(batch, w.commitPart(ctx, batch, false), nil)
		return
	}
	// Requests of one batch arrived together from different callers: committing the piped
	// ones first orders nothing a caller relies on (a caller waits for one write before the next).
	errs, ok := w.commitPiped(ctx, piped)
	if ok {
		w.pipedBatches.Add(1)
	} else {
		w.pipedFallbacks.Add(1)
		errs = w.commitPart(ctx, piped, false)
	}
	w.finish(piped, errs, nil)
	if len(rest) > 0 {
		w.finish(rest, w.commitPart(ctx, rest, false), nil)
	}
}

// commitPart commits batch in one transaction, or in two when PostgreSQL's shared writer lock
// cannot cover it (writer_lock.go): the requests before the first that needs the exclusive
// lock, then the rest under it, in their order. exclusive takes the exclusive lock at once.
func (w *lane) commitPart(ctx context.Context, batch []*writeReq, exclusive bool) []error {
	if len(batch) == 0 {
		return nil
	}
	// First try the batch without savepoints: nearly every request succeeds, and two fewer
	// statements per request is most of the writer's overhead. If any request fails, the
	// whole attempt is rolled back and the batch is run again with a savepoint per request,
	// so that only the failing requests lose their writes. Write functions are re-runnable:
	// they only stage statements inside the transaction.
	if len(batch) > 1 {
		errs, ok, split, done := w.run(ctx, batch, false, exclusive)
		if split >= 0 {
			return w.splitAt(ctx, batch, errs, split, done)
		}
		if ok {
			return errs
		}
	}
	errs, _, split, done := w.run(ctx, batch, true, exclusive)
	if split >= 0 {
		return w.splitAt(ctx, batch, errs, split, done)
	}
	return errs
}

// splitAt commits batch[split:] under the exclusive lock after batch[:split], which run
// either committed already (done, errs their outcomes) or rolled back.
func (w *lane) splitAt(ctx context.Context, batch []*writeReq, errs []error, split int, done bool) []error {
	if !done {
		errs = w.commitPart(ctx, batch[:split], false)
	}
	return append(errs, w.commitPart(ctx, batch[split:], true)...)
}

// run executes the batch in one transaction. Without savepoints it gives up (ok=false, the
// transaction rolled back) at the first failing request; with savepoints it rolls back only
// that request and carries on. errs holds each request's outcome, including the commit's.
//
// split is the index of the first request that needs PostgreSQL's exclusive writer lock in a
// transaction that took the shared one, or -1 (writer_lock.go). If that request had run no
// statement, the requests before it are committed (done, errs theirs); otherwise the
// transaction is rolled back and the writer remembers that request's function.
func (w *lane) run(ctx context.Context, batch []*writeReq, savepoints, exclusive bool) (errs []error, ok bool, split int, done bool) {
	errs = make([]error, len(batch))
	fail := func(err error) ([]error, bool, int, bool) {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs, true, -1, false
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	single := len(batch) == 1
	lk, err := w.beginLock(ctx, tx, exclusive || (savepoints && !single))
	if err != nil {
		tx.Rollback() //nolint:errcheck
		return fail(err)
	}
	commitBefore := func(i int) ([]error, bool, int, bool) {
		if err := tx.Commit(); err != nil {
			for j := range errs[:i] {
				if errs[j] == nil {
					errs[j] = fmt.Errorf("commit: %w", err)
				}
			}
		}
		return errs[:i], true, i, true
	}
	stmts := map[string]*sql.Stmt{} // closed with the transaction
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if lk != nil && lk.mode != lockExclusive && w.exclusiveFns[r.pc] {
			if lk.mode == lockShared {
				return commitBefore(i)
			}
			if err := lk.take(lockExclusive); err != nil {
				tx.Rollback() //nolint:errcheck
				return fail(err)
			}
		}
		t := &Tx{ctx: ctx, tx: tx, stmts: stmts, w: w, lk: lk}
		if savepoints && !single {
			if _, err := t.Exec(`SAVEPOINT req`); err != nil {
				tx.Rollback() //nolint:errcheck
				return fail(fmt.Errorf("savepoint: %w", err))
			}
		}
		err := runSafely(r.fn, t)
		if lk != nil && lk.need {
			if !t.ran {
				return commitBefore(i)
			}
			w.exclusiveFns[r.pc] = true
			tx.Rollback() //nolint:errcheck
			return nil, false, i, false
		}
		if err != nil {
			errs[i] = err
			if !savepoints {
				tx.Rollback() //nolint:errcheck
				return nil, false, -1, false
			}
			if single {
				tx.Rollback() //nolint:errcheck
				return errs, true, -1, false
			}
			if _, rerr := t.Exec(`ROLLBACK TO req`); rerr != nil {
				tx.Rollback() //nolint:errcheck
				return fail(fmt.Errorf("rollback to savepoint: %w", rerr))
			}
		}
		if savepoints && !single {
			if _, err := t.Exec(`RELEASE req`); err != nil {
				tx.Rollback() //nolint:errcheck
				return fail(fmt.Errorf("release savepoint: %w", err))
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return errs, true, -1, false
}

func (w *Writer) finish(batch []*writeReq, errs []error, _ error) {
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// runSafely turns a panic in a write function into that request's error, so one bad request
// cannot take down the writer and every request waiting on it.
func runSafely(fn func(*Tx) error, t *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("write function panicked: %v", p)
		}
	}()
	return fn(t)
}
