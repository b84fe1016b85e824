package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/server"
)

// CeilingAppName is the application_name of the PostgreSQL ceiling's connections, so that
// pg_stat_activity tells them from the product's ("releaseops").
const CeilingAppName = "releaseops-bench-ceiling"

// PGCeiling is the verify-and-commit ceiling on PostgreSQL: read the body, check its HMAC,
// INSERT the delivery row into PostgreSQL through a pgxpool, one transaction per request (no
// group commit, no writer lock: PostgreSQL's own concurrency and WAL flushing are all there
// is), answer 202 after the commit. Like Ceilings it is mounted on the product's own router
// (server.New), so that it runs behind the same http.Server and middleware as the webhooks.
type PGCeiling struct {
	pool     *pgxpool.Pool
	verifier *deploy.Source
	maxBody  int64
	explicit bool
}

// NewPGCeiling connects conns connections to url (its search_path picks the schema) and
// creates the ceiling's table there. explicit sends BEGIN, INSERT, COMMIT (three round trips);
// otherwise the INSERT is its own implicit transaction (one round trip, committed and flushed
// before the answer all the same).
func NewPGCeiling(ctx context.Context, url string, conns int, explicit bool, deploySecret string, maxBody int64) (*PGCeiling, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("ceiling: parse PostgreSQL URL: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = int32(conns), int32(conns)
	cfg.ConnConfig.RuntimeParams["application_name"] = CeilingAppName
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ceiling: connect to PostgreSQL: %w", err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_raw (
		delivery_id TEXT COLLATE "C" PRIMARY KEY, received_at BIGINT NOT NULL, body BYTEA NOT NULL)`); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ceiling: create table: %w", err)
	}
	// Open every connection now, not during the measured phase.
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = pool.Exec(ctx, `SELECT 1`)
		}()
	}
	wg.Wait()
	return &PGCeiling{pool: pool, verifier: deploy.New(deploySecret), maxBody: maxBody, explicit: explicit}, nil
}

// Mount adds the bare echo and the PostgreSQL verify-and-commit handler to e, at the paths
// the SQLite ceilings use.
func (c *PGCeiling) Mount(e *echo.Echo) {
	e.POST(EchoPath, echoCeiling(c.maxBody))
	e.POST(CommitPath, c.commit)
}

// Close closes the pool.
func (c *PGCeiling) Close() { c.pool.Close() }

// Count returns the rows the ceiling stored.
func (c *PGCeiling) Count(ctx context.Context) (int64, error) {
	var n int64
	err := c.pool.QueryRow(ctx, `SELECT count(*) FROM bench_raw`).Scan(&n)
	return n, err
}

func echoCeiling(maxBody int64) echo.HandlerFunc {
	return func(ec echo.Context) error {
		if _, err := server.ReadBody(ec, maxBody); err != nil {
			return err
		}
		return ec.JSON(http.StatusAccepted, map[string]string{"outcome": "stored"})
	}
}

const pgCeilingInsert = `INSERT INTO bench_raw (delivery_id, received_at, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`

func (c *PGCeiling) commit(ec echo.Context) error {
	id, body, err := verified(ec, c.maxBody, c.verifier)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ec.Request().Context(), 8*time.Second)
	defer cancel()
	now := time.Now().UnixMilli()
	if c.explicit {
		err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, pgCeilingInsert, id, now, body)
			return err
		})
	} else {
		_, err = c.pool.Exec(ctx, pgCeilingInsert, id, now, body)
	}
	if err != nil {
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "cannot store", Err: err}
	}
	return ec.JSON(http.StatusAccepted, map[string]string{"outcome": "stored"})
}

// RoundRobin sends each request to the next of Hosts (host:port), in turn, through Next:
// a load balancer without stickiness in front of several replicas. It counts each host's
// requests, and those answered in more than SlowOver when that is set (ByHost): a tail that
// comes from one replica (the one holding a lease, say) shows there.
type RoundRobin struct {
	Next     http.RoundTripper
	Hosts    []string
	SlowOver time.Duration
	n        atomic.Uint64
	once     sync.Once
	tally    []hostTally
}

type hostTally struct{ requests, slow atomic.Int64 }

// HostTally is one host's requests since the previous ByHost.
type HostTally struct {
	Host     string   `json:"host"`
	Requests int64    `json:"requests"`
	Slow     int64    `json:"slow"`             // headers received after more than SlowOver
	Leases   []string `json:"leases,omitempty"` // the leases the replica held at the end (the bench fills it in)
}

func (rr *RoundRobin) init() { rr.tally = make([]hostTally, len(rr.Hosts)) }

// RoundTrip implements http.RoundTripper.
func (rr *RoundRobin) RoundTrip(req *http.Request) (*http.Response, error) {
	rr.once.Do(rr.init)
	i := int((rr.n.Add(1) - 1) % uint64(len(rr.Hosts)))
	out := new(http.Request)
	*out = *req // a shallow copy: only the URL changes, and it is copied too
	u := *req.URL
	u.Host = rr.Hosts[i]
	out.URL, out.Host = &u, ""
	start := time.Now()
	resp, err := rr.Next.RoundTrip(out)
	rr.tally[i].requests.Add(1)
	if rr.SlowOver > 0 && err == nil && time.Since(start) > rr.SlowOver {
		rr.tally[i].slow.Add(1)
	}
	return resp, err
}

// ByHost returns each host's counts since the previous call, in Hosts order, and starts
// counting afresh.
func (rr *RoundRobin) ByHost() []HostTally {
	rr.once.Do(rr.init)
	out := make([]HostTally, len(rr.Hosts))
	for i, h := range rr.Hosts {
		out[i] = HostTally{Host: h, Requests: rr.tally[i].requests.Swap(0), Slow: rr.tally[i].slow.Swap(0)}
	}
	return out
}

// WithSearchPath returns the PostgreSQL URL or DSN base with its search_path set to schema.
func WithSearchPath(base, schema string) string {
	if strings.Contains(base, "://") {
		if u, err := url.Parse(base); err == nil {
			q := u.Query()
			q.Set("search_path", schema)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return base + " search_path=" + schema
}

// FreshSchema creates a new empty schema named prefix_<random> on the server at base and
// returns its name; drop removes it with everything in it.
func FreshSchema(ctx context.Context, base, prefix string) (schema string, drop func(context.Context) error, err error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	schema = prefix + "_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema %s: %w", schema, err)
	}
	drop = func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer c.Close(context.Background())
		_, err = c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		return err
	}
	return schema, drop, nil
}

// WaitShare is one kind of PostgreSQL backend state seen by PGActivity, as the mean number
// of backends in it.
type WaitShare struct {
	App      string  `json:"application_name"`
	State    string  `json:"state"` // active, idle in transaction, idle
	Wait     string  `json:"wait"`  // wait_event_type:wait_event, or "cpu" for active and not waiting
	Backends float64 `json:"mean_backends"`
}

// PGActivity samples pg_stat_activity of one database while a phase runs: how many of the
// product's and the ceiling's backends are, on average, running, waiting for a lock, for the
// WAL flush, or idle inside a transaction waiting for the client's next statement.
type PGActivity struct {
	conn    *pgx.Conn
	mu      sync.Mutex
	counts  map[[3]string]int
	samples int
	rtt     []time.Duration // each sample's query, a round trip to the server under the load
	stop    chan struct{}
	done    chan struct{}
}

// StartPGActivity connects to base and samples every interval until Stop.
func StartPGActivity(ctx context.Context, base string, every time.Duration) (*PGActivity, error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL for pg_stat_activity: %w", err)
	}
	a := &PGActivity{conn: conn, counts: map[[3]string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go a.loop(every)
	return a, nil
}

func (a *PGActivity) loop(every time.Duration) {
	defer close(a.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t0 := time.Now()
		rows, err := a.conn.Query(ctx, `SELECT application_name, coalesce(state, ''), coalesce(wait_event_type, ''), coalesce(wait_event, '')
			FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = current_database() AND pid <> pg_backend_pid()
			AND application_name IN ('releaseops', '`+CeilingAppName+`')`)
		if err != nil {
			cancel()
			continue
		}
		local := map[[3]string]int{}
		for rows.Next() {
			var app, state, typ, ev string
			if rows.Scan(&app, &state, &typ, &ev) != nil {
				continue
			}
			if state == "idle" {
				continue // between requests: not part of any transaction
			}
			w := typ + ":" + ev
			if typ == "" {
				w = "cpu (running, not waiting)"
			}
			local[[3]string{app, state, w}]++
		}
		rows.Close()
		took := time.Since(t0)
		cancel()
		a.mu.Lock()
		a.rtt = append(a.rtt, took)
		for k, v := range local {
			a.counts[k] += v
		}
		a.samples++
		a.mu.Unlock()
	}
}

// Stop ends the sampling and returns the mean backends in each state, largest first, and the
// median time of the sampling query: a round trip to the server, as loaded as it is.
func (a *PGActivity) Stop() ([]WaitShare, time.Duration) {
	close(a.stop)
	<-a.done
	a.conn.Close(context.Background())
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []WaitShare
	if a.samples == 0 {
		return nil, 0
	}
	rtt := append([]time.Duration(nil), a.rtt...)
	sort.Slice(rtt, func(i, j int) bool { return rtt[i] < rtt[j] })
	for k, v := range a.counts {
		out = append(out, WaitShare{App: k[0], State: k[1], Wait: k[2], Backends: float64(v) / float64(a.samples)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Backends > out[j].Backends })
	return out, Percentile(rtt, 0.5)
}

// PGCounters are cumulative server counters (pg_stat_wal, pg_stat_database), read before and
// after a phase: how many WAL flushes the commits needed, and how many commits there were.
// They are the whole server's (another session's commits count too).
type PGCounters struct {
	At        time.Time
	WALSyncs  int64 // pg_stat_wal.wal_sync: fsyncs of the WAL
	WALWrites int64
	WALBytes  float64
	Commits   int64 // pg_stat_database.xact_commit of the current database
}

// ReadPGCounters reads the counters through conn's server.
func ReadPGCounters(ctx context.Context, pool *pgxpool.Pool) (PGCounters, error) {
	c := PGCounters{At: time.Now()}
	err := pool.QueryRow(ctx, `SELECT w.wal_sync, w.wal_write, w.wal_bytes::float8, d.xact_commit
		FROM pg_stat_wal w, pg_stat_database d WHERE d.datname = current_database()`).Scan(&c.WALSyncs, &c.WALWrites, &c.WALBytes, &c.Commits)
	return c, err
}

// PGRates are PGCounters' rates between two readings.
type PGRates struct {
	WALSyncsPerSec float64 `json:"wal_syncs_per_second"`
	WALMBPerSec    float64 `json:"wal_mb_per_second"`
	CommitsPerSec  float64 `json:"commits_per_second"`
}

// RatesSince returns c's rates since before.
func (c PGCounters) RatesSince(before PGCounters) PGRates {
	el := c.At.Sub(before.At).Seconds()
	if el <= 0 {
		return PGRates{}
	}
	return PGRates{WALSyncsPerSec: float64(c.WALSyncs-before.WALSyncs) / el, WALMBPerSec: (c.WALBytes - before.WALBytes) / el / 1e6,
		CommitsPerSec: float64(c.Commits-before.Commits) / el}
}
