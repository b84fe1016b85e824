package syncer

import (
	"context"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// Scheduler runs each source's sync in serve: at start for subjects never read (everything,
// if the last full run is older than the interval), then every Interval with jitter, and at
// once for subjects named by Trigger (a GitHub installation event). One run per source at a
// time; triggers that arrive during a run are merged into the next.
type Scheduler struct {
	Runner   *Runner
	Sources  []Source
	Interval time.Duration
	// Observe, if set, is called after every run (metrics).
	Observe func(Summary)

	mu      sync.Mutex
	state   map[string]*sourceState
	started bool
}

type sourceState struct {
	running bool
	next    time.Time
	last    *Summary
	pending map[string]bool
	kick    chan struct{}
}

func (s *Scheduler) init() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != nil {
		return
	}
	s.state = map[string]*sourceState{}
	for _, src := range s.Sources {
		s.state[src.Name()] = &sourceState{pending: map[string]bool{}, kick: make(chan struct{}, 1)}
	}
}

// Run runs every source until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	s.init()
	var wg sync.WaitGroup
	for _, src := range s.Sources {
		wg.Add(1)
		go func(src Source) {
			defer wg.Done()
			s.loop(ctx, src)
		}(src)
	}
	wg.Wait()
}

// Trigger asks for the named subjects of a source to be read now. It never blocks.
func (s *Scheduler) Trigger(source string, keys ...string) {
	s.init()
	s.mu.Lock()
	st, ok := s.state[source]
	if ok {
		for _, k := range keys {
			st.pending[strings.ToLower(k)] = true
		}
	}
	s.mu.Unlock()
	if ok && len(keys) > 0 {
		select {
		case st.kick <- struct{}{}:
		default:
		}
	}
}

func (s *Scheduler) loop(ctx context.Context, src Source) {
	name := src.Name()
	st := s.state[name]
	interval := s.interval()
	// At start: everything if the last full run is older than the interval (or there was
	// none), else only the subjects never read (new in the catalog since).
	last, ok, err := s.Runner.DB.LastSyncRun(ctx, name, true)
	if err != nil {
		s.Runner.log().Warn("sync: read last run", "source", name, "err", err)
	}
	now := s.Runner.now()
	full := !ok || now.Sub(last.FinishedAt) >= interval
	s.run(ctx, src, Options{Trigger: "start", NeverSynced: !full})
	if full {
		s.setNext(st, s.Runner.now().Add(jitter(interval)))
	} else {
		s.setNext(st, last.FinishedAt.Add(jitter(interval)))
	}
	for {
		s.mu.Lock()
		wait := time.Until(st.next) // the schedule is wall time: the clock is only injected for records
		s.mu.Unlock()
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-st.kick:
			timer.Stop()
			s.mu.Lock()
			keys := make([]string, 0, len(st.pending))
			for k := range st.pending {
				keys = append(keys, k)
			}
			st.pending = map[string]bool{}
			s.mu.Unlock()
			if len(keys) > 0 {
				sort.Strings(keys)
				s.run(ctx, src, Options{Trigger: "event", Keys: keys})
			}
		case <-timer.C:
			s.run(ctx, src, Options{Trigger: "schedule"})
			s.setNext(st, time.Now().Add(jitter(interval)))
		}
	}
}

func (s *Scheduler) run(ctx context.Context, src Source, opts Options) {
	st := s.state[src.Name()]
	s.mu.Lock()
	st.running = true
	s.mu.Unlock()
	sum, err := s.Runner.Run(ctx, src, opts)
	s.mu.Lock()
	st.running = false
	if err == nil || sum.Error != "" {
		st.last = &sum
	}
	s.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		s.Runner.log().Warn("sync run failed", "source", src.Name(), "trigger", opts.Trigger, "err", err)
	} else if ctx.Err() == nil {
		s.Runner.log().Info("sync run", "source", src.Name(), "trigger", opts.Trigger, "subjects", sum.Subjects,
			"observations", sum.Observations, "facts", sum.Facts, "requests", sum.Requests, "not_modified", sum.NotModified,
			"rate_waits", sum.RateWaits, "failures", len(sum.Failures))
	}
	if s.Observe != nil && ctx.Err() == nil {
		s.Observe(sum)
	}
}

func (s *Scheduler) setNext(st *sourceState, t time.Time) {
	s.mu.Lock()
	st.next = t
	s.mu.Unlock()
}

func (s *Scheduler) interval() time.Duration {
	if s.Interval <= 0 {
		return 6 * time.Hour
	}
	return s.Interval
}

// jitter spreads runs by up to a tenth of the interval either way, so replicas and sources
// do not all call their APIs on the same minute.
func jitter(d time.Duration) time.Duration {
	span := int64(d / 10)
	if span <= 0 {
		return d
	}
	return d - time.Duration(span) + time.Duration(rand.Int64N(2*span+1))
}

// SourceStatus is what GET /api/v1/sync says of a source.
type SourceStatus struct {
	Source   string           `json:"source"`
	Running  bool             `json:"running"`
	LastRun  *storage.SyncRun `json:"last_run"`
	NextRun  *time.Time       `json:"next_run"`
	Subjects SubjectCounts    `json:"subjects"`
	Failures []Failure        `json:"failures"`
	// RateLimit is the API's latest reading (nil when the source reports none).
	RateLimit *RateLimit `json:"rate_limit"`
}

// SubjectCounts splits a source's subjects by the outcome of their latest read.
type SubjectCounts struct {
	Total   int `json:"total"`
	OK      int `json:"ok"`
	Failing int `json:"failing"`
}

// Status reports every source, from the stored records (so it is right after a restart and
// for runs made by `releaseops sync`) and the scheduler's own state.
func (s *Scheduler) Status(ctx context.Context) ([]SourceStatus, error) {
	s.init()
	out := make([]SourceStatus, 0, len(s.Sources))
	for _, src := range s.Sources {
		st, err := StatusOf(ctx, s.Runner.DB, src)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		if ss := s.state[src.Name()]; ss != nil {
			st.Running = ss.running
			if !ss.next.IsZero() {
				next := ss.next.UTC()
				st.NextRun = &next
			}
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	return out, nil
}

// StatusOf reads a source's status from the database (no scheduler: next run unknown).
func StatusOf(ctx context.Context, db *storage.DB, src Source) (SourceStatus, error) {
	st := SourceStatus{Source: src.Name(), Failures: []Failure{}}
	if run, ok, err := db.LastSyncRun(ctx, src.Name(), false); err != nil {
		return st, err
	} else if ok {
		st.LastRun = &run
	}
	recs, err := db.SyncRecords(ctx, src.Name())
	if err != nil {
		return st, err
	}
	for _, r := range recs {
		st.Subjects.Total++
		if r.LastError != "" {
			st.Subjects.Failing++
			st.Failures = append(st.Failures, Failure{Subject: r.Subject, Service: r.Service, Error: r.LastError})
		} else {
			st.Subjects.OK++
		}
	}
	sort.Slice(st.Failures, func(i, j int) bool { return st.Failures[i].Subject < st.Failures[j].Subject })
	if rl, ok := src.(RateLimiter); ok {
		if v := rl.RateLimit(); v.Known {
			st.RateLimit = &v
		}
	}
	return st, nil
}
