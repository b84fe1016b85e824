package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// Lease timing. A replica that dies holding a lease loses it when the row expires; the others
// try every LeaseRetry, so the work moves within LeaseTTL + LeaseRetry (7 s) of the last
// renewal. The holder renews every LeaseTTL/3 and stops the work itself if it could not renew
// for LeaseTTL less a margin, measured from before its last successful renewal was sent — so
// it has stopped before any other replica can take the row.
const (
	LeaseTTL   = 6 * time.Second
	LeaseRetry = time.Second
	leaseStop  = LeaseTTL - 1500*time.Millisecond
)

// The leases of the work that runs on one replica at a time.
const (
	LeaseIndexer = "indexer"
	LeaseRescore = "rescore"
	LeaseOutbox  = "outbox"
	LeaseExpiry  = "approval-expiry"
	LeaseSync    = "sync"
	LeaseAnchor  = "audit-anchor"
)

type leaseSet struct {
	mu   sync.Mutex
	held map[string]int64 // name → token
}

func defaultHolder() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

// Holder is this process's name in lease rows.
func (db *DB) Holder() string { return db.holder }

// acquireLeaseSQL takes or renews a lease by one conditional upsert, timed by the database's
// clock. The upsert decides between replicas by itself (a second one waits for the row and
// re-checks the condition on the row the first wrote), so it needs no writer lock.
//
// It and releaseLeaseSQL run alone, each a transaction of its own (leaseWrite), never in a
// batch: every replica locks the lease rows (a try that fails locks the row too), so in
// batches under the shared writer lock they closed cycles that PostgreSQL broke only after
// deadlock_timeout (1 s), rolling a batch back: two leases tried in opposite orders, or a
// lease and a delivery sent to two replicas at once (TestNoDeadlockBetweenReplicas...).
// Alone, a lease statement waits for one row and holds no other.
func acquireLeaseSQL(d *dialect) string {
	return `INSERT INTO leases (name, holder, token, expires_at) VALUES (?1, ?2, 1, ` + d.nowMillis + ` + ?3)
			ON CONFLICT (name) DO UPDATE SET
				token = CASE WHEN leases.holder = excluded.holder THEN leases.token ELSE leases.token + 1 END,
				holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at < ` + d.nowMillis + `
			RETURNING token`
}

const releaseLeaseSQL = `DELETE FROM leases WHERE name = ? AND holder = ?`

// AcquireLease takes or renews the named lease for ttl. It returns the lease's token (raised
// each time the holder changes) and true when this process holds it now.
func (db *DB) AcquireLease(ctx context.Context, name string, ttl time.Duration) (token int64, held bool, err error) {
	// The write function may still run after Do has returned on ctx (the write is queued),
	// so it writes only its own variables, read once Do has succeeded.
	type result struct {
		token int64
		held  bool
	}
	res := &result{}
	err = db.leaseWrite(ctx, func(ctx context.Context, w *sql.DB) error {
		var r result
		err := w.QueryRowContext(ctx, db.d.sql(acquireLeaseSQL(db.d)), name, db.holder, ttl.Milliseconds()).Scan(&r.token)
		if errors.Is(err, sql.ErrNoRows) {
			*res = result{}
			return nil
		}
		if err != nil {
			return err
		}
		r.held = true
		*res = r
		return nil
	})
	if err != nil {
		return 0, false, fmt.Errorf("lease %s: %w", name, err)
	}
	token, held = res.token, res.held
	db.leases.mu.Lock()
	if db.leases.held == nil {
		db.leases.held = map[string]int64{}
	}
	if held {
		db.leases.held[name] = token
	} else {
		delete(db.leases.held, name)
	}
	db.leases.mu.Unlock()
	return token, held, nil
}

// ReleaseLease gives the lease up at once, if this process holds it.
func (db *DB) ReleaseLease(ctx context.Context, name string) error {
	db.leases.mu.Lock()
	delete(db.leases.held, name)
	db.leases.mu.Unlock()
	err := db.leaseWrite(ctx, func(ctx context.Context, w *sql.DB) error {
		_, err := w.ExecContext(ctx, db.d.sql(releaseLeaseSQL), name, db.holder)
		return err
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// leaseWrite runs fn through the writer, alone and outside any batch (see acquireLeaseSQL):
// on SQLite on the writer's connection between two batches, on PostgreSQL as one statement
// committed by itself.
func (db *DB) leaseWrite(ctx context.Context, fn func(context.Context, *sql.DB) error) error {
	return db.Writer.submit(&writeReq{ctx: ctx, solo: fn, done: make(chan error, 1)})
}

// HeldLeases returns the names of the leases this process holds, sorted.
func (db *DB) HeldLeases() []string {
	db.leases.mu.Lock()
	defer db.leases.mu.Unlock()
	out := make([]string, 0, len(db.leases.held))
	for n := range db.leases.held {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LeaseRow is a lease as stored.
type LeaseRow struct {
	Name      string    `json:"name"`
	Holder    string    `json:"holder"`
	Token     int64     `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Leases lists every lease row, by name.
func (db *DB) Leases(ctx context.Context) ([]LeaseRow, error) {
	rows, err := db.query(ctx, `SELECT name, holder, token, expires_at FROM leases ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	var out []LeaseRow
	for rows.Next() {
		var r LeaseRow
		var at int64
		if err := rows.Scan(&r.Name, &r.Holder, &r.Token, &at); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		r.ExpiresAt = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// releaseLeases gives up every lease at Close, so that another replica takes the work over at
// its next try instead of after the TTL.
func (db *DB) releaseLeases() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, n := range db.HeldLeases() {
		if err := db.ReleaseLease(ctx, n); err != nil {
			db.log.Warn("release lease", "lease", n, "err", err)
		}
	}
}

// RunLeased runs fn while this process holds the named lease, until ctx ends. fn's context is
// cancelled when the lease is lost (it could not be renewed in time); fn must then return, and
// RunLeased goes back to trying. On SQLite, where one process owns the file, the first try
// succeeds and fn runs at once.
func (db *DB) RunLeased(ctx context.Context, name string, fn func(context.Context)) {
	for ctx.Err() == nil {
		sent := time.Now()
		_, held, err := db.AcquireLease(ctx, name, LeaseTTL)
		if err != nil && ctx.Err() == nil {
			db.log.Warn("acquire lease", "lease", name, "err", err)
		}
		if !held {
			if !sleepCtx(ctx, LeaseRetry) {
				return
			}
			continue
		}
		level := slog.LevelDebug // one process on a SQLite file holds every lease: no news
		if db.pg != nil {
			level = slog.LevelInfo
		}
		db.log.Log(ctx, level, "lease acquired", "lease", name, "holder", db.holder)
		db.holdWhile(ctx, name, sent, fn)
		if ctx.Err() == nil {
			db.log.Warn("lease lost", "lease", name, "holder", db.holder)
		}
	}
}

// holdWhile runs fn and renews the lease until fn returns, ctx ends or a renewal is late.
func (db *DB) holdWhile(ctx context.Context, name string, renewed time.Time, fn func(context.Context)) {
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(wctx)
	}()
	tick := time.NewTicker(LeaseTTL / 3)
	defer tick.Stop()
	late := time.NewTimer(time.Until(renewed.Add(leaseStop)))
	defer late.Stop()
	stop := func() {
		cancel()
		<-done
	}
	for {
		select {
		case <-done:
			cancel()
			return
		case <-ctx.Done():
			stop()
			return
		case <-late.C:
			// No renewal got through in time: the row may expire soon, so stop the work
			// before another replica can start it.
			stop()
			return
		case <-tick.C:
			sent := time.Now()
			// A renewal may not outlast the stop deadline: while it blocks, late cannot fire,
			// and the row could pass to another replica with the work still running here.
			deadline := renewed.Add(leaseStop)
			rctx, rcancel := context.WithDeadline(ctx, minTime(deadline, sent.Add(LeaseTTL/3)))
			_, held, err := db.AcquireLease(rctx, name, LeaseTTL)
			rcancel()
			switch {
			case err == nil && held:
				renewed = sent
				late.Reset(time.Until(renewed.Add(leaseStop)))
			case err == nil:
				stop() // another replica holds it
				return
			case !time.Now().Before(deadline):
				db.log.Warn("renew lease: giving the work up", "lease", name, "err", err)
				stop()
				return
			default:
				db.log.Warn("renew lease", "lease", name, "err", err)
			}
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
