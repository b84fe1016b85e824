package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// benchOptions are the flags of `releaseops bench`.
type benchOptions struct {
	slackPosts   bool
	apis         string        // --apis: apisNone, apisFake or apisFailing
	apiLatency   time.Duration // --api-latency: each fake API answer's round trip
	rounds       int           // --rounds: commit and deploy alternated this many times
	noSync       bool          // --sync=false: sync.enabled false with the API credentials set
	services     int
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	bodyBytes    int
	out          string
	synchronous  []string
	phases       map[string]bool
	fixtures     string
	cpuProfile   string
	profilePhase string
	readers      int
	keepDatabase bool

	// PostgreSQL (issue 12): --driver postgres runs the phases against replicas on one schema.
	driver       string
	postgresURL  string
	replicas     int
	replicaMode  string
	ceilingConns int
	ceilingTx    string
}

var benchPhases = []string{"echo", "commit", "deploy", "mix"}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tuneGC() // the same runtime settings as serve, for the product and its ceilings alike
	o := benchOptions{}
	fs.IntVar(&o.services, "services", 50, "catalogued services the events are spread over")
	fs.IntVar(&o.concurrency, "concurrency", 50, "concurrent connections posting webhooks (closed loop)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each phase")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each phase")
	fs.IntVar(&o.bodyBytes, "body-bytes", 4096, "size of each deploy event body")
	fs.StringVar(&o.out, "out", "", "also write the results as JSON to this file")
	syncs := fs.String("synchronous", "FULL,NORMAL", "storage.synchronous settings to run, comma-separated")
	phases := fs.String("phases", strings.Join(benchPhases, ","), "phases to run: echo (bare 202 ceiling), commit (verify-and-commit ceiling), deploy (product, deploy events), mix (product, realistic mix with API and Slack readers)")
	fs.StringVar(&o.fixtures, "fixtures", "", "shared fixtures directory (default: ../shared/fixtures if present)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of one phase (--profile-phase) of the first setting to this file")
	fs.StringVar(&o.profilePhase, "profile-phase", "deploy", "the phase --cpuprofile profiles")
	fs.IntVar(&o.readers, "readers", 2, "API readers (GET /api/v1/services/{name}) during the mix phase")
	fs.BoolVar(&o.keepDatabase, "keep", false, "keep the temporary databases and print where they are")
	fs.BoolVar(&o.slackPosts, "slack-posts", false, "set slack.bot_token against a fake Slack on loopback, so every post is sent as in production")
	fs.StringVar(&o.apis, "apis", apisNone, "set github.token and pagerduty.token against fakes on loopback: fake (they answer as the APIs do: sync reads, compares for release notes) or failing (every call answered 502); empty: no API credentials")
	fs.DurationVar(&o.apiLatency, "api-latency", 30*time.Millisecond, "with --apis: the round trip each fake API answer waits")
	fs.IntVar(&o.rounds, "rounds", 1, "run the commit and deploy phases alternately this many times (each --duration) and report each over all its rounds: both sides then see the same neighbours on a shared machine (not with echo; --cpuprofile then covers commit slices too)")
	syncOn := fs.Bool("sync", true, "with --apis: leave the background sync on (sync.enabled's default); false sets sync.enabled: false, so only release notes use the APIs")
	asUsers := fs.Bool("as-users", false, "run the service as users configure it: --slack-posts --apis fake (GitHub, PagerDuty and Slack credentials, every call answered)")
	fs.StringVar(&o.driver, "driver", "sqlite", "storage engine: sqlite (one process; --synchronous settings) or postgres (--replicas on one fresh schema)")
	fs.StringVar(&o.postgresURL, "postgres-url", os.Getenv("RELEASEOPS_STORAGE_POSTGRES_URL"), "postgres: the server (a fresh schema is created there and dropped after)")
	fs.IntVar(&o.replicas, "replicas", 3, "postgres: replicas sharing the schema; deploy events go round-robin over them")
	fs.StringVar(&o.replicaMode, "replica-mode", replicaProcess, "postgres: process (each replica a `releaseops serve` child) or inprocess (app instances in this process, one CPU profile)")
	fs.IntVar(&o.ceilingConns, "ceiling-conns", 0, "postgres: connections of the verify-and-commit ceiling's pgxpool (default: --concurrency)")
	fs.StringVar(&o.ceilingTx, "ceiling-tx", "implicit", "postgres: the ceiling's transaction per request: implicit (the INSERT alone, one round trip) or explicit (BEGIN, INSERT, COMMIT)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if *asUsers {
		o.slackPosts = true
		if o.apis == apisNone {
			o.apis = apisFake
		}
	}
	if o.apis != apisNone && o.apis != apisFake && o.apis != apisFailing {
		return &exitError{code: 2, err: fmt.Errorf("--apis: %q is not fake or failing", o.apis)}
	}
	o.noSync = !*syncOn
	if o.rounds < 1 {
		return &exitError{code: 2, err: fmt.Errorf("--rounds must be at least 1, got %d", o.rounds)}
	}
	if o.services < 1 || o.concurrency < 1 || o.duration <= 0 || o.bodyBytes < 512 {
		return &exitError{code: 2, err: fmt.Errorf("--services and --concurrency must be at least 1, --duration positive, --body-bytes at least 512")}
	}
	for _, s := range strings.Split(*syncs, ",") {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s != "FULL" && s != "NORMAL" && s != "EXTRA" && s != "OFF" {
			return &exitError{code: 2, err: fmt.Errorf("--synchronous: %q is not FULL, NORMAL, EXTRA or OFF", s)}
		}
		o.synchronous = append(o.synchronous, s)
	}
	switch o.driver {
	case "sqlite":
	case storage.DriverPostgres:
		if o.postgresURL == "" {
			return &exitError{code: 2, err: fmt.Errorf("--driver postgres needs --postgres-url (or RELEASEOPS_STORAGE_POSTGRES_URL)")}
		}
		if o.replicas < 1 || (o.replicaMode != replicaProcess && o.replicaMode != replicaInProcess) || (o.ceilingTx != "implicit" && o.ceilingTx != "explicit") {
			return &exitError{code: 2, err: fmt.Errorf("--replicas must be at least 1, --replica-mode process or inprocess, --ceiling-tx implicit or explicit")}
		}
		if o.ceilingConns <= 0 {
			o.ceilingConns = o.concurrency
		}
		o.synchronous = []string{"postgres"}
	default:
		return &exitError{code: 2, err: fmt.Errorf("--driver: %q is not sqlite or postgres", o.driver)}
	}
	o.phases = map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		p = strings.TrimSpace(p)
		if !contains(benchPhases, p) {
			return &exitError{code: 2, err: fmt.Errorf("--phases: unknown phase %q (want %s)", p, strings.Join(benchPhases, ", "))}
		}
		o.phases[p] = true
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := checkBenchCombination(o, set); err != nil {
		return &exitError{code: 2, err: err}
	}
	if o.fixtures == "" {
		if st, err := os.Stat(filepath.Join("..", "shared", "fixtures")); err == nil && st.IsDir() {
			o.fixtures = filepath.Join("..", "shared", "fixtures")
		}
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res := &benchResult{
		Machine:     machine(),
		Command:     "releaseops bench " + strings.Join(redactArgs(args), " "),
		Services:    o.services,
		Concurrency: o.concurrency,
		Duration:    o.duration.String(),
		BodyBytes:   o.bodyBytes,
		StartedAt:   time.Now().UTC(),
	}
	printHeader(stdout, res, o)
	var profile *os.File
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		profile = f
	}
	for i, s := range o.synchronous {
		setting := benchSetting
		if o.driver == storage.DriverPostgres {
			setting = func(ctx context.Context, o benchOptions, _ string, profile *os.File, stdout io.Writer) (benchRun, error) {
				return benchPostgres(ctx, o, profile, stdout)
			}
		}
		run, err := setting(ctx, o, s, profileFor(i, profile), stdout)
		if err != nil {
			return fmt.Errorf("bench synchronous=%s: %w", s, err)
		}
		res.Runs = append(res.Runs, run)
		printRun(stdout, run)
	}
	res.PeakRSSBytes = peakRSS()
	fmt.Fprintf(stdout, "\npeak RSS of the whole process (server + load generator + ceilings): %.0f MB\n", float64(res.PeakRSSBytes)/(1<<20))
	if o.out != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encode results: %w", err)
		}
		if err := os.WriteFile(o.out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		fmt.Fprintf(stdout, "results written to %s\n", o.out)
	}
	return nil
}

func profileFor(i int, f *os.File) *os.File {
	if i == 0 {
		return f
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// randomSecret returns a fresh secret for one bench run.
func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startProfile starts CPU profiling into f (nil: no profile) and returns its stop.
func startProfile(f *os.File) (func(), error) {
	if f == nil {
		return func() {}, nil
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return pprof.StopCPUProfile, nil
}

func machine() benchMachine {
	m := benchMachine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// redactArgs hides the password of a --postgres-url in the command line the results repeat.
func redactArgs(args []string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		name, val, inline := strings.Cut(a, "=")
		if strings.TrimLeft(name, "-") != "postgres-url" {
			continue
		}
		if !inline {
			if i+1 >= len(out) {
				break
			}
			val = out[i+1]
		}
		red := "(redacted)"
		if u, err := url.Parse(val); err == nil && u.Scheme != "" {
			red = u.Redacted()
		}
		if inline {
			out[i] = name + "=" + red
		} else {
			out[i+1] = red
		}
	}
	return out
}
