package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// On PostgreSQL every write transaction takes the schema's writer lock (an advisory
// transaction lock, see lockKey) before its first statement, in one of two modes:
//
//   - shared, when that statement only stores a delivery (the insert of a delivery, its facts
//     and a discovered service) or the rescoring worker's scores and cursor
//     and the outbox's insert and update, and a lease's upsert (sharedStatements). These take their ids and commit concurrently, across replicas, and
//     share WAL flushes as independent connections do. Dedupe needs no lock: the unique key
//     decides between two replicas inserting one delivery. Scores are upserts by service,
//     and each cursor has one writer, under its lease.
//   - exclusive, for anything else: the audit chain, approvals, the outbox, scores, leases,
//     cursors and the indexer run one transaction at a time in the whole cluster, as before.
//
// What follows ids (the indexer, the rescoring feed, the tail readers) needs every id at or
// below a horizon to be committed or rolled back. A transaction holding the exclusive lock has
// that for free: no shared holder is running, and the ones to come wait for it and take
// their ids after it (a sequence only moves up). So the indexer, which runs under the
// exclusive lock, reads max(id) as its horizon, and the rescoring feed takes the exclusive
// lock for the one statement that reads its horizon (FactsAfter).
//
// A transaction that took the shared lock and then meets a statement needing the exclusive
// one does not upgrade (two such transactions would deadlock): the statement is not run, and
// the writer commits the requests before that one under the shared lock and the rest under
// the exclusive lock, in order. If the request had run shared statements already, the
// transaction rolls back first and the writer remembers the request's write function, so
// that the next call of it starts under the exclusive lock.

// sharedStatements are the statements a transaction may run under the shared lock, as
// written in this package.
var sharedStatements = map[string]bool{
	insertDeliverySQL:                true,
	insertFactSQL:                    true,
	recordDiscoveredSQL:              true,
	putScoreSQL:                      true,
	putHistorySQL:                    true,
	setCursorSQL:                     true,
	insertOutboxSQL:                  true,
	updateOutboxSQL:                  true,
	releaseLeaseSQL:                  true,
	acquireLeaseSQL(postgresDialect): true,
}

// errNeedExclusive stops a request that needs the exclusive lock in a transaction that holds
// the shared one; the writer runs it again in a transaction of its own.
var errNeedExclusive = errors.New("storage: the statement needs the exclusive writer lock")

type lockMode int

const (
	lockNone lockMode = iota
	lockShared
	lockExclusive
)

// txLock is one transaction's hold on the writer lock.
type txLock struct {
	tx   *sql.Tx
	ctx  context.Context
	d    *dialect
	mode lockMode
	need bool // a request needed the exclusive lock under the shared one
}

// beginLock prepares a transaction's writer lock: nil on SQLite, whose single writer is its
// own lock; taken at once when exclusive, else at the first statement.
func (w *lane) beginLock(ctx context.Context, tx *sql.Tx, exclusive bool) (*txLock, error) {
	if w.d.batchLock == "" {
		return nil, nil
	}
	lk := &txLock{tx: tx, ctx: ctx, d: w.d}
	if exclusive {
		if err := lk.take(lockExclusive); err != nil {
			return nil, err
		}
	}
	return lk, nil
}

func (lk *txLock) take(m lockMode) error {
	q := lk.d.batchLock
	if m == lockShared {
		q = lk.d.sharedLock
	}
	if _, err := lk.tx.ExecContext(lk.ctx, q); err != nil {
		return fmt.Errorf("take the writer lock: %w", err)
	}
	lk.mode = m
	return nil
}

// lockFor takes the lock query needs before it runs, or reports errNeedExclusive.
func (t *Tx) lockFor(query string) error {
	lk := t.lk
	if lk == nil || lk.mode == lockExclusive {
		t.ran = true
		return nil
	}
	if lk.need {
		return errNeedExclusive
	}
	want := lockExclusive
	if sharedStatements[query] && lk.d.sharedLock != "" {
		want = lockShared
	}
	switch {
	case lk.mode == lockNone:
		if err := lk.take(want); err != nil {
			return err
		}
	case want == lockExclusive:
		lk.need = true
		return errNeedExclusive
	}
	t.ran = true
	return nil
}

// factsHorizon returns an id at or below which every fact id is committed or rolled back:
// the highest committed one, read right after taking the exclusive writer lock, in one
// implicit transaction (one round trip; a reader takes no transaction id and flushes no WAL).
// Its wait is for the commits in flight, a few milliseconds.
func (db *DB) factsHorizon(ctx context.Context) (int64, error) {
	c, err := db.pg.readPool.Acquire(ctx)
	if err != nil {
		return 0, fmt.Errorf("facts horizon: %w", err)
	}
	defer c.Release()
	res, err := c.Conn().PgConn().Exec(ctx, db.d.batchLock+`; SELECT coalesce(max(id), 0) FROM facts`).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("facts horizon: %w", err)
	}
	if len(res) != 2 || len(res[1].Rows) != 1 || len(res[1].Rows[0]) != 1 {
		return 0, fmt.Errorf("facts horizon: unexpected answer (%d results)", len(res))
	}
	h, err := strconv.ParseInt(string(res[1].Rows[0][0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("facts horizon: %w", err)
	}
	return h, nil
}
