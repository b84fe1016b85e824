package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL every write transaction takes the schema's writer lock (an advisory
// transaction lock, see lockKey) before its first statement, in one of two modes:
//
//   - shared, when that statement is in sharedStatements: storing a delivery (the delivery,
//     its facts, a discovered service), the rescoring worker's scores, the indexer's rows and
//     the workers' cursors, the outbox's insert and update. These take
//     their ids and commit concurrently, across replicas and lanes, and share WAL flushes as
//     independent connections do. None needs another transaction's writes ordered before
//     its own: dedupe is the unique key's (it decides between two replicas inserting one
//     delivery), scores are upserts by service, each cursor has one writer under its lease,
//     and the outbox's sender takes each target's lowest waiting id afresh. (Leases take no
//     writer lock: each is one statement committed alone, see acquireLeaseSQL.)
//   - exclusive, for anything else: the audit chain, approvals and votes, the gate's records,
//     sync runs: one transaction at a time in the whole cluster, as before.
//
// What follows ids (the indexer, the rescoring feed, the tail readers) needs every id at or
// below a horizon to be committed or rolled back, though lower ids may commit after higher
// ones now. idHorizons gets one without taking the lock: the last id handed out, once the
// transactions that held the lock at that moment have ended. The indexer moves rows only up
// to it (its cursor is then the tail readers' horizon too), and the feed reads only up to it.
// The indexer and the scores then run under the shared lock too; exclusive transactions are
// the gate's, approvals', the audit chain's and sync's.
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
	insertDeliverySQL:      true,
	insertDeliveryPGSQL:    true,
	insertFactSQL:          true,
	recordDiscoveredSQL:    true,
	putScoresPGSQL:         true,
	putScoreSQL:            true,
	indexFactsSQL:          true,
	indexDeliveriesSQL:     true,
	readIndexFactsSQL:      true,
	readIndexDeliveriesSQL: true,
	putHistorySQL:          true,
	setCursorSQL:           true,
	insertOutboxSQL:        true,
	insertOutboxesPGSQL:    true,
	updateOutboxSQL:        true,
	foldOutboxSQL:          true,
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

// idHorizons are ids at or below which every fact and every delivery id is committed or
// rolled back.
type idHorizons struct{ facts, deliveries int64 }

// idHorizons reads the horizons without taking the writer lock, so that no writer waits for
// it. Every transaction takes the writer lock (shared or exclusive) before its first statement,
// hence before it takes an id, and holds it until it has committed and its rows are visible.
// So: read the last id each sequence has handed out, then the transactions holding the lock
// (in that order, in one round trip); once all of those have ended, every id up to the last
// ones read is final: a transaction that took one of them either had ended already or held
// the lock when the holders were read. The wait is for the commits in flight, milliseconds.
func (db *DB) idHorizons(ctx context.Context) (idHorizons, error) {
	var h idHorizons
	// Through the read pool's database/sql handle: its idle connections are the pgx pool's,
	// so a connection taken from the pgx pool directly could wait for ever.
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return h, fmt.Errorf("id horizon: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		res, err := c.PgConn().Exec(ctx, `SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence('facts', 'id')::regclass), 0),
				coalesce(pg_sequence_last_value(pg_get_serial_sequence('deliveries', 'id')::regclass), 0);
			SELECT virtualtransaction FROM pg_locks WHERE `+db.pg.lockHeld).ReadAll()
		if err != nil {
			return err
		}
		if len(res) != 2 || len(res[0].Rows) != 1 || len(res[0].Rows[0]) != 2 {
			return fmt.Errorf("unexpected answer (%d results)", len(res))
		}
		if h.facts, err = strconv.ParseInt(string(res[0].Rows[0][0]), 10, 64); err == nil {
			h.deliveries, err = strconv.ParseInt(string(res[0].Rows[0][1]), 10, 64)
		}
		if err != nil || len(res[1].Rows) == 0 {
			return err
		}
		vx := make([]string, 0, len(res[1].Rows))
		for _, r := range res[1].Rows {
			vx = append(vx, "'"+strings.ReplaceAll(string(r[0]), "'", "")+"'")
		}
		wait := `SELECT count(*) FROM pg_locks WHERE ` + db.pg.lockHeld + ` AND virtualtransaction IN (` + strings.Join(vx, ", ") + `)`
		for pause := 500 * time.Microsecond; ; pause = min(2*pause, 20*time.Millisecond) {
			var n int64
			if err := c.QueryRow(ctx, wait).Scan(&n); err != nil {
				return fmt.Errorf("wait for the writers in flight: %w", err)
			}
			if n == 0 {
				return nil
			}
			if !sleepCtx(ctx, pause) {
				return fmt.Errorf("wait for the writers in flight: %w", ctx.Err())
			}
		}
	})
	if err != nil {
		return h, fmt.Errorf("id horizon: %w", err)
	}
	return h, nil
}

// pgLockHeld is the pg_locks condition of a granted hold, in any mode, on the writer lock
// key in the current database.
func pgLockHeld(key int64) string {
	u := uint64(key)
	return fmt.Sprintf(`locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND classid = %d AND objid = %d AND objsubid = 1 AND granted`, u>>32, u&0xffffffff)
}
