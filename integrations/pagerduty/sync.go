package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// SyncConfig is what a Syncer is built from.
type SyncConfig struct {
	Token  string // pagerduty.token: an API key (read-only is enough) or an OAuth token
	APIURL string // pagerduty.api_url; empty means DefaultAPIURL
	// HTTPClient's transport carries the calls (nil: http.DefaultTransport). Its Timeout, if
	// set, bounds each attempt rather than the whole call, so that waiting out a rate limit
	// is not cut short; unset, an attempt gets 30 s.
	HTTPClient *http.Client
	// List returns the mapped PagerDuty services: Key is the PagerDuty service id, Service
	// the catalogued service, Subject {pagerduty, id}.
	List func(ctx context.Context) ([]syncer.Subject, error)
	Now  func() time.Time
	// Window is how far back incidents are read (default 90 days).
	Window time.Duration
	// Sleep waits out rate limits and server errors (nil: real time); tests inject it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Parallel bounds the API calls in flight within one Read (default 4). The framework's
	// sync.concurrency multiplies it.
	Parallel int
	Log      *slog.Logger
}

// Syncer reads the standing state of mapped PagerDuty services from the REST API: whether
// each exists and is enabled, its escalation policy's depth, its incidents of the window
// with their acknowledge and resolve times, and who is on call at each level. It
// implements syncer.Source.
//
// PagerDuty sends no ETags, so every read is a full read and change detection is the
// framework's content hash: facts carry nothing that differs between two reads of the same
// state (no fetch times, levels sorted). What costs a call per incident (its first
// acknowledgement, from the log entries) is kept in the subject's Memory and asked again
// only for incidents new or changed since, so an unchanged service costs four calls.
type Syncer struct {
	client   *Client
	rate     *rateTransport
	list     func(ctx context.Context) ([]syncer.Subject, error)
	now      func() time.Time
	window   time.Duration
	parallel int
	log      *slog.Logger
}

var (
	_ syncer.Source      = (*Syncer)(nil)
	_ syncer.RateLimiter = (*Syncer)(nil)
)

// NewSyncer builds a Syncer whose calls go through the rate-limit transport.
func NewSyncer(c SyncConfig) *Syncer {
	s := &Syncer{list: c.List, now: c.Now, window: c.Window, parallel: c.Parallel, log: c.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.window <= 0 {
		s.window = 90 * 24 * time.Hour
	}
	if s.parallel <= 0 {
		s.parallel = 4
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	hc := &http.Client{}
	attempt := 30 * time.Second
	if c.HTTPClient != nil {
		*hc = *c.HTTPClient
		if hc.Timeout > 0 {
			attempt = hc.Timeout
		}
		hc.Timeout = 0
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	sleep := c.Sleep
	if sleep == nil {
		sleep = syncer.Sleep
	}
	s.rate = &rateTransport{base: base, now: s.now, sleep: sleep, log: s.log, attempt: attempt, limited: 3, failed: 2}
	hc.Transport = s.rate
	s.client = NewClient(c.Token, c.APIURL, hc)
	return s
}

// Name returns "pagerduty".
func (s *Syncer) Name() string { return releaseops.SourcePagerDuty }

// Subjects returns the mapped PagerDuty services.
func (s *Syncer) Subjects(ctx context.Context) ([]syncer.Subject, error) {
	if s.list == nil {
		return nil, errors.New("pagerduty sync: no service list configured")
	}
	return s.list(ctx)
}

// RateLimit returns the latest ratelimit-* reading PagerDuty sent.
func (s *Syncer) RateLimit() syncer.RateLimit { return s.rate.rateLimit() }

// syncMemoryVersion changes when the memory's meaning does; older memory is then ignored,
// which costs one log-entries call per incident.
const syncMemoryVersion = 1

// syncMemory is what a Read keeps for the next one (syncer.State.Memory).
type syncMemory struct {
	V         int                    `json:"v"`
	Incidents map[string]incidentMem `json:"incidents,omitempty"`
}

// incidentMem is what was learnt of an incident at a cost: its first acknowledgement,
// valid while its status and last status change are the ones it was learnt at.
type incidentMem struct {
	Status  string     `json:"s"`
	Changed string     `json:"c"`
	Ack     *time.Time `json:"a,omitempty"`
}

// Read reads one PagerDuty service. It returns the full result or an error, never part of
// one.
func (s *Syncer) Read(ctx context.Context, subj syncer.Subject, prev syncer.State) (syncer.Result, error) {
	if subj.Key == "" {
		return syncer.Result{}, errors.New("pagerduty sync: a subject without a PagerDuty service id")
	}
	r := &serviceRead{
		s:   s,
		f:   &fetcher{client: s.client, subject: subj.Key, service: subj.Service, now: s.now, sem: make(chan struct{}, s.parallel)},
		id:  subj.Key,
		now: s.now().UTC(),
		old: s.loadMemory(subj.Key, prev.Memory),
	}
	// The service comes first: it names the escalation policy the other reads are about,
	// and a 404 or 401 on it is the clearest error to give.
	svc, svcCall, err := r.readService(ctx)
	if err != nil {
		return syncer.Result{}, err
	}
	var policyObs, oncallObs []syncer.Observation
	var incidentObs []syncer.Observation
	err = runAll(ctx,
		func(ctx context.Context) (err error) { policyObs, err = r.readPolicy(ctx, svc, svcCall); return },
		func(ctx context.Context) (err error) { oncallObs, err = r.readOnCalls(ctx, svc); return },
		func(ctx context.Context) (err error) { incidentObs, err = r.readIncidents(ctx); return },
	)
	if err != nil {
		return syncer.Result{}, err
	}
	obs := append(append(policyObs, oncallObs...), incidentObs...)
	// Facts are about the subject the framework records the delivery under, so that both map
	// to the same service.
	subject := subj.Subject
	if subject.Key == "" {
		subject = releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: subj.Key}
	}
	for i := range obs {
		for j := range obs[i].Facts {
			obs[i].Facts[j].Subject = subject
		}
	}
	mem, err := json.Marshal(syncMemory{V: syncMemoryVersion, Incidents: r.next})
	if err != nil {
		return syncer.Result{}, fmt.Errorf("%s: encode sync memory: %w", r.f.name(), err)
	}
	s.log.Debug("pagerduty sync read", "service", subj.Key, "observations", len(obs), "incidents", len(r.next))
	return syncer.Result{Observations: obs, State: syncer.State{Memory: mem}}, nil
}

// serviceRead is the state of one Read.
type serviceRead struct {
	s   *Syncer
	f   *fetcher
	id  string
	now time.Time
	old syncMemory
	// next is the incidents' memory for the next read, written by readIncidents only.
	next map[string]incidentMem
}

func (s *Syncer) loadMemory(id string, raw json.RawMessage) syncMemory {
	var m syncMemory
	if len(raw) == 0 {
		return m
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.V != syncMemoryVersion {
		// Reading without memory only costs log-entries calls; nothing is lost.
		s.log.Info("pagerduty sync memory unreadable or outdated; reading in full", "service", id, "err", err)
		return syncMemory{}
	}
	return m
}

// runAll runs fns at once. The first failure cancels the others and is the one returned
// (the others' "context canceled" says nothing).
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				errs[i] = err
				cancel()
			}
		})
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}
