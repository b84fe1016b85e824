package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/releaseops/releaseops/config"
)

func runCheckConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	live := fs.Bool("live", false, "also call each configured source's API: who the credentials act as, missing permissions or scopes, what is visible, webhook secrets")
	timeout := fs.Duration("timeout", 10*time.Second, "with --live: the limit on each API call")
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 0 {
		return &exitError{code: 2, err: fmt.Errorf("usage: releaseops check-config [--config FILE] [--live [--timeout D]] (unexpected %q)", fs.Arg(0))}
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "check-config: --timeout must be positive")
		return &exitError{code: 2}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		var p *config.Problems
		if errors.As(err, &p) {
			fmt.Fprintf(stdout, "%s: %d problem(s)\n", p.Source, len(p.List))
			for _, line := range p.List {
				fmt.Fprintln(stdout, "  "+line)
			}
			return &exitError{code: 1}
		}
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintf(stdout, "config ok: %d services declared, sources: github=%v pagerduty=%v deploy=%v terraform=%v, slack posting=%v\n",
		len(cfg.Services), cfg.GitHubEnabled(), cfg.PagerDutyEnabled(), cfg.DeployEnabled(), cfg.TerraformEnabled(), cfg.Slack.BotToken.IsSet())
	for _, w := range cfg.InitiativeWarnings(time.Now(), cfg.Services) {
		fmt.Fprintln(stdout, "  warning: "+w)
	}
	if !*live {
		return nil
	}
	reports := runLiveChecks(ctx, cfg, *timeout, newLogger(cfg, stderr))
	if printLive(stdout, reports, *timeout) > 0 {
		return &exitError{code: 1}
	}
	return nil
}
