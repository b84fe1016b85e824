package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/loadtest"
	"github.com/releaseops/releaseops/storage"
)

const (
	benchMarker   = "bench-marker"
	benchReadWait = 5 * time.Millisecond // pause between an API reader's requests
	slashPath     = "/slack/commands"
)

func peakRSS() int64 { return loadtest.PeakRSS() }

// benchSetting runs every phase against one fresh service on a temporary database with one
// storage.synchronous setting.
func benchSetting(ctx context.Context, o benchOptions, syncMode string, profile *os.File, stdout io.Writer) (benchRun, error) {
	run := benchRun{Synchronous: syncMode, Protects: protects(syncMode)}
	dir, err := os.MkdirTemp("", "releaseops-bench-")
	if err != nil {
		return run, fmt.Errorf("temporary directory: %w", err)
	}
	if o.keepDatabase {
		fmt.Fprintf(stdout, "databases kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	secrets := loadtest.Secrets{GitHub: randomSecret(), PagerDuty: randomSecret(), Deploy: randomSecret(), Terraform: randomSecret(), Slack: randomSecret()}
	token := randomSecret()
	cfg := benchConfig(o, syncMode, filepath.Join(dir, "releaseops.db"), secrets, token)
	if o.slackPosts {
		fs, err := startFakeSlack()
		if err != nil {
			return run, fmt.Errorf("fake Slack: %w", err)
		}
		defer fs.close()
		fs.configure(cfg)
	}
	var apis *benchAPIs
	if o.apis != apisNone {
		apis, err = startBenchAPIs(o.apis, append(serviceNames(o.services), benchMarker), o.apiLatency)
		if err != nil {
			return run, fmt.Errorf("fake APIs: %w", err)
		}
		defer apis.close()
		apis.configure(cfg)
		if o.noSync {
			off := false
			cfg.Sync.Enabled = &off
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return run, fmt.Errorf("start the service: %w", err)
	}
	dbOpts := storage.DefaultOptions()
	dbOpts.Synchronous, dbOpts.BusyTimeout, dbOpts.MaxBatch, dbOpts.Logger = cfg.Storage.Synchronous, cfg.Storage.BusyTimeout.Std(), cfg.Storage.MaxBatch, log
	ceil, err := loadtest.NewCeilings(ctx, filepath.Join(dir, "ceiling.db"), dbOpts, secrets.Deploy, cfg.Server.MaxBodyBytes)
	if err != nil {
		a.Shutdown(context.Background()) //nolint:errcheck
		return run, err
	}
	defer ceil.Close()
	ceil.Mount(a.Server.Echo())
	hasSlash := hasRoute(a, http.MethodPost, slashPath)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Shutdown(context.Background()) //nolint:errcheck
		return run, fmt.Errorf("listen on loopback: %w", err)
	}
	a.Start()
	serveErr := make(chan error, 1)
	go func() { serveErr <- a.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := a.Shutdown(sctx); err != nil {
			log.Warn("shutdown after bench", "err", err)
		}
	}()
	base := "http://" + ln.Addr().String()

	mix, notes, err := loadtest.NewMix(serviceNames(o.services), secrets, o.bodyBytes, o.fixtures, randomSecret()[:8])
	if err != nil {
		return run, err
	}
	run.Notes = append(run.Notes, notes...)
	if !hasSlash {
		run.Notes = append(run.Notes, "no /slack/commands route in this build (the Slack bot has not landed): Slack latency not measured")
	}
	client := loadtest.NewClient(o.concurrency + o.readers + 4)
	deployTo := func(label, path string) loadtest.Load {
		return loadtest.Load{Workers: o.concurrency, Next: func(w *loadtest.Worker) loadtest.Request { return mix.Deploy(label, path, w) }}
	}

	alternated := false // set below, before any phase runs: commit and deploy ran in --rounds slices
	phase := func(name string, fn func() (benchPhase, error)) error {
		if !o.phases[name] || ctx.Err() != nil {
			return nil
		}
		if !alternated || (name != "commit" && name != "deploy") {
			fmt.Fprintf(stdout, "  running %s/%s for %s…\n", syncMode, name, o.warmup+o.duration)
		}
		var stopProfile func()
		if name == o.profilePhase {
			var err error
			if stopProfile, err = startProfile(profile); err != nil {
				return err
			}
		}
		p, err := fn()
		if stopProfile != nil {
			stopProfile()
		}
		if err != nil {
			return fmt.Errorf("phase %s: %w", name, err)
		}
		p.Name = name
		p.RSSBytes = peakRSS()
		run.Phases = append(run.Phases, p)
		return nil
	}
	commitSlice := func() benchSlice {
		s := benchSlice{before: readCPU()}
		b, w, t := ceil.WriterStats()
		s.b0 = batchStats{float64(b), float64(w), t.Seconds()}
		s.rep = loadtest.Run(ctx, client, base, o.warmup, o.duration, deployTo("POST "+loadtest.CommitPath, loadtest.CommitPath))
		b, w, t = ceil.WriterStats()
		s.b1 = batchStats{float64(b), float64(w), t.Seconds()}
		s.after = readCPU()
		return s
	}
	deploySlice := func() benchSlice {
		s := benchSlice{before: readCPU(), b0: gatherBatches(a)}
		s.rep = loadtest.Run(ctx, client, base, o.warmup, o.duration, deployTo("POST /webhooks/deploy", "/webhooks/deploy"))
		s.b1, s.after = gatherBatches(a), readCPU()
		return s
	}
	var commitRounds, deployRounds benchRounds
	alternated = o.rounds > 1 && o.phases["commit"] && o.phases["deploy"] && !o.phases["echo"]
	if alternated {
		fmt.Fprintf(stdout, "  running %s/commit and %s/deploy alternately, %d rounds of %s each…\n", syncMode, syncMode, o.rounds, o.warmup+o.duration)
		for i := 0; i < o.rounds && ctx.Err() == nil; i++ {
			c, d := commitSlice(), deploySlice()
			commitRounds.add(c)
			deployRounds.add(d)
			fmt.Fprintf(stdout, "    round %d: %s\n", i+1, sliceLine(c, d))
		}
	}
	err = errors.Join(
		phase("echo", func() (benchPhase, error) {
			rep := loadtest.Run(ctx, client, base, o.warmup, o.duration, deployTo("POST "+loadtest.EchoPath, loadtest.EchoPath))
			return phaseOf(rep), nil
		}),
		phase("commit", func() (benchPhase, error) {
			if commitRounds.n == 0 {
				commitRounds.add(commitSlice())
			}
			p := commitRounds.phase(o.warmup, o.duration)
			var err error
			p.Stored, err = ceil.Count(ctx)
			return p, err
		}),
		phase("deploy", func() (benchPhase, error) {
			if deployRounds.n == 0 {
				deployRounds.add(deploySlice())
			}
			p := deployRounds.phase(o.warmup, o.duration)
			var err error
			p.Stored, err = a.DB.CountDeliveries(ctx)
			return p, err
		}),
		phase("mix", func() (benchPhase, error) { return benchMix(ctx, o, client, base, client, base, mix, token, hasSlash) }),
	)
	if apis != nil {
		run.Notes = append(run.Notes, apis.summary())
	}
	select {
	case err2 := <-serveErr:
		err = errors.Join(err, err2)
	default:
	}
	return run, err
}

// benchMix drives the realistic mix with API readers, Slack commands and the score-lag probe
// running alongside. The probe posts its markers to probeBase through probeClient and reads
// the score back from there (with replicas: one that does not run the rescoring).
func benchMix(ctx context.Context, o benchOptions, client *http.Client, base string, probeClient *http.Client, probeBase string, mix *loadtest.Mix, token string, hasSlash bool) (benchPhase, error) {
	loads := []loadtest.Load{
		{Workers: o.concurrency, Next: mix.Webhook},
		{Workers: o.readers, Pace: benchReadWait, Next: func(w *loadtest.Worker) loadtest.Request { return mix.ServiceGet(token, w) }},
	}
	var sink *responseSink
	if hasSlash {
		var err error
		if sink, err = newResponseSink(); err != nil {
			return benchPhase{}, err
		}
		defer sink.Close()
		loads = append(loads, loadtest.Load{Workers: 1, Pace: benchReadWait, Next: func(w *loadtest.Worker) loadtest.Request { return mix.SlashCommand(sink.URL, w) }})
	}
	lagCtx, cancel := context.WithTimeout(ctx, o.warmup+o.duration)
	defer cancel()
	var (
		lags     []time.Duration
		failures int
		lagErr   error
		wg       sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		probe := &loadtest.ScoreLag{Client: probeClient, Base: probeBase, Token: token, Service: benchMarker, Mix: mix, Poll: 5 * time.Millisecond}
		lags, failures, lagErr = probe.Run(lagCtx, 1000, 10*time.Second)
	}()
	rep := loadtest.Run(ctx, client, base, o.warmup, o.duration, loads...)
	wg.Wait()
	p := phaseOf(rep)
	p.ScoreLag = &benchLag{Samples: len(lags), Failures: failures}
	if len(lags) > 0 {
		p.ScoreLag.P50 = loadtest.Percentile(lags, 0.5)
		p.ScoreLag.P99 = loadtest.Percentile(lags, 0.99)
		p.ScoreLag.Max = lags[len(lags)-1]
	}
	if lagErr != nil {
		p.ScoreLag.Error = lagErr.Error()
	}
	return p, nil
}

func benchConfig(o benchOptions, syncMode, dbPath string, s loadtest.Secrets, token string) *config.Config {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = "http://127.0.0.1"
	cfg.Log.Level = "warn"
	cfg.Storage.SQLitePath = dbPath
	cfg.Storage.Synchronous = syncMode
	cfg.GitHub.WebhookSecret = config.NewSecret(s.GitHub)
	cfg.PagerDuty.WebhookSecrets = []config.Secret{config.NewSecret(s.PagerDuty)}
	cfg.Deploy.WebhookSecret = config.NewSecret(s.Deploy)
	cfg.Terraform.WebhookSecret = config.NewSecret(s.Terraform)
	// A signing secret turns the slash command on where the bot exists; no bot token, so
	// nothing is ever posted: messages stay in the outbox.
	cfg.Slack.SigningSecret = config.NewSecret(s.Slack)
	cfg.API.Tokens = []config.APIToken{{Name: "bench", Token: config.NewSecret(token), Scopes: []string{"read", "gate"}}}
	cfg.Services = append(cfg.Services, releaseops.Service{Name: benchMarker, Repo: "bench/" + benchMarker, Owner: "team-bench"})
	for i := 0; i < o.services; i++ {
		cfg.Services = append(cfg.Services, releaseops.Service{
			Name: loadtest.ServiceName(i), Repo: "bench/" + loadtest.ServiceName(i), Owner: "team-bench", Tier: 1 + i%3,
			SlackChannel: "C0BENCH", Approvers: []string{"U0APPROVER", "U0APPROVER2"}, PagerDutyServiceID: loadtest.PagerDutyID(i),
			RunbookURL: "https://wiki.example.com/runbook", SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.9}},
			StructuredLogging: true, Stateful: i%2 == 0,
		})
	}
	return &cfg
}

func serviceNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = loadtest.ServiceName(i)
	}
	return out
}

func hasRoute(a *app.App, method, path string) bool {
	for _, r := range a.Server.Echo().Routes() {
		if r.Method == method && r.Path == path {
			return true
		}
	}
	return false
}

// protects says what a synchronous setting protects an acknowledged delivery against.
func protects(mode string) string {
	switch mode {
	case "FULL", "EXTRA":
		return "WAL fsynced at every group commit: an acknowledged delivery survives a process crash and a power loss"
	case "NORMAL":
		return "WAL fsynced only at checkpoints: survives a process crash (kill -9); a power loss or OS crash may drop the last commits"
	default:
		return "no fsync: survives a process crash only while the OS stays up; not for production"
	}
}

// responseSink stands in for Slack's response_url on loopback: it accepts and drops the
// delayed answers of slash commands.
type responseSink struct {
	URL string
	srv *http.Server
}

func newResponseSink() (*responseSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for response_url sink: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	return &responseSink{URL: "http://" + ln.Addr().String() + "/response", srv: srv}, nil
}

func (s *responseSink) Close() { s.srv.Close() }
