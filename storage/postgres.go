package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/pgxlisten"
)

// pgState is what a PostgreSQL database holds beside the shared parts of DB.
type pgState struct {
	readPool, writePool *pgxpool.Pool
	conn                *pgx.ConnConfig // for the listening connection
	channel             string          // this schema's NOTIFY channel
	lockHeld            string          // pg_locks condition: a hold on the writer lock (idHorizons)
	log                 *slog.Logger

	mu      sync.Mutex
	pending map[string]bool // topics announced without a payload, folded
	queued  []string        // "topic payload", each sent
	kick    chan struct{}

	cancel     context.CancelFunc
	listenDone chan struct{}
	sendDone   chan struct{}
}

// OpenPostgres connects to the PostgreSQL database at url, applies pending migrations under
// an advisory lock (replicas starting together take turns) and starts the writer, the
// indexer and the listener. While the server does not answer it retries with backoff for
// opts.ConnectRetry, logging each failure with the server's address.
//
// Tables live in the connection's current schema (search_path), so one database can hold
// several installations; the writer lock and the NOTIFY channel are derived from the schema.
func OpenPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	opts.defaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message can quote the URL, password included: say only what is wrong.
		return nil, fmt.Errorf("storage.postgres_url is not a valid PostgreSQL URL or DSN: %s", redactParseError(err))
	}
	where := pgWhere(cfg.ConnConfig)
	n := int32(max(4, 2*runtime.GOMAXPROCS(0)))
	cfg.MaxConns = n
	cfg.ConnConfig.RuntimeParams["application_name"] = "releaseops"
	// A replica that hangs inside a transaction must not hold the writer lock for ever.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "30000"
	readPool, err := connectRetry(ctx, cfg, where, opts)
	if err != nil {
		return nil, err
	}
	wcfg := cfg.Copy()
	wcfg.MaxConns = int32(pgLanes) + 2 // the writer's lanes, its express lane, and one for migrating and leases at start
	writePool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		readPool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
	}
	read := stdlib.OpenDBFromPool(readPool)
	read.SetMaxOpenConns(int(n))
	read.SetMaxIdleConns(int(n))
	write := stdlib.OpenDBFromPool(writePool)
	write.SetMaxOpenConns(pgLanes + 1)
	write.SetMaxIdleConns(pgLanes + 1)
	fail := func(err error) (*DB, error) {
		read.Close()
		write.Close()
		readPool.Close()
		writePool.Close()
		return nil, err
	}
	var schema string
	if err := write.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil || schema == "" {
		if err == nil {
			err = errors.New("no current schema: the search_path names no existing schema")
		}
		return fail(fmt.Errorf("open PostgreSQL at %s: %w", where, err))
	}
	key := lockKey(schema)
	d := *postgresDialect
	d.batchLock = "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(key, 10) + ")"
	d.sharedLock = "SELECT pg_advisory_xact_lock_shared(" + strconv.FormatInt(key, 10) + ")"
	lock, unlock := "SELECT pg_advisory_lock("+strconv.FormatInt(key+1, 10)+")", "SELECT pg_advisory_unlock("+strconv.FormatInt(key+1, 10)+")"
	if err := migrateOn(ctx, write, &d, lock, unlock); err != nil {
		return fail(fmt.Errorf("open PostgreSQL at %s: %w", where, err))
	}
	pg := &pgState{readPool: readPool, writePool: writePool, conn: cfg.ConnConfig.Copy(), channel: "releaseops_" + strconv.FormatUint(uint64(key)&0xffffffff, 16), lockHeld: pgLockHeld(key),
		log: opts.Logger, pending: map[string]bool{}, kick: make(chan struct{}, 1), listenDone: make(chan struct{}), sendDone: make(chan struct{})}
	db := &DB{d: &d, path: where, read: read, write: write, log: opts.Logger, stop: make(chan struct{}),
		done: make(chan struct{}), indexDone: make(chan struct{}), holder: opts.Holder, pg: pg}
	close(db.done) // no checkpointer
	db.walFrames.Store(-1)
	lanes := make([]*sql.DB, pgLanes)
	for i := range lanes {
		lanes[i] = write // one pool: each lane holds one of its connections at a time
	}
	db.Writer = newWriter(lanes, write, &d, opts.MaxBatch, opts.Logger, "", 0, &db.walFrames, 0)
	lctx, cancel := context.WithCancel(context.Background())
	pg.cancel = cancel
	go db.listen(lctx)
	go pg.sendLoop(lctx, read, db.holder)
	db.start(opts)
	return db, nil
}

// pgLanes is how many transactions one replica's writer runs at once. Batches of deliveries
// commit concurrently under the shared writer lock and share the server's WAL flushes; the
// rest serialize on the exclusive lock whatever the number. Fewer lanes make larger batches,
// and each batch has a fixed cost (the lock, the commit's WAL record and flush, the NOTIFY):
// with 3 replicas on 2 cores (BENCHMARKS.md), 4 lanes committed 2.2 deliveries a batch and
// reached 47.7–51.5% of the verify-and-commit ceiling, 2 lanes 3.6 a batch and 53.8–54.0%,
// 1 lane 5.6 and 54.0–57.6%. Two, so that a transaction waiting for the exclusive lock (a
// gate decision, an approval) does not hold every delivery of its replica behind it.
const pgLanes = 2

// connectRetry connects and pings, retrying with backoff (0.5 s doubling to 10 s) for
// opts.ConnectRetry.
func connectRetry(ctx context.Context, cfg *pgxpool.Config, where string, opts Options) (*pgxpool.Pool, error) {
	deadline := time.Now().Add(opts.ConnectRetry)
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = pool.Ping(pctx)
			cancel()
			if err == nil {
				return pool, nil
			}
			pool.Close()
		}
		err = fmt.Errorf("connect to PostgreSQL at %s: %w", where, err)
		if time.Now().Add(wait).After(deadline) || ctx.Err() != nil {
			return nil, err
		}
		opts.Logger.Warn("PostgreSQL is not answering; retrying", "server", where, "attempt", attempt, "retry_in", wait.String(), "err", err)
		if !sleepCtx(ctx, wait) {
			return nil, err
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// pgWhere names the server and database for messages, without credentials.
func pgWhere(c *pgx.ConnConfig) string {
	host := c.Host
	if strings.HasPrefix(host, "/") {
		return host + "/" + c.Database // a socket directory
	}
	return net.JoinHostPort(host, strconv.Itoa(int(c.Port))) + "/" + c.Database
}

func redactParseError(err error) string {
	// pgx says "cannot parse `<the string>`: <why>"; its redaction of the string is best
	// effort, so keep only the why.
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return msg[i+3:]
	}
	if strings.Contains(msg, "://") || strings.Contains(msg, "password") {
		return "cannot parse it"
	}
	return msg
}

// lockKey is the advisory lock of one schema's writer: every write transaction takes it
// before its first statement, shared when it only stores deliveries, exclusive otherwise
// (writer_lock.go). That keeps what SQLite's single writer guarantees and the rest of the code
// relies on: whoever follows ids can get a horizon below which every id is committed or
// rolled back (the rescoring feed and the indexer would otherwise skip a lower id that
// committed after a higher one), the audit chain is appended by one transaction at a time and
// never forks, and a conditional update decides between concurrent clicks. Each replica still
// commits in groups, so the lock is taken once per batch, not once per request.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("releaseops writer:" + schema))
	return int64(h.Sum64() &^ 1) // even: key+1 is the migration lock
}

// announce marks topic to be sent by the send loop.
func (pg *pgState) announce(topic, payload string) {
	pg.mu.Lock()
	if payload == "" {
		pg.pending[topic] = true
	} else {
		pg.queued = append(pg.queued, topic+" "+payload)
	}
	pg.mu.Unlock()
	select {
	case pg.kick <- struct{}{}:
	default:
	}
}

// sendLoop sends pending announcements as NOTIFY, one statement per topic per round: under
// load, the announcements of many commits share one notification. Rounds are at least
// notifySpacing apart.
func (pg *pgState) sendLoop(ctx context.Context, db *sql.DB, holder string) {
	defer close(pg.sendDone)
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-pg.kick:
		}
		if wait := notifySpacing - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		pg.mu.Lock()
		msgs := make([][2]string, 0, len(pg.pending)+len(pg.queued))
		for t := range pg.pending {
			msgs = append(msgs, [2]string{t, ""})
		}
		for _, q := range pg.queued {
			t, p, _ := strings.Cut(q, " ")
			msgs = append(msgs, [2]string{t, p})
		}
		clear(pg.pending)
		pg.queued = pg.queued[:0]
		pg.mu.Unlock()
		if len(msgs) == 0 {
			continue
		}
		// All in one statement: one round trip however many topics (a gate decision announces
		// two or three). PostgreSQL delivers them in order and folds only identical ones,
		// which wake their subscribers alike.
		payloads := make([]string, len(msgs))
		for i, m := range msgs {
			payloads[i] = m[0] + " " + holder + " " + m[1]
		}
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := db.ExecContext(nctx, `SELECT pg_notify($1, p) FROM unnest($2::text[]) WITH ORDINALITY AS x(p, n) ORDER BY n`, pg.channel, payloads)
		cancel()
		if err != nil && ctx.Err() == nil {
			// The workers' own polling picks the change up; a lost wake only delays it.
			pg.log.Warn("notify other replicas", "topics", len(msgs), "err", err)
		}
	}
}

// notifySpacing is the least time between two of a replica's NOTIFY statements. Sent back
// to back, three replicas taking 1,000 deliveries a second each sent 763 a second together,
// each waking every other replica's listening connection and a server backend per listener. With 20 ms
// they took 56–66% of the verify-and-commit ceiling (p99 54–59 ms), with 50 ms 64–66% (p99
// 49–51 ms; BENCHMARKS.md). A wake that waits up to 50 ms costs nothing the workers notice:
// rescoring rounds are 250 ms apart, and the outbox and approval loops are woken, not timed.
const notifySpacing = 50 * time.Millisecond

// listen keeps a connection LISTENing on the schema's channel (pgxlisten reconnects it) and
// wakes the local subscribers of each topic announced by another replica.
func (db *DB) listen(ctx context.Context) {
	defer close(db.pg.listenDone)
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			return pgx.ConnectConfig(cctx, db.pg.conn)
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				db.log.Warn("listen for other replicas' commits", "err", err)
			}
		},
		ReconnectDelay: time.Second,
	}
	l.Handle(db.pg.channel, listenHandler{db: db})
	l.Listen(ctx) //nolint:errcheck // returns only when ctx ends
}

type listenHandler struct{ db *DB }

func (h listenHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	topic, rest, _ := strings.Cut(n.Payload, " ")
	from, payload, _ := strings.Cut(rest, " ")
	if from != h.db.holder { // this process woke its own workers when it announced
		h.db.wakeLocal(topic, payload)
	}
	return nil
}

// HandleBacklog runs when the listening connection is (re)established: whatever was announced
// while it was down is unknown, so every worker looks.
func (h listenHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.db.wakeAll()
	return nil
}

func (db *DB) closePostgres() error {
	db.pg.cancel()
	<-db.pg.listenDone
	<-db.pg.sendDone
	rerr := db.read.Close()
	werr := db.write.Close()
	db.pg.readPool.Close()
	db.pg.writePool.Close()
	if err := errors.Join(werr, rerr); err != nil {
		return fmt.Errorf("close %s: %w", db.path, err)
	}
	return nil
}
