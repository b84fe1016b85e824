package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// Runner reads a source's subjects and records what changed. It is safe for concurrent use;
// the Scheduler keeps one run per source at a time.
type Runner struct {
	DB  *storage.DB
	Now func() time.Time
	Log *slog.Logger
	// Concurrency bounds the subjects read at once (sync.concurrency).
	Concurrency int
	// Timeout bounds one subject's read (sync.timeout).
	Timeout time.Duration
	// Resolve maps a fact's subject to its service ("" when the catalog does not know it).
	Resolve func(releaseops.Subject) string
	// Committed is called after a commit that stored facts (wakes the rescoring worker).
	Committed func()
	// Sleep waits for a rate limit to lift between two reads of a subject (nil: real time).
	Sleep func(ctx context.Context, d time.Duration) error
	// Covered is called after a run with the services whose coverage changed state (first
	// read, failed, recovered) even where no fact did: their cards show it.
	Covered func(ctx context.Context, services []string)
}

// Options choose what one run does.
type Options struct {
	// Trigger is recorded with the run: start, schedule, event, cli.
	Trigger string
	// Keys limits the run to these subjects (case-insensitive); empty means every subject.
	Keys []string
	// Services limits the run to subjects feeding these services.
	Services []string
	// NeverSynced limits the run to subjects never attempted.
	NeverSynced bool
	// DryRun reads and compares but stores nothing.
	DryRun bool
	// Progress, if set, is called as each subject finishes (from several goroutines, serialised).
	Progress func(done, total int, s Subject, err error)
}

// Failure is a subject whose read failed.
type Failure struct {
	Subject string `json:"subject"`
	Service string `json:"service,omitempty"`
	Error   string `json:"error"`
}

// Summary is what a run did.
type Summary struct {
	Source       string        `json:"source"`
	Trigger      string        `json:"trigger"`
	Full         bool          `json:"full"`
	DryRun       bool          `json:"dry_run,omitempty"`
	StartedAt    time.Time     `json:"started_at"`
	FinishedAt   time.Time     `json:"finished_at"`
	Subjects     int           `json:"subjects"`
	Observations int           `json:"observations"` // changed observations recorded (or that would be, dry run)
	Facts        int           `json:"facts"`        // fact rows written (or that would be)
	Requests     int64         `json:"requests"`
	NotModified  int64         `json:"not_modified"`
	RateWaits    int64         `json:"rate_waits"`
	RateWaited   time.Duration `json:"rate_waited_ns"`
	Failures     []Failure     `json:"failures"`
	Cancelled    int           `json:"cancelled,omitempty"` // subjects cut short by the run's cancellation
	Error        string        `json:"error,omitempty"`
}

// Run reads the source's subjects once. The error is for a run that could not start (the
// subjects could not be listed) or was cancelled; a subject's failure is in the summary and
// does not stop the others.
func (r *Runner) Run(ctx context.Context, src Source, opts Options) (Summary, error) {
	now := r.now()
	sum := Summary{Source: src.Name(), Trigger: opts.Trigger, DryRun: opts.DryRun, StartedAt: now, Failures: []Failure{}}
	subjects, err := src.Subjects(ctx)
	if err != nil {
		sum.Error = fmt.Sprintf("list %s subjects: %v", src.Name(), err)
		sum.FinishedAt = r.now()
		if !opts.DryRun {
			r.recordRun(ctx, sum)
		}
		return sum, fmt.Errorf("list %s subjects: %w", src.Name(), err)
	}
	records, err := r.DB.SyncRecords(ctx, src.Name())
	if err != nil {
		return sum, err
	}
	listed := subjects
	subjects, sum.Full = selectSubjects(subjects, records, opts)
	sum.Subjects = len(subjects)
	if sum.Full && !opts.DryRun {
		r.forget(ctx, src.Name(), listed, records)
	}

	var stats Stats
	var mu sync.Mutex
	var covered []string
	done := 0
	sem := make(chan struct{}, max(1, r.Concurrency))
	var wg sync.WaitGroup
	for _, s := range subjects {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(s Subject) {
			defer func() { <-sem; wg.Done() }()
			rec, seen := records[s.Key]
			out, err := r.one(WithStats(ctx, &stats), src, s, rec, opts.DryRun)
			mu.Lock()
			defer mu.Unlock()
			done++
			switch {
			case err != nil && ctx.Err() != nil:
				// Cut short by the run's cancellation (Ctrl-C, shutdown): not a failure of the
				// subject, and not recorded as one; the next run reads it.
				sum.Cancelled++
			case err != nil:
				sum.Failures = append(sum.Failures, Failure{Subject: s.Key, Service: s.Service, Error: err.Error()})
			default:
				sum.Observations += out.observations
				sum.Facts += out.facts
			}
			// A first read, a failure and a recovery change what the card says of the sync;
			// facts wake the rescorer themselves, and the hourly rescore brings the last-read
			// times (and staleness) up to date, so an unchanged read rescores nothing.
			if s.Service != "" && (!seen || (err != nil) != (rec.LastError != "")) {
				covered = append(covered, s.Service)
			}
			if opts.Progress != nil {
				opts.Progress(done, len(subjects), s, err)
			}
		}(s)
	}
	wg.Wait()
	sort.Slice(sum.Failures, func(i, j int) bool { return sum.Failures[i].Subject < sum.Failures[j].Subject })
	sum.Requests, sum.NotModified = stats.Requests.Load(), stats.NotModified.Load()
	sum.RateWaits, sum.RateWaited = stats.RateWaits.Load(), time.Duration(stats.WaitedNanos.Load())
	sum.FinishedAt = r.now()
	if opts.DryRun {
		return sum, ctx.Err()
	}
	r.recordRun(ctx, sum)
	if len(covered) > 0 && r.Covered != nil {
		sort.Strings(covered)
		r.Covered(ctx, compact(covered))
	}
	return sum, ctx.Err()
}

func (r *Runner) recordRun(ctx context.Context, sum Summary) {
	run := storage.SyncRun{Source: sum.Source, Trigger: sum.Trigger, Full: sum.Full, StartedAt: sum.StartedAt, FinishedAt: sum.FinishedAt,
		Subjects: sum.Subjects, Observations: sum.Observations, Facts: sum.Facts, Requests: sum.Requests, NotModified: sum.NotModified,
		RateWaits: sum.RateWaits, Failures: len(sum.Failures), Error: sum.Error}
	// Recorded even when ctx is cancelled (SIGTERM mid-run): the run's subjects are committed.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := r.DB.Writer.Do(wctx, func(t *storage.Tx) error { return storage.InsertSyncRun(t, run) }); err != nil {
		r.log().Warn("record sync run", "source", sum.Source, "err", err)
	}
}

// forget drops the records of subjects the source no longer lists; only a full run knows.
func (r *Runner) forget(ctx context.Context, source string, listed []Subject, records map[string]storage.SyncRecord) {
	keep := make(map[string]bool, len(listed))
	for _, s := range listed {
		keep[s.Key] = true
	}
	var gone []string
	for k := range records {
		if !keep[k] {
			gone = append(gone, k)
		}
	}
	if len(gone) == 0 {
		return
	}
	sort.Strings(gone)
	if err := r.DB.Writer.Do(ctx, func(t *storage.Tx) error { return storage.DeleteSyncRecords(t, source, gone) }); err != nil {
		r.log().Warn("sync: forget records of subjects no longer listed", "source", source, "err", err)
		return
	}
	r.log().Info("sync: forgot subjects no longer listed", "source", source, "subjects", gone)
}

// selectSubjects applies the options' filters; full is true when nothing was filtered out.
func selectSubjects(all []Subject, records map[string]storage.SyncRecord, opts Options) ([]Subject, bool) {
	keys := map[string]bool{}
	for _, k := range opts.Keys {
		keys[strings.ToLower(k)] = true
	}
	services := map[string]bool{}
	for _, s := range opts.Services {
		services[s] = true
	}
	seen := map[string]bool{}
	var out []Subject
	for _, s := range all {
		if seen[s.Key] {
			continue
		}
		seen[s.Key] = true
		if len(keys) > 0 && !keys[strings.ToLower(s.Key)] {
			continue
		}
		if len(services) > 0 && !services[s.Service] {
			continue
		}
		if opts.NeverSynced {
			if _, ok := records[s.Key]; ok {
				continue
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, len(keys) == 0 && len(services) == 0 && !opts.NeverSynced
}

type outcome struct{ observations, facts int }

// errSuperseded aborts a subject's commit when another run committed the subject first.
var errSuperseded = errors.New("superseded by another run")

// one reads one subject and commits what changed with its new state, or records the failure.
func (r *Runner) one(ctx context.Context, src Source, s Subject, rec storage.SyncRecord, dryRun bool) (outcome, error) {
	var prev State
	if len(rec.State) > 0 {
		if err := json.Unmarshal(rec.State, &prev); err != nil {
			r.log().Warn("sync state unreadable; reading from scratch", "source", src.Name(), "subject", s.Key, "err", err)
			prev = State{}
		}
	}
	if rec.Service != "" && s.Service != "" && rec.Service != s.Service {
		// The subject now feeds another service (renamed, or remapped in the catalog): what
		// was recorded went to the old one, so read and record everything again.
		prev = State{}
	}
	hashes := prev.Hashes
	res, err := r.read(ctx, src, s, prev)
	at := r.now()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("%s: timed out after %s (sync.timeout)", s.Key, r.timeout())
		}
		if !dryRun && ctx.Err() == nil {
			reason := err.Error()
			werr := r.DB.Writer.Do(context.WithoutCancel(ctx), func(t *storage.Tx) error {
				return storage.PutSyncFailure(t, src.Name(), s.Key, s.Service, at, reason)
			})
			if werr != nil {
				return outcome{}, errors.Join(err, werr)
			}
		}
		return outcome{}, err
	}
	service := s.Service
	if res.Service != "" {
		service = res.Service
	}
	next := res.State
	next.Hashes = make(map[string]string, len(hashes)+len(res.Observations))
	for k, v := range hashes {
		if !expired(v, at) {
			next.Hashes[k] = v
		}
	}
	var out outcome
	var deliveries []*storage.NewDelivery
	for _, obs := range res.Observations {
		h, err := contentHash(obs.Facts)
		if err != nil {
			return outcome{}, fmt.Errorf("%s: hash observation %s: %w", s.Key, obs.Key, err)
		}
		if sameHash(hashes[obs.Key], h) {
			continue
		}
		next.Hashes[obs.Key] = h + " " + at.Format("2006-01-02")
		d, err := r.delivery(src.Name(), s, service, obs, at, h)
		if err != nil {
			return outcome{}, err
		}
		deliveries = append(deliveries, d)
		out.observations++
		out.facts += len(d.Facts)
	}
	if dryRun {
		return out, nil
	}
	state, err := json.Marshal(next)
	if err != nil {
		return outcome{}, fmt.Errorf("%s: encode sync state: %w", s.Key, err)
	}
	// The commit goes through even if the run is being cancelled: the read is done, and
	// storing it with its ETags is what lets the next run skip it.
	err = r.DB.Writer.Do(context.WithoutCancel(ctx), func(t *storage.Tx) error {
		// Compare and swap: another run that committed this subject since this run read its
		// record would make the same observations twice.
		if last, err := storage.SyncAttemptOf(t, src.Name(), s.Key); err != nil {
			return err
		} else if !last.Equal(rec.LastAttempt) {
			return errSuperseded
		}
		for _, d := range deliveries {
			if _, _, err := storage.InsertDelivery(t, d); err != nil {
				return err
			}
		}
		return storage.PutSyncSuccess(t, src.Name(), s.Key, service, at, state)
	})
	if errors.Is(err, errSuperseded) {
		r.log().Info("sync: another run read the subject meanwhile; keeping its record", "source", src.Name(), "subject", s.Key)
		return outcome{}, nil
	}
	if err != nil {
		return outcome{}, fmt.Errorf("%s: store sync: %w", s.Key, err)
	}
	if out.facts > 0 && r.Committed != nil {
		r.Committed()
	}
	return out, nil
}

// RetryAt is implemented by read errors that say when the subject may be read again: a
// primary rate limit that resets later than a request may wait inside its own timeout.
type RetryAt interface {
	RetryAt() time.Time
}

// maxRateWait bounds the wait for a rate limit: GitHub's primary limit resets within the hour.
const maxRateWait = 65 * time.Minute

// read reads the subject, waiting out a rate limit the read could not wait for itself (the
// wait is outside sync.timeout, which bounds the reading, not the waiting) and trying again,
// twice at most.
func (r *Runner) read(ctx context.Context, src Source, s Subject, prev State) (Result, error) {
	for attempt := 0; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, r.timeout())
		res, err := src.Read(rctx, s, prev)
		cancel()
		var ra RetryAt
		if err == nil || attempt == 2 || !errors.As(err, &ra) || ra.RetryAt().IsZero() {
			return res, err
		}
		wait := ra.RetryAt().Sub(r.now())
		if wait > maxRateWait {
			return res, err
		}
		wait = max(wait, time.Second)
		r.log().Info("sync: waiting for the rate limit to reset", "source", src.Name(), "subject", s.Key, "wait", wait)
		CountWait(ctx, wait)
		if serr := r.sleep(ctx, wait); serr != nil {
			return res, err
		}
	}
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if r.Sleep != nil {
		return r.Sleep(ctx, d)
	}
	return Sleep(ctx, d)
}

// delivery stores an observation like a webhook delivery: source, type "sync", the API calls
// as its body, and facts whose evidence names the call they came from.
func (r *Runner) delivery(source string, s Subject, service string, obs Observation, at time.Time, hash string) (*storage.NewDelivery, error) {
	// The content hash keeps two different reads in the same millisecond apart; the same
	// content twice in a row never gets here.
	id := fmt.Sprintf("sync:%s:%s:%d:%s", s.Key, obs.Key, at.UnixMilli(), hash[:8])
	body, err := json.Marshal(struct {
		Subject  string    `json:"subject"`
		Key      string    `json:"key"`
		Requests []Request `json:"requests"`
	}{s.Key, obs.Key, obs.Requests})
	if err != nil {
		return nil, fmt.Errorf("%s: encode observation %s: %w", s.Key, obs.Key, err)
	}
	fetched, path := at, ""
	if len(obs.Requests) > 0 {
		path = obs.Requests[0].Path
		if !obs.Requests[0].FetchedAt.IsZero() {
			fetched = obs.Requests[0].FetchedAt.UTC()
		}
	}
	subj := s.Subject
	d := &storage.NewDelivery{Source: source, DeliveryID: id, Type: releaseops.EventSync, Subject: subj, Service: service,
		ReceivedAt: at, Headers: map[string]string{"X-ReleaseOps-Sync-Path": path}, Body: body,
		Facts: make([]releaseops.Fact, len(obs.Facts))}
	copy(d.Facts, obs.Facts)
	unmapped := false
	for i := range d.Facts {
		f := &d.Facts[i]
		if f.Subject.Key == "" {
			f.Subject = subj
		}
		if f.At.IsZero() {
			f.At = fetched
		}
		f.At = f.At.UTC()
		f.Evidence = releaseops.Evidence{Source: source, Event: releaseops.EventSync, Delivery: id, At: fetched, Path: path}
		f.Service = service
		if r.Resolve != nil && f.Subject != subj {
			f.Service = r.Resolve(f.Subject)
		}
		if f.Service == "" {
			unmapped = true
		}
	}
	d.Outcome = releaseops.OutcomeOf(len(d.Facts), unmapped)
	if err := d.Prepare(); err != nil {
		return nil, fmt.Errorf("%s: encode observation %s: %w", s.Key, obs.Key, err)
	}
	return d, nil
}

// contentHash is what change detection compares: the facts without their time and evidence,
// which differ on every read of the same state.
func contentHash(facts []releaseops.Fact) (string, error) {
	h := sha256.New()
	for _, f := range facts {
		f.At, f.Evidence, f.Service = time.Time{}, releaseops.Evidence{}, ""
		b, err := json.Marshal(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// Hashes are stored as "HASH YYYY-MM-DD" (when recorded), so keys of things long gone (a pull
// request merged a year ago) can be dropped.
const hashTTL = 120 * 24 * time.Hour // beyond the 90 days any source reads back

func sameHash(stored, h string) bool {
	got, _, _ := strings.Cut(stored, " ")
	return got == h
}

func expired(stored string, now time.Time) bool {
	_, day, ok := strings.Cut(stored, " ")
	if !ok {
		return false
	}
	t, err := time.Parse("2006-01-02", day)
	return err == nil && now.Sub(t) > hashTTL
}

func compact(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now().UTC()
	}
	return r.Now().UTC()
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout <= 0 {
		return 2 * time.Minute
	}
	return r.Timeout
}

func (r *Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}
