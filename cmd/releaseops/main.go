// Command releaseops is the ReleaseOps binary: it wires the packages together and nothing else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/releaseops/releaseops/config"
)

// Set by the build (-ldflags "-X main.version=... -X main.commit=...").
var (
	version = "dev"
	commit  = "unknown"
)

// exitError carries a process exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

var commands = []struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}{
	{"serve", "serve [--config FILE] [--demo]      run the service", runServe},
	{"score", "score SERVICE [--json] [--config FILE]  print a service's scorecard", runScore},
	{"gate", "gate --service S --env E [--version V] [--commit SHA] [--wait D] [--server URL]  ask the deploy gate: exit 0 allow, 2 block, 3 needs approval", runGate},
	{"audit", "audit verify [--config FILE] [--anchors FILE] [--public-key KEY] | audit keygen  check the audit log's hash chain and its published checkpoints; exit 1 naming the first bad entry", runAudit},
	{"ingest", "ingest FILE [--config FILE]         replay recorded deliveries (JSON lines)", runIngest},
	{"bench", "bench [--services N] [--concurrency C] [--duration D] [--body-bytes B] [--out FILE]  load-test a temporary service on loopback", runBench},
	{"sync", "sync [--source github] [--service NAME] [--dry-run] [--config FILE]  read each source's settings from its API now; exit 1 if any subject failed", runSync},
	{"migrate-db", "migrate-db --to postgres://... [--config FILE] [--timeout D]  copy the SQLite database into an empty PostgreSQL one and check it; exit 1 on any difference", runMigrateDB},
	{"window", "window SERVICE [--hours N] [--json] [--config FILE]  rank the next hours to deploy a service in, best first, with the reasons", runWindow},
	{"risk", "risk backtest [--days 180] [--json] [--config FILE]  replay stored production deploys through the risk model and print its calibration table", runRisk},
	{"simulate", "simulate --config NEW.yaml [--current FILE] [--json]  what a new config would do to every score", runSimulate},
	{"check-config", "check-config [--config FILE] [--live [--timeout D]]   validate a config (--live: and each source's credentials); exit 1 on any problem", runCheckConfig},
	{"version", "version                             print version, commit and Go version", runVersion},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: releaseops COMMAND [flags]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintln(w, "  "+c.usage)
	}
	fmt.Fprintln(w, "\nThe config comes from --config or RELEASEOPS_CONFIG; without either, embedded defaults.")
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		if err == nil {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.err != nil {
				fmt.Fprintln(stderr, "releaseops "+c.name+": "+ee.err.Error())
			}
			return ee.code
		}
		fmt.Fprintln(stderr, "releaseops "+c.name+": "+err.Error())
		return 1
	}
	fmt.Fprintf(stderr, "releaseops: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// loadConfig loads --config, else RELEASEOPS_CONFIG, else the embedded defaults.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		path = os.Getenv("RELEASEOPS_CONFIG")
	}
	return config.Load(path, os.Environ())
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(cfg.Log.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
