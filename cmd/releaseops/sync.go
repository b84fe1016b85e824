package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/syncer"
)

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	source := fs.String("source", "", "only this source (github, pagerduty, terraform); default: every source with API credentials")
	var services multiFlag
	fs.Var(&services, "service", "only the subjects of this service (repeatable)")
	dryRun := fs.Bool("dry-run", false, "read and compare, store nothing")
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 0 {
		return &exitError{code: 2, err: fmt.Errorf("usage: releaseops sync [--source github|pagerduty|terraform] [--service NAME] [--dry-run] [--config FILE]")}
	}
	if _, known := credentialKeys[*source]; *source != "" && !known {
		return &exitError{code: 2, err: fmt.Errorf("unknown source %q: want github, pagerduty or terraform", *source)}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	a, err := app.New(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer a.Shutdown(context.Background()) //nolint:errcheck // reported below when it matters
	sources, err := a.SyncSources()
	if err != nil {
		return err
	}
	var chosen []syncer.Source
	var names []string
	for _, s := range sources {
		names = append(names, s.Name())
		if *source == "" || s.Name() == *source {
			chosen = append(chosen, s)
		}
	}
	if len(chosen) == 0 {
		if *source != "" {
			return &exitError{code: 1, err: fmt.Errorf("source %s has no API credentials configured (configured: %s); set %s", *source, orNone(names), credentialKeys[*source])}
		}
		return &exitError{code: 1, err: fmt.Errorf("no source has API credentials: set %s; or %s; or %s",
			credentialKeys["github"], credentialKeys["pagerduty"], credentialKeys["terraform"])}
	}
	if len(services) > 0 && len(cfg.Catalog.GitHubDiscovery.Orgs) > 0 {
		if err := a.Discover(ctx); err != nil {
			return err
		}
	}
	for _, svc := range services {
		if _, ok := a.Catalog.Get(svc); !ok {
			msg := fmt.Sprintf("unknown service %q", svc)
			if near := a.Catalog.Closest(svc, 3); len(near) > 0 {
				msg += "; did you mean " + strings.Join(near, ", ") + "?"
			}
			return &exitError{code: 1, err: fmt.Errorf("%s", msg)}
		}
	}
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = isatty.IsTerminal(f.Fd())
	}
	runner := a.SyncRunner()
	failed := false
	for _, src := range chosen {
		progress := newProgress(src.Name(), stderr, tty)
		sum, err := runner.Run(ctx, src, syncer.Options{Trigger: "cli", Services: services, DryRun: *dryRun, Progress: progress.step})
		progress.finish()
		printSummary(stdout, sum)
		if err != nil {
			// The other sources still run: one that cannot list its subjects says nothing
			// of the others.
			fmt.Fprintf(stderr, "sync %s: %v\n", src.Name(), err)
			if ctx.Err() != nil {
				return &exitError{code: 1, err: err}
			}
			failed = true
			continue
		}
		if len(sum.Failures) > 0 {
			failed = true
		}
	}
	// Score what was read before exiting, so `releaseops score` shows it at once.
	if !*dryRun {
		for {
			n, err := a.Worker.Step(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}

// progress shows a bar on a terminal and a plain line per subject otherwise (CI logs).
type progress struct {
	mu     sync.Mutex
	source string
	w      io.Writer
	tty    bool
	bar    *progressbar.ProgressBar
}

func newProgress(source string, w io.Writer, tty bool) *progress {
	return &progress{source: source, w: w, tty: tty}
}

func (p *progress) step(done, total int, s syncer.Subject, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		status := "ok"
		if err != nil {
			status = "FAILED: " + err.Error()
		}
		fmt.Fprintf(p.w, "sync %s [%d/%d] %s %s\n", p.source, done, total, s.Key, status)
		return
	}
	if p.bar == nil {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription("sync "+p.source),
			progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	if err != nil {
		_ = p.bar.Clear()
		fmt.Fprintf(p.w, "%s: FAILED: %v\n", s.Key, err)
	}
	_ = p.bar.Set(done)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func printSummary(w io.Writer, s syncer.Summary) {
	mode := ""
	if s.DryRun {
		mode = " (dry run: nothing stored)"
	}
	fmt.Fprintf(w, "sync %s%s: %d subjects, %d observations changed, %d facts %s, %d requests (%d not modified), %d rate-limit waits (%s), %d failed, in %s\n",
		s.Source, mode, s.Subjects, s.Observations, s.Facts, map[bool]string{true: "would be written", false: "written"}[s.DryRun],
		s.Requests, s.NotModified, s.RateWaits, s.RateWaited.Round(time.Second), len(s.Failures), s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond))
	if s.Cancelled > 0 {
		fmt.Fprintf(w, "  interrupted: %d subjects were cut short and will be read by the next run\n", s.Cancelled)
	}
	for _, f := range s.Failures {
		svc := ""
		if f.Service != "" {
			svc = " (service " + f.Service + ")"
		}
		fmt.Fprintf(w, "  FAILED %s%s: %s\n", f.Subject, svc, f.Error)
	}
}

// credentialKeys names what to set for each source's sync.
var credentialKeys = map[string]string{
	"github":    "github.app_id and github.private_key, or github.token",
	"pagerduty": "pagerduty.token",
	"terraform": "terraform.token and terraform.organization",
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*m = append(*m, p)
		}
	}
	return nil
}
