package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"gopkg.in/yaml.v3"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/loadtest"
	"github.com/releaseops/releaseops/server"
	"github.com/releaseops/releaseops/storage"
)

// Replica modes of `releaseops bench --driver postgres`.
const (
	replicaProcess   = "process"   // each replica a `releaseops serve` child process
	replicaInProcess = "inprocess" // each replica an app.App inside the bench process (one CPU profile covers them all)
)

// pgReplica is one running replica of the product.
type pgReplica struct {
	base    string // http://127.0.0.1:port
	pid     int
	holder  string // lease holder name, once known (inprocess: at start)
	cmd     *exec.Cmd
	exited  chan error
	a       *app.App
	logPath string
}

// benchPostgres runs the phases against --replicas replicas sharing one fresh schema, with the
// ceilings on PostgreSQL too: the verify-and-commit ceiling inserts into a schema of its own
// through a pgxpool, one transaction per request.
func benchPostgres(ctx context.Context, o benchOptions, profile *os.File, stdout io.Writer) (benchRun, error) {
	run := benchRun{Synchronous: "postgres", Driver: storage.DriverPostgres, Replicas: o.replicas, ReplicaMode: o.replicaMode}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	admin, err := pgxpool.New(ctx, o.postgresURL)
	if err != nil {
		return run, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer admin.Close()
	var syncCommit, version string
	if err := admin.QueryRow(ctx, `SELECT current_setting('synchronous_commit'), current_setting('server_version')`).Scan(&syncCommit, &version); err != nil {
		return run, fmt.Errorf("ask PostgreSQL for its settings: %w", err)
	}
	run.Protects = fmt.Sprintf("PostgreSQL %s, synchronous_commit=%s: a delivery is acknowledged after its commit is flushed to the server's WAL", version, syncCommit)
	var others int
	_ = admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = 'releaseops'`).Scan(&others)
	if others > 0 {
		run.Notes = append(run.Notes, fmt.Sprintf("%d other releaseops connections were open on this server before the run (another test?): pg_stat_activity figures include them", others))
	}

	schema, dropProduct, err := loadtest.FreshSchema(ctx, o.postgresURL, "bench")
	if err != nil {
		return run, err
	}
	ceilSchema, dropCeiling, err := loadtest.FreshSchema(ctx, o.postgresURL, "bench_ceiling")
	if err != nil {
		dropProduct(context.Background()) //nolint:errcheck
		return run, err
	}
	if o.keepDatabase {
		fmt.Fprintf(stdout, "schemas kept: %s (product), %s (ceiling)\n", schema, ceilSchema)
	} else {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := errors.Join(dropProduct(dctx), dropCeiling(dctx)); err != nil {
				log.Warn("drop bench schemas", "err", err)
			}
		}()
	}
	productURL := loadtest.WithSearchPath(o.postgresURL, schema)
	dir, err := os.MkdirTemp("", "releaseops-bench-pg-")
	if err != nil {
		return run, fmt.Errorf("temporary directory: %w", err)
	}
	if !o.keepDatabase {
		defer os.RemoveAll(dir)
	}

	secrets := loadtest.Secrets{GitHub: randomSecret(), PagerDuty: randomSecret(), Deploy: randomSecret(), Terraform: randomSecret(), Slack: randomSecret()}
	token := randomSecret()
	newCfg := func() *config.Config {
		cfg := benchConfig(o, "FULL", filepath.Join(dir, "unused.db"), secrets, token)
		cfg.Storage.Driver = storage.DriverPostgres
		cfg.Storage.PostgresURL = config.NewSecret(productURL)
		return cfg
	}
	cfg := newCfg()

	// The ceilings: the product's own server stack (server.New: the same http.Server,
	// middleware and in-flight cap), in this process, beside the load generator.
	ceil, err := loadtest.NewPGCeiling(ctx, loadtest.WithSearchPath(o.postgresURL, ceilSchema), o.ceilingConns, o.ceilingTx == "explicit", secrets.Deploy, cfg.Server.MaxBodyBytes)
	if err != nil {
		return run, err
	}
	defer ceil.Close()
	ceilSrv := server.New(server.Deps{Config: cfg, Metrics: server.NewMetrics(), Log: log})
	ceil.Mount(ceilSrv.Echo())
	cln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return run, fmt.Errorf("listen on loopback: %w", err)
	}
	go ceilSrv.Serve(cln) //nolint:errcheck // ends with Shutdown
	defer ceilSrv.Shutdown(context.Background())
	ceilBase := "http://" + cln.Addr().String()

	// The replicas, all on one schema; the first to start migrates it.
	var reps []*pgReplica
	defer func() { stopReplicas(reps, log) }()
	for i := 0; i < o.replicas; i++ {
		var r *pgReplica
		if o.replicaMode == replicaInProcess {
			r, err = startInProcessReplica(ctx, newCfg(), log)
		} else {
			r, err = startProcessReplica(ctx, cfg, productURL, dir, i)
		}
		if err != nil {
			return run, fmt.Errorf("replica %d: %w", i+1, err)
		}
		reps = append(reps, r)
	}
	if err := waitReady(ctx, reps); err != nil {
		return run, err
	}
	fmt.Fprintf(stdout, "  %d replicas (%s) ready on schema %s; ceilings on %s\n", len(reps), o.replicaMode, schema, ceilBase)
	hosts := make([]string, len(reps))
	for i, r := range reps {
		hosts[i] = strings.TrimPrefix(r.base, "http://")
	}
	if o.replicaMode == replicaProcess {
		run.Notes = append(run.Notes, "CPU profile (--cpuprofile), if any, covers this process only: the load generator and the ceilings, not the replicas (use --replica-mode inprocess to profile them)")
	}

	mix, notes, err := loadtest.NewMix(serviceNames(o.services), secrets, o.bodyBytes, o.fixtures, randomSecret()[:8])
	if err != nil {
		return run, err
	}
	run.Notes = append(run.Notes, notes...)
	conns := o.concurrency + o.readers + 4
	ceilClient := loadtest.NewClient(conns)
	rrClient := loadtest.NewClient(conns)
	rr := &loadtest.RoundRobin{Next: rrClient.Transport, Hosts: hosts, SlowOver: slowAnswer}
	rrClient.Transport = rr
	probeClient := loadtest.NewClient(4)
	hasSlash := routeExists(ctx, probeClient, reps[0].base+slashPath)
	if !hasSlash {
		run.Notes = append(run.Notes, "no /slack/commands route in this build: Slack latency not measured")
	}
	deployTo := func(label, path string) loadtest.Load {
		return loadtest.Load{Workers: o.concurrency, Next: func(w *loadtest.Worker) loadtest.Request { return mix.Deploy(label, path, w) }}
	}
	cpu := loadtest.CPUGroups{Pids: map[string][]int{"bench process (load generator, ceilings" + inProcessSuffix(o) + ")": {os.Getpid()}},
		Comms: map[string]string{"PostgreSQL (every backend)": "postgres"}}
	if o.replicaMode == replicaProcess {
		var pids []int
		for _, r := range reps {
			pids = append(pids, r.pid)
		}
		cpu.Pids[fmt.Sprintf("%d replicas", len(reps))] = pids
	}

	phase := func(name string, fn func() (benchPhase, error)) error {
		if !o.phases[name] || ctx.Err() != nil {
			return nil
		}
		fmt.Fprintf(stdout, "  running postgres/%s for %s…\n", name, o.warmup+o.duration)
		var stopProfile func()
		if name == o.profilePhase {
			var err error
			if stopProfile, err = startProfile(profile); err != nil {
				return err
			}
		}
		act, err := loadtest.StartPGActivity(ctx, o.postgresURL, 10*time.Millisecond)
		if err != nil {
			return err
		}
		c0 := cpu.Sample()
		pg0, pgErr := loadtest.ReadPGCounters(ctx, admin)
		rr.ByHost() // warm-ups and earlier phases do not count
		p, err := fn()
		p.CPU = cpu.Sample().CoresSince(c0)
		if by := rr.ByHost(); by[0].Requests > 0 {
			p.Replicas = withLeases(ctx, admin, schema, reps, by)
		}
		if pg1, err1 := loadtest.ReadPGCounters(ctx, admin); pgErr == nil && err1 == nil {
			r := pg1.RatesSince(pg0)
			p.PG = &r
		}
		p.Waits, p.PGRoundTrip = act.Stop()
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
	countProduct := func() (int64, error) {
		var n int64
		err := admin.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.deliveries`).Scan(&n)
		return n, err
	}
	err = errors.Join(
		phase("echo", func() (benchPhase, error) {
			rep := loadtest.Run(ctx, ceilClient, ceilBase, o.warmup, o.duration, deployTo("POST "+loadtest.EchoPath, loadtest.EchoPath))
			return phaseOf(rep), nil
		}),
		phase("commit", func() (benchPhase, error) {
			rep := loadtest.Run(ctx, ceilClient, ceilBase, o.warmup, o.duration, deployTo("POST "+loadtest.CommitPath, loadtest.CommitPath))
			p := phaseOf(rep)
			var err error
			p.Stored, err = ceil.Count(ctx)
			return p, err
		}),
		phase("deploy", func() (benchPhase, error) {
			// The writers' figures are read when the warm-up ends, so that they cover the
			// measured time only.
			var before batchStats
			warmed := make(chan struct{})
			go func() {
				defer close(warmed)
				select {
				case <-time.After(o.warmup):
				case <-ctx.Done():
				}
				before = scrapeBatches(ctx, probeClient, reps)
			}()
			rep := loadtest.Run(ctx, rrClient, reps[0].base, o.warmup, o.duration, deployTo("POST /webhooks/deploy", "/webhooks/deploy"))
			<-warmed
			p := phaseOf(rep)
			p.AvgBatch, p.WriterBusy = writerUse(before, scrapeBatches(ctx, probeClient, reps), rep.Elapsed.Seconds())
			var err error
			p.Stored, err = countProduct()
			return p, err
		}),
		phase("mix", func() (benchPhase, error) {
			// The marker events go to a replica that does not hold the rescoring lease, so the
			// measured time crosses replicas: commit on one, NOTIFY, rescore on another, read
			// back through the first.
			probe, holder, err := probeReplica(ctx, admin, schema, reps)
			if err != nil {
				return benchPhase{}, err
			}
			run.Notes = append(run.Notes, fmt.Sprintf("score-lag markers sent to and read from %s; rescoring lease held by %s", probe.base, holder))
			m0, t0 := scrapeMetrics(ctx, probeClient, reps), time.Now()
			p, err := benchMix(ctx, o, rrClient, reps[0].base, probeClient, probe.base, mix, token, hasSlash)
			m1, el := scrapeMetrics(ctx, probeClient, reps), time.Since(t0)
			d := func(k string) float64 { return m1[k] - m0[k] }
			if n := d("releaseops_score_lag_seconds_count"); n > 0 && p.ScoreLag != nil {
				p.ScoreLag.Rounds, p.ScoreLag.RoundsPerSec = int(n), n/el.Seconds()
				p.ScoreLag.RoundLag = time.Duration(d("releaseops_score_lag_seconds_sum") / n * float64(time.Second))
				p.ScoreLag.Rescores = int(d("releaseops_rescores_total"))
				if r := d("releaseops_rescore_seconds_count"); r > 0 {
					p.ScoreLag.RescoreMean = time.Duration(d("releaseops_rescore_seconds_sum") / r * float64(time.Second))
				}
			}
			return p, err
		}),
	)
	for i, r := range reps {
		if r.exited == nil {
			continue
		}
		select {
		case werr := <-r.exited:
			err = errors.Join(err, fmt.Errorf("replica %d exited during the bench: %v (log: %s)", i+1, werr, tail(r.logPath)))
			r.exited = nil
		default:
		}
	}
	return run, err
}

func inProcessSuffix(o benchOptions) string {
	if o.replicaMode == replicaInProcess {
		return fmt.Sprintf(", %d replicas", o.replicas)
	}
	return ""
}

// startProcessReplica starts `releaseops serve` (this binary) on a free loopback port with the
// bench's configuration; secrets and services go in a 0600 file, the URL in the environment.
func startProcessReplica(ctx context.Context, cfg *config.Config, url, dir string, i int) (*pgReplica, error) {
	path := filepath.Join(dir, "replica.yaml")
	if _, err := os.Stat(path); err != nil {
		if err := writeReplicaConfig(path, cfg); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find this binary: %w", err)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("replica-%d.log", i+1))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "serve", "--config", path)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RELEASEOPS_") { // a stray RELEASEOPS_* would override or be refused
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "RELEASEOPS_LISTEN=127.0.0.1:"+strconv.Itoa(port), "RELEASEOPS_STORAGE_POSTGRES_URL="+url)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s serve: %w", self, err)
	}
	logf.Close() // the child holds its own descriptor
	r := &pgReplica{base: "http://127.0.0.1:" + strconv.Itoa(port), pid: cmd.Process.Pid, cmd: cmd, exited: make(chan error, 1), logPath: logPath}
	go func() { r.exited <- cmd.Wait() }()
	return r, nil
}

func writeReplicaConfig(path string, cfg *config.Config) error {
	secret := func(s config.Secret) string { return s.Value() }
	var pd []string
	for _, s := range cfg.PagerDuty.WebhookSecrets {
		pd = append(pd, s.Value())
	}
	var tokens []map[string]any
	for _, t := range cfg.API.Tokens {
		tokens = append(tokens, map[string]any{"name": t.Name, "token": t.Token.Value(), "scopes": t.Scopes})
	}
	doc := map[string]any{
		"public_url": cfg.PublicURL,
		"log":        map[string]any{"level": cfg.Log.Level},
		"storage":    map[string]any{"driver": storage.DriverPostgres, "connect_retry": "10s"},
		"github":     map[string]any{"webhook_secret": secret(cfg.GitHub.WebhookSecret)},
		"pagerduty":  map[string]any{"webhook_secrets": pd},
		"deploy":     map[string]any{"webhook_secret": secret(cfg.Deploy.WebhookSecret)},
		"terraform":  map[string]any{"webhook_secret": secret(cfg.Terraform.WebhookSecret)},
		"slack":      map[string]any{"signing_secret": secret(cfg.Slack.SigningSecret)},
		"api":        map[string]any{"tokens": tokens},
		"services":   cfg.Services,
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode replica config: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write replica config: %w", err)
	}
	return nil
}

func startInProcessReplica(ctx context.Context, cfg *config.Config, log *slog.Logger) (*pgReplica, error) {
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return nil, fmt.Errorf("start the service: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.Shutdown(context.Background()) //nolint:errcheck
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	a.Start()
	go a.Serve(ln) //nolint:errcheck // ends with Shutdown
	return &pgReplica{base: "http://" + ln.Addr().String(), pid: os.Getpid(), holder: a.DB.Holder(), a: a}, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls every replica's /readyz until it answers 200.
func waitReady(ctx context.Context, reps []*pgReplica) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for _, r := range reps {
		for {
			if r.exited != nil {
				select {
				case err := <-r.exited:
					r.exited = nil
					return fmt.Errorf("replica %s exited at start: %v: %s", r.base, err, tail(r.logPath))
				default:
				}
			}
			resp, err := client.Get(r.base + "/readyz")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("replica %s not ready within 60 s: %s", r.base, tail(r.logPath))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func stopReplicas(reps []*pgReplica, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, r := range reps {
		wg.Add(1)
		go func(r *pgReplica) {
			defer wg.Done()
			if r.a != nil {
				sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := r.a.Shutdown(sctx); err != nil {
					log.Warn("shutdown after bench", "err", err)
				}
				return
			}
			if r.exited == nil {
				return
			}
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-r.exited:
			case <-time.After(25 * time.Second):
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
		}(r)
	}
	wg.Wait()
}

// tail returns the last lines of a replica's log, for error messages.
func tail(path string) string {
	if path == "" {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-5):], " | ")
}

func routeExists(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(""))
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
}

// probeReplica returns a replica that does not hold the rescoring lease (the only one if
// there is one replica), and the holder's name.
func probeReplica(ctx context.Context, admin *pgxpool.Pool, schema string, reps []*pgReplica) (*pgReplica, string, error) {
	var holder string
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := admin.QueryRow(ctx, `SELECT holder FROM `+schema+`.leases WHERE name = $1 AND expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint`, storage.LeaseRescore).Scan(&holder)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, "", fmt.Errorf("no replica holds the rescoring lease: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range reps {
		if !r.holds(holder) {
			return r, holder, nil
		}
	}
	return reps[0], holder, nil
}

// holds reports whether holder (a leases row's) is this replica.
func (r *pgReplica) holds(holder string) bool {
	if r.holder != "" {
		return r.holder == holder
	}
	parts := strings.Split(holder, "/") // host/pid/random
	return len(parts) >= 2 && parts[1] == strconv.Itoa(r.pid)
}

// slowAnswer is what the bench counts as a slow answer per replica: a tail that comes from one
// of them shows as its share of these.
const slowAnswer = 40 * time.Millisecond

// withLeases adds to each replica's tally (in reps order) the leases it holds now.
func withLeases(ctx context.Context, admin *pgxpool.Pool, schema string, reps []*pgReplica, by []loadtest.HostTally) []loadtest.HostTally {
	rows, err := admin.Query(ctx, `SELECT name, holder FROM `+schema+`.leases WHERE expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint ORDER BY name`)
	if err != nil {
		return by // the counts alone still say where the tail is
	}
	defer rows.Close()
	for rows.Next() {
		var name, holder string
		if rows.Scan(&name, &holder) != nil {
			return by
		}
		for i, r := range reps {
			if i < len(by) && r.holds(holder) {
				by[i].Leases = append(by[i].Leases, name)
			}
		}
	}
	if rows.Err() != nil {
		for i := range by {
			by[i].Leases = nil // a partial list would point at the wrong replica
		}
	}
	return by
}

// scrapeBatches sums the writers' batch figures over the replicas' /metrics.
func scrapeBatches(ctx context.Context, client *http.Client, reps []*pgReplica) batchStats {
	m := scrapeMetrics(ctx, client, reps)
	return batchStats{count: m["releaseops_writer_batch_size_count"], requests: m["releaseops_writer_batch_size_sum"], seconds: m["releaseops_writer_commit_seconds_sum"]}
}

// scrapeMetrics sums every unlabelled sample of the replicas' /metrics by name.
func scrapeMetrics(ctx context.Context, client *http.Client, reps []*pgReplica) map[string]float64 {
	sum := map[string]float64{}
	for _, r := range reps {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/metrics", nil)
		if err != nil {
			continue
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			name, v, ok := strings.Cut(sc.Text(), " ")
			if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
				continue
			}
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				sum[name] += f
			}
		}
		resp.Body.Close()
	}
	return sum
}
