package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// ClientSource hands out a client that can read a repository ("owner/name"), and the App
// installation it acts as (0 for a token). *Clients implements it.
type ClientSource interface {
	ForRepo(ctx context.Context, repo string) (*gh.Client, int64, error)
}

// Syncer reads the standing state of catalogued repositories from the GitHub REST API, so a
// repository protected a year ago (GitHub sends branch_protection_rule only on a change) is
// scored on its protection from day one. It implements syncer.Source.
//
// Each Read makes conditional requests with the ETags of the previous one: an unchanged
// repository costs only 304s, which GitHub does not count against the rate limit, and yields
// no observation. Pieces of state are kept in the subject's Memory (normalised, not raw
// bodies) so that an observation built from several calls can be rebuilt when only some of
// them changed.
type Syncer struct {
	Clients ClientSource
	// List returns the catalogued repositories; Subjects returns it.
	List func(ctx context.Context) ([]syncer.Subject, error)
	Now  func() time.Time
	// Window is how far back merged pull requests are read (default 90 days).
	Window time.Duration
	// Options are the webhook parser's, so paths are classified the same way.
	Options Options
	// Parallel bounds the API calls in flight within one Read (default 4). The framework's
	// concurrency multiplies it; GitHub asks for no more than 100 concurrent requests.
	Parallel int
	Log      *slog.Logger
}

var (
	_ syncer.Source      = (*Syncer)(nil)
	_ syncer.RateLimiter = (*Syncer)(nil)
)

// Name returns "github".
func (s *Syncer) Name() string { return releaseops.SourceGitHub }

// Subjects returns the catalogued repositories.
func (s *Syncer) Subjects(ctx context.Context) ([]syncer.Subject, error) {
	if s.List == nil {
		return nil, errors.New("github sync: no repository list configured")
	}
	return s.List(ctx)
}

// RateLimit returns the client factory's latest reading, when it keeps one.
func (s *Syncer) RateLimit() syncer.RateLimit {
	if rl, ok := s.Clients.(syncer.RateLimiter); ok {
		return rl.RateLimit()
	}
	return syncer.RateLimit{}
}

// syncMemoryVersion changes when the memory's meaning does; older memory is then ignored,
// which costs one unconditional read.
const syncMemoryVersion = 1

// recheckAbsent is how long an absence GitHub answers without an ETag is believed before it
// is asked again: a 404 or 403 cannot be asked conditionally, so asking on every read would
// cost a counted call each time for something that rarely changes.
const recheckAbsent = 24 * time.Hour

// syncMemory is what a Read keeps for the next one (syncer.State.Memory).
type syncMemory struct {
	V        int                    `json:"v"`
	Repo     *repoMemo              `json:"repo,omitempty"`
	Branch   *branchMemo            `json:"branch,omitempty"`
	Pulls    *pullsMemo             `json:"pulls,omitempty"`
	Deploys  *deploysMemo           `json:"deploys,omitempty"`
	Releases *releasesMemo          `json:"releases,omitempty"`
	Alerts   map[string]*alertsMemo `json:"alerts,omitempty"` // by tool
}

// Read reads one repository. It returns the full result or an error, never part of one.
func (s *Syncer) Read(ctx context.Context, subj syncer.Subject, prev syncer.State) (syncer.Result, error) {
	owner, name, ok := strings.Cut(subj.Key, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return syncer.Result{}, fmt.Errorf("%s: not a repository name (want owner/name)", subj.Key)
	}
	if s.Clients == nil {
		return syncer.Result{}, fmt.Errorf("%s: no GitHub client configured", subj.Key)
	}
	client, _, err := s.Clients.ForRepo(ctx, subj.Key)
	if err != nil {
		return syncer.Result{}, fmt.Errorf("%s: %w", subj.Key, err)
	}
	f := &fetcher{
		client: client, http: client.Client(), subject: subj.Key, now: s.now,
		prev: prev.ETags, sem: make(chan struct{}, s.parallel()), etags: map[string]string{},
	}
	// Facts are about the subject the framework records the delivery under, so that both
	// map to the same service.
	subject := subj.Subject
	if subject.Key == "" {
		subject = repoSubject(subj.Key)
	}
	r := &repoRead{
		s: s, f: f, owner: owner, name: name, subject: subject,
		now: s.now().UTC(), old: s.loadMemory(subj.Key, prev.Memory),
		next: syncMemory{V: syncMemoryVersion},
	}
	r.cutoff = r.now.Add(-s.window())

	// The repository comes first: it names the default branch the other reads are about,
	// and a 404 or 401 on it is the clearest error to give.
	if err := r.readRepo(ctx); err != nil {
		return syncer.Result{}, err
	}
	var branchObs, alertObs []syncer.Observation
	var pullObs, deployObs, releaseObs []syncer.Observation
	err = runAll(ctx,
		func(ctx context.Context) (err error) { branchObs, err = r.readBranch(ctx); return },
		func(ctx context.Context) (err error) { pullObs, err = r.readPulls(ctx); return },
		func(ctx context.Context) (err error) { deployObs, err = r.readDeployments(ctx); return },
		func(ctx context.Context) (err error) { releaseObs, err = r.readReleases(ctx); return },
		func(ctx context.Context) (err error) { alertObs, err = r.readAlerts(ctx); return },
	)
	if err != nil {
		return syncer.Result{}, err
	}
	var obs []syncer.Observation
	for _, part := range [][]syncer.Observation{branchObs, pullObs, deployObs, releaseObs, alertObs} {
		obs = append(obs, part...)
	}
	for i := range obs {
		for j := range obs[i].Facts {
			obs[i].Facts[j].Subject = r.subject
		}
	}
	mem, err := json.Marshal(r.next)
	if err != nil {
		return syncer.Result{}, fmt.Errorf("%s: encode sync memory: %w", subj.Key, err)
	}
	s.log().Debug("github sync read", "repo", subj.Key, "observations", len(obs), "etags", len(f.etags))
	return syncer.Result{Observations: obs, State: syncer.State{ETags: f.etags, Memory: mem}}, nil
}

// repoRead is the state of one Read. Each area writes its own fields of next, so the areas
// can run at once.
type repoRead struct {
	s           *Syncer
	f           *fetcher
	owner, name string
	subject     releaseops.Subject
	now, cutoff time.Time
	old, next   syncMemory

	fullName, branch string // from the repository
	repoCall         *fetched
}

// base is the escaped /repos/{owner}/{name} prefix of every path.
func (r *repoRead) base() string {
	return "repos/" + url.PathEscape(r.owner) + "/" + url.PathEscape(r.name)
}

func (s *Syncer) loadMemory(repo string, raw json.RawMessage) syncMemory {
	var m syncMemory
	if len(raw) == 0 {
		return m
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.V != syncMemoryVersion {
		// Reading without memory only costs unconditional requests; nothing is lost.
		s.log().Info("github sync memory unreadable or outdated; reading in full", "repo", repo, "err", err)
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
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				errs[i] = err
				once.Do(func() { first = err })
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return first
}

func (s *Syncer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Syncer) window() time.Duration {
	if s.Window <= 0 {
		return 90 * 24 * time.Hour
	}
	return s.Window
}

func (s *Syncer) parallel() int {
	if s.Parallel <= 0 {
		return 4
	}
	return s.Parallel
}

func (s *Syncer) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}
