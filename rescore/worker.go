// Package rescore keeps every service's scorecard current. It follows the facts table in id
// order from a saved cursor, so a crash loses nothing: after a restart it resumes where the
// last committed rescore stopped. Scoring itself is pure (package scoring); this package does
// the I/O around it: load facts, store the scorecard and its history, record regressions.
package rescore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const cursorName = "rescore"

// Listener is told about newly committed facts before the rescore that includes them is
// saved. It may run again for the same facts after a crash, so it must be idempotent.
type Listener func(ctx context.Context, facts []storage.StoredFact)

// Observer receives the worker's measurements (metrics).
type Observer interface {
	Rescored(service string, took time.Duration)
	// Lag is the time from the first commit a round covers to that round's scores being
	// stored: how stale a score can be.
	Lag(d time.Duration)
}

// RegressionFunc records a regression; it runs after the new score is stored.
type RegressionFunc func(ctx context.Context, reg *scoring.Regression, card *scoring.Scorecard) error

// Worker rescoring services. Start it with Run; wake it with Wake after a commit.
type Worker struct {
	DB         *storage.DB
	Catalog    *catalog.Catalog
	Engine     *scoring.Engine
	Scoring    scoring.Config
	Now        func() time.Time
	Log        *slog.Logger
	Observer   Observer
	Listeners  []Listener
	Regression RegressionFunc
	// Stored, if set, is called after a round's scores and cursor are stored: the app wakes
	// the outbox with it, whose release-notes jobs wait for exactly that.
	Stored func()
	// Waivers, if set, returns the waivers granted at runtime (approved exemptions) in force
	// at now, by service. It is read once per round.
	Waivers func(ctx context.Context, now time.Time) (map[string][]scoring.GrantedWaiver, error)
	// BatchFacts caps the facts read per round.
	BatchFacts int
	// CacheFacts caps the facts held in memory across services (about 1 KB each with their
	// scoring index). A service is cached when loaded if there is room or an idle service to
	// evict; when cached services grow past the cap, the least recently scored are evicted.
	CacheFacts int
	// MinInterval is the shortest time between two rounds. Under a burst every commit wakes
	// the worker; spacing the rounds lets one rescore of a hot service cover many events, so
	// rescoring cannot starve ingestion of CPU. A score still reflects an event within about
	// MinInterval plus one round. Default 500 ms; 250 ms on PostgreSQL, where a round is
	// mostly waiting for the server (each read and write a round trip) rather than CPU, so
	// that shorter spacing costs little and the lag is two rounds at most (measured with
	// 3 replicas under load: first commit to stored scores 820 → 705 ms mean, BENCHMARKS.md).
	MinInterval time.Duration

	wake chan struct{}
	once sync.Once
	// firstWake is the unix nanos of the oldest commit not yet covered by a stored round.
	firstWake atomic.Int64
	// running is set while Run owns the worker, so RescoreAll may interleave Steps.
	running atomic.Bool

	mu    sync.Mutex // guards cache, index and last (Run and RescoreAll may overlap)
	cache map[string][]releaseops.Fact
	// index holds the scoring index of each cached service, extended round after round
	// instead of rebuilt (scoring.Index); an entry is taken out while a score uses it.
	index  map[string]*scoring.Index
	used   map[string]time.Time // when each cached service was last scored
	cached int
	// noIdleBefore is a time before which no cached service can have been idle for cacheIdle:
	// the oldest use seen by the last scan, plus cacheIdle. Uses only move forward and new
	// entries are used now, so it stays a lower bound until the next scan.
	noIdleBefore time.Time
	last         map[string]summary
	settled      chan struct{}
}

type summary struct {
	score float64
	band  string
	level string
}

func (w *Worker) init() {
	w.once.Do(func() {
		w.wake = make(chan struct{}, 1)
		w.cache = map[string][]releaseops.Fact{}
		w.index = map[string]*scoring.Index{}
		w.used = map[string]time.Time{}
		w.last = map[string]summary{}
		w.settled = make(chan struct{}, 1)
		if w.BatchFacts <= 0 {
			w.BatchFacts = 5000
		}
		if w.CacheFacts <= 0 {
			w.CacheFacts = 150_000
		}
		if w.MinInterval <= 0 {
			w.MinInterval = 500 * time.Millisecond
			if w.DB != nil && w.DB.Driver() == storage.DriverPostgres {
				w.MinInterval = 250 * time.Millisecond
			}
		}
	})
}

// Wake asks the worker to look for new facts now. It never blocks.
func (w *Worker) Wake() {
	w.init()
	w.firstWake.CompareAndSwap(0, time.Now().UnixNano())
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Settled receives a value each time the worker has caught up with every committed fact.
func (w *Worker) Settled() <-chan struct{} {
	w.init()
	return w.settled
}

// Run follows new facts until ctx ends, and rescores every service each interval for
// signals that decay with time. It rescores all services once at start.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	w.running.Store(true)
	defer w.running.Store(false)
	interval := w.Scoring.RescoreInterval.Std()
	if interval <= 0 {
		interval = scoring.DefaultRescoreInterval
	}
	if err := w.RescoreAll(ctx); err != nil && ctx.Err() == nil {
		w.Log.Error("initial rescore", "err", err)
	}
	full := time.NewTicker(interval)
	defer full.Stop()
	poll := time.NewTicker(500 * time.Millisecond) // a safety net should a wake be missed
	defer poll.Stop()
	for {
		roundStart := time.Now()
		if err := w.catchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			w.Log.Error("rescore step", "err", err)
		}
		select {
		case w.settled <- struct{}{}:
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
			// Rounds start at least MinInterval apart, and at least twice their own length apart
			// when rounds get long (a flood into services with deep history): rescoring then
			// takes at most half of a core, and ingestion keeps the rest; scores lag more.
			// (Once their length on PostgreSQL: see spacing.)
			took := time.Since(roundStart)
			if wait := max(w.MinInterval, w.spacing()*took) - took; wait > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(wait):
				}
			}
		case <-poll.C:
		case <-full.C:
			if err := w.RescoreAll(ctx); err != nil && ctx.Err() == nil {
				w.Log.Error("periodic rescore", "err", err)
			}
		}
	}
}

// Step processes the facts committed since the cursor: listeners first, then one rescore per
// affected service, saved with the new cursor in one transaction. It returns how many facts
// it read.
func (w *Worker) Step(ctx context.Context) (int, error) {
	w.init()
	// Taken before reading, so a commit racing with this round keeps its own wake time.
	covered := w.firstWake.Swap(0)
	cursor, err := w.DB.Cursor(ctx, cursorName)
	if err != nil {
		w.firstWake.CompareAndSwap(0, covered)
		return 0, err
	}
	facts, err := w.DB.FactsAfter(ctx, cursor, w.BatchFacts)
	if err != nil || len(facts) == 0 {
		w.firstWake.CompareAndSwap(0, covered)
		return 0, err
	}
	// The listeners run while the round scores (they read the database, as scoring does) and
	// have finished before its scores are stored: they still hear of every fact first.
	heard := make(chan struct{})
	go func() {
		defer close(heard)
		for _, l := range w.Listeners {
			l(ctx, facts)
		}
	}()
	defer func() { <-heard }()
	byService := map[string][]releaseops.Fact{}
	for _, f := range facts {
		if f.Service != "" {
			byService[f.Service] = append(byService[f.Service], f.Fact)
		}
	}
	w.mu.Lock()
	for svc, fs := range byService {
		if c, ok := w.cache[svc]; ok {
			w.cache[svc] = append(c, fs...)
			w.cached += len(fs)
		}
	}
	w.shrinkCache()
	w.mu.Unlock()
	names := make([]string, 0, len(byService))
	for n := range byService {
		names = append(names, n)
	}
	sort.Strings(names)
	newCursor := facts[len(facts)-1].ID
	if err := w.rescore(ctx, names, &newCursor, heard); err != nil {
		w.firstWake.CompareAndSwap(0, covered)
		return 0, err
	}
	if covered > 0 && w.Observer != nil {
		w.Observer.Lag(time.Since(time.Unix(0, covered)))
	}
	return len(facts), nil
}

// RescoreAll rescores every known service: catalogued, discovered, and any with facts. It
// works in chunks and, when run by the worker, catches up with newly committed events between
// chunks, so a full rescore of a large catalog never delays fresh scores.
func (w *Worker) RescoreAll(ctx context.Context) error {
	w.init()
	names := w.Catalog.Names()
	const chunk = 200 // bounded transactions: ingestion keeps flowing between chunks
	for i := 0; i < len(names); i += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.rescore(ctx, names[i:min(i+chunk, len(names))], nil, nil); err != nil {
			return err
		}
		if w.running.Load() && w.firstWake.Load() != 0 {
			if err := w.catchUp(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// RescoreNames rescores the named services now, whether or not they have new facts: a sync
// that read them changed their coverage (last read, failing), which the card shows.
func (w *Worker) RescoreNames(ctx context.Context, names []string) error {
	w.init()
	const chunk = 200
	for i := 0; i < len(names); i += chunk {
		if err := w.rescore(ctx, names[i:min(i+chunk, len(names))], nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// catchUp processes every committed fact not yet covered.
func (w *Worker) catchUp(ctx context.Context) error {
	for {
		n, err := w.Step(ctx)
		if err != nil || n < w.BatchFacts {
			return err
		}
	}
}

type pending struct {
	row      storage.ScoreRow
	snapshot bool
	reg      *scoring.Regression
	card     *scoring.Scorecard
}

// rescore scores the services and stores the results (and the cursor, if given) atomically.
// heard, if not nil, is closed once the listeners have heard of the round's facts; the scores
// are stored after that.
func (w *Worker) rescore(ctx context.Context, names []string, cursor *int64, heard <-chan struct{}) error {
	now := w.Now().UTC()
	var granted map[string][]scoring.GrantedWaiver
	if w.Waivers != nil {
		var err error
		if granted, err = w.Waivers(ctx, now); err != nil {
			return fmt.Errorf("read granted waivers: %w", err)
		}
	}
	pre, err := w.DB.RescoreInputs(ctx, names, now.Add(-w.trendWindow()))
	if err != nil {
		return fmt.Errorf("read rescore inputs: %w", err)
	}
	out, err := w.scoreAll(ctx, names, now, cursor != nil, granted, pre)
	if err != nil {
		return err
	}
	if heard != nil {
		<-heard
	}
	if err := w.store(ctx, out, cursor); err != nil {
		return fmt.Errorf("store scores: %w", err)
	}
	w.mu.Lock()
	for _, p := range out {
		w.last[p.row.Service] = summary{p.row.Score, p.row.Band, p.row.Level}
	}
	w.mu.Unlock()
	if cursor != nil && w.Stored != nil {
		w.Stored()
	}
	for _, p := range out {
		if p.reg != nil && w.Regression != nil {
			if err := w.Regression(ctx, p.reg, p.card); err != nil {
				w.Log.Error("record regression", "service", p.reg.Service, "err", err)
			}
		}
	}
	return nil
}

// store saves a round's scorecards and, if given, the cursor that moves with them.
//
// On PostgreSQL the whole round is one piped write (storage.Writer.StoreScores) on the
// writer's express lane: one round trip, under the shared writer lock that deliveries take
// too, not queued behind them. On SQLite the cards are stored a few at a time:
// each transaction there holds the only writer, with webhooks waiting for their commit, so a
// round of large cards must not hold it in one piece. The cursor moves with the last chunk;
// a crash before it only repeats the round.
func (w *Worker) store(ctx context.Context, out []pending, cursor *int64) error {
	if w.DB.Driver() == storage.DriverPostgres {
		rows, snap := rowsOf(out)
		return w.DB.Writer.StoreScores(ctx, rows, snap, cursorName, cursor)
	}
	const perTx = 16
	for i := 0; i < len(out) || (i == 0 && cursor != nil); i += perTx {
		chunk := out[i:min(i+perTx, len(out))]
		last := i+perTx >= len(out)
		err := w.DB.Writer.Do(ctx, func(t *storage.Tx) error {
			rows, snap := rowsOf(chunk)
			if err := storage.PutScores(t, rows, snap); err != nil {
				return err
			}
			if last && cursor != nil {
				return storage.SetCursor(t, cursorName, *cursor)
			}
			return nil
		})
		if err != nil || last {
			return err
		}
	}
	return nil
}

func rowsOf(out []pending) ([]storage.ScoreRow, []bool) {
	rows, snap := make([]storage.ScoreRow, len(out)), make([]bool, len(out))
	for i, p := range out {
		rows[i], snap[i] = p.row, p.snapshot
	}
	return rows, snap
}

// spacing is how many times its own length a long round waits before the next. On SQLite a
// round is CPU (local reads and scoring): twice its length keeps rescoring to half a core. On
// PostgreSQL most of a round is waiting for the server, and doubling it only doubled the
// score lag (BENCHMARKS.md): once is enough.
func (w *Worker) spacing() time.Duration {
	if w.DB.Driver() == storage.DriverPostgres {
		return 1
	}
	return 2
}

// parallel is how many services a round of n scores at once. A round is mostly CPU: a large
// one (a full rescore, a flood over a big catalog) takes one scorer per core, because its
// length is the score lag; a small one takes a scorer per smallRound services. Two scorers on a
// round of 50 services took both cores of a 2-core machine in bursts of tens of milliseconds,
// and every webhook arriving meanwhile waited (SQLite, --as-users: deploy p99 51–64 ms with
// two, 43–49 with one, score lag unchanged), while one scorer for every round doubled a full
// rescore of 10,000 services (BENCHMARKS.md). On PostgreSQL each scorer's reads wait for the
// network, so it takes as many per core: 4 per core when a round reads every service from the
// database (cacheable false: a full rescore), one per core per smallRound services otherwise
// (3 replicas: deploy p99 44–50 ms against 51–55 with 4 per core for every round, score lag
// p99 557–668 ms against 472–578).
func (w *Worker) parallel(n int, cacheable bool) int {
	if w.DB.Driver() == storage.DriverPostgres {
		if !cacheable {
			return 4 * runtime.GOMAXPROCS(0)
		}
		return min(4*runtime.GOMAXPROCS(0), runtime.GOMAXPROCS(0)*max(1, (n+smallRound-1)/smallRound))
	}
	return min(runtime.GOMAXPROCS(0), max(1, (n+smallRound-1)/smallRound))
}

// smallRound is the number of services a scorer takes in a round on SQLite before the round
// gets another: about 0.2 s of one core at the 2 ms a service costs at scale.
const smallRound = 100

// scoreAll scores the services on up to parallel(len(names)) goroutines: loading and decoding facts
// and scoring are independent per service, so a round's latency shrinks with the cores.
func (w *Worker) scoreAll(ctx context.Context, names []string, now time.Time, cacheable bool, granted map[string][]scoring.GrantedWaiver, pre map[string]*storage.RescoreInput) ([]pending, error) {
	out := make([]pending, len(names))
	errs := make([]error, len(names))
	workers := min(w.parallel(len(names), cacheable), len(names))
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(names) || ctx.Err() != nil {
					return
				}
				start := time.Now()
				out[i], errs[i] = w.scoreOne(ctx, names[i], now, cacheable, granted[names[i]], pre[names[i]])
				if w.Observer != nil {
					w.Observer.Rescored(names[i], time.Since(start))
				}
				// Let the webhooks waiting for this core run between two services rather than
				// at the next preemption: on the replica holding the rescoring lease, requests
				// slower than 40 ms were 3–7 times as many as on the others (3 replicas:
				// deploy p99 45.7–50.8 ms with this, 53.0–54.4 without; BENCHMARKS.md).
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scoreOne scores one service. pre, when not nil, holds its coverage and history read with the
// round's other services (storage.RescoreInputs); else they are read here.
func (w *Worker) scoreOne(ctx context.Context, name string, now time.Time, cacheable bool, granted []scoring.GrantedWaiver, pre *storage.RescoreInput) (pending, error) {
	facts, err := w.facts(ctx, name, now, cacheable)
	if err != nil {
		return pending{}, err
	}
	svc, ok := w.Catalog.Get(name)
	if !ok {
		svc = releaseops.Service{Name: name, Origin: "events"}
	}
	var cov []releaseops.SyncCoverage
	if pre != nil {
		cov = pre.Coverage
	} else if cov, err = w.DB.SyncCoverage(ctx, name); err != nil {
		return pending{}, err
	}
	in := scoring.Input{Service: svc, Facts: facts, Now: now, Sync: cov, Waivers: granted}
	var card scoring.Scorecard
	if idx := w.takeIndex(name, cacheable); idx != nil {
		card = w.Engine.ScoreIndexed(in, idx)
		w.putIndex(name, idx)
	} else {
		card = w.Engine.Score(in)
	}
	trend, err := w.trend(ctx, name, card.Score, now, pre)
	if err != nil {
		return pending{}, err
	}
	card.Trend = trend
	card.UpdatedAt = now
	// goccy/go-json writes the same bytes as encoding/json for a scorecard (a test checks)
	// in about a third of the time; encoding is a large share of a rescore.
	b, err := gojson.Marshal(card)
	if err != nil {
		return pending{}, fmt.Errorf("encode scorecard of %s: %w", name, err)
	}
	trendJSON, err := gojson.Marshal(card.Trend)
	if err != nil {
		return pending{}, fmt.Errorf("encode trend of %s: %w", name, err)
	}
	prev, known, err := w.previous(ctx, name)
	if err != nil {
		return pending{}, err
	}
	cur := summary{card.Score, card.Band, card.Level}
	p := pending{row: storage.ScoreRow{Service: name, Score: card.Score, Band: card.Band, Level: card.Level, Card: b, Trend: trendJSON, UpdatedAt: now},
		snapshot: !known || prev != cur, card: &card}
	if known && (cur.score < prev.score || scoring.BandRank(cur.band) < scoring.BandRank(prev.band)) {
		prevCard, err := w.storedCard(ctx, name)
		if err != nil {
			return pending{}, err
		}
		if prevCard != nil {
			p.reg = scoring.DetectRegression(prevCard, &card, w.alertPoints())
		}
	}
	return p, nil
}

func (w *Worker) alertPoints() float64 {
	if w.Scoring.RegressionAlertPoints > 0 {
		return w.Scoring.RegressionAlertPoints
	}
	return scoring.DefaultRegressionAlertPoints
}

func (w *Worker) previous(ctx context.Context, name string) (summary, bool, error) {
	w.mu.Lock()
	s, ok := w.last[name]
	w.mu.Unlock()
	if ok {
		return s, true, nil
	}
	row, err := w.DB.GetScore(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return summary{}, false, nil
		}
		return summary{}, false, err
	}
	return summary{row.Score, row.Band, row.Level}, true, nil
}

func (w *Worker) storedCard(ctx context.Context, name string) (*scoring.Scorecard, error) {
	row, err := w.DB.GetScore(ctx, name)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	var c scoring.Scorecard
	if err := scoring.DecodeCard(row.Card, &c); err != nil {
		return nil, fmt.Errorf("stored scorecard of %s: %w", name, err)
	}
	return &c, nil
}

func (w *Worker) trendWindow() time.Duration {
	if window := w.Scoring.TrendWindow.Std(); window > 0 {
		return window
	}
	return scoring.DefaultTrendWindow
}

func (w *Worker) trend(ctx context.Context, name string, score float64, now time.Time, pre *storage.RescoreInput) (scoring.Trend, error) {
	window := w.trendWindow()
	since := now.Add(-window)
	in := pre
	if in == nil {
		in = &storage.RescoreInput{}
		base, ok, err := w.DB.ScoreAt(ctx, name, since)
		if err != nil {
			return scoring.Trend{}, err
		}
		if ok {
			in.Base = &base
		}
		if in.History, err = w.DB.History(ctx, name, since); err != nil {
			return scoring.Trend{}, err
		}
	}
	var pts []scoring.Point
	if in.Base != nil {
		pts = append(pts, scoring.Point{At: in.Base.At, Score: in.Base.Score})
	}
	for _, h := range in.History {
		pts = append(pts, scoring.Point{At: h.At, Score: h.Score})
	}
	return scoring.ComputeTrend(pts, score, now, window), nil
}

// takeIndex returns the scoring index of a cached service for one score, or nil when the
// service is not cached (its facts are a fresh slice every time: nothing to extend) or the
// round is not one that fills the cache.
func (w *Worker) takeIndex(name string, cacheable bool) *scoring.Index {
	if !cacheable {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, hot := w.cache[name]; !hot {
		return nil
	}
	idx := w.index[name]
	if idx == nil {
		idx = new(scoring.Index)
	}
	delete(w.index, name)
	return idx
}

// putIndex keeps idx for the next round, if the service is still cached.
func (w *Worker) putIndex(name string, idx *scoring.Index) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, hot := w.cache[name]; hot {
		w.index[name] = idx
	}
}

// facts returns the service's facts within the engine's lookback, from the cache when hot.
// Only rounds that follow new events fill the cache: a full rescore would churn it.
func (w *Worker) facts(ctx context.Context, name string, now time.Time, cacheable bool) ([]releaseops.Fact, error) {
	cutoff := now.Add(-w.Engine.Lookback())
	w.mu.Lock()
	c, ok := w.cache[name]
	if ok {
		w.used[name] = now
	}
	w.mu.Unlock()
	if ok {
		t := trim(c, cutoff)
		if len(t) < len(c) {
			w.mu.Lock()
			if _, still := w.cache[name]; still {
				w.cache[name] = t
				w.cached -= len(c) - len(t)
			}
			w.mu.Unlock()
		}
		return t, nil
	}
	stored, err := w.DB.FactsForService(ctx, name, cutoff)
	if err != nil {
		return nil, err
	}
	fs := make([]releaseops.Fact, len(stored))
	for i := range stored {
		fs[i] = stored[i].Fact
		fs[i].Service = name
	}
	if !cacheable {
		return fs, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cached+len(fs) > w.CacheFacts && !w.evictIdle(len(fs), now) {
		return fs, nil // the busy services fill the cache: this one is loaded each time
	}
	w.cache[name] = fs
	w.cached += len(fs)
	w.used[name] = now
	return fs, nil
}

// shrinkCache evicts the least recently scored services until the cache is within its cap
// again after cached services grew. Such a service is loaded from the database when next
// scored and is not cached again while the others stay busy (evictIdle), so the cache holds a
// stable set instead of churning. w.mu is held.
func (w *Worker) shrinkCache() {
	if w.cached <= w.CacheFacts {
		return
	}
	names := make([]string, 0, len(w.cache))
	for k := range w.cache {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return w.used[names[i]].Before(w.used[names[j]]) })
	for _, k := range names {
		if w.cached <= w.CacheFacts {
			return
		}
		w.cached -= len(w.cache[k])
		delete(w.cache, k)
		delete(w.index, k)
		delete(w.used, k)
	}
}

// cacheIdle is how long a cached service must have gone unscored before a newly loaded one
// may take its place. Evicting the services of the current rounds only to load them again the
// next round (what happened once the busy services outgrew the cache: a third of the CPU went
// to reloading facts) costs more than not caching the newcomer.
const cacheIdle = time.Minute

// evictIdle evicts services idle for cacheIdle, longest idle first, until room facts fit, and
// reports whether they do. w.mu is held.
func (w *Worker) evictIdle(room int, now time.Time) bool {
	if room > w.CacheFacts {
		return false
	}
	if now.Before(w.noIdleBefore) {
		// With every cached service busy, each miss scanned the whole cache under w.mu:
		// with 10,000 services a quarter of a round's CPU, and the scorers queued on the lock.
		return false
	}
	var idle []string
	oldest := now
	for k := range w.cache {
		u := w.used[k]
		if now.Sub(u) >= cacheIdle {
			idle = append(idle, k)
		} else if u.Before(oldest) {
			oldest = u
		}
	}
	sort.Slice(idle, func(i, j int) bool { return w.used[idle[i]].Before(w.used[idle[j]]) })
	evicted := 0
	for _, k := range idle {
		if w.cached+room <= w.CacheFacts {
			break
		}
		w.cached -= len(w.cache[k])
		delete(w.cache, k)
		delete(w.index, k)
		delete(w.used, k)
		evicted++
	}
	w.noIdleBefore = time.Time{} // idle services are left: the next miss may take one
	if evicted == len(idle) {
		w.noIdleBefore = oldest.Add(cacheIdle)
	}
	return w.cached+room <= w.CacheFacts
}

// trim drops moment facts older than cutoff; state facts (settings) are kept at any age.
func trim(fs []releaseops.Fact, cutoff time.Time) []releaseops.Fact {
	stale := false
	for i := range fs {
		if isMoment(fs[i].Kind) && fs[i].At.Before(cutoff) {
			stale = true
			break
		}
	}
	if !stale {
		return fs[:len(fs):len(fs)] // nothing to drop; capped so an append cannot share it
	}
	out := fs[:0:0]
	for _, f := range fs {
		if !isMoment(f.Kind) || !f.At.Before(cutoff) {
			out = append(out, f)
		}
	}
	return out
}

// isMoment reports whether a fact kind is a moment (trimmed with age) rather than a setting.
func isMoment(k releaseops.FactKind) bool {
	switch k {
	case releaseops.FactBranchProtection, releaseops.FactRuleset, releaseops.FactPagerDutyService, releaseops.FactRepoState,
		releaseops.FactOnCall, releaseops.FactTerraformWorkspace:
		return false
	}
	return true
}

func isNotFound(err error) bool {
	return errors.Is(err, storage.ErrNotFound)
}
