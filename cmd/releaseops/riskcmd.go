package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/risk"
)

const riskUsage = "usage: releaseops risk backtest [--days 180] [--json] [--config FILE]"

func runRisk(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "backtest" {
		return &exitError{code: 2, err: fmt.Errorf("%s", riskUsage)}
	}
	fs := flag.NewFlagSet("risk backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	days := fs.Int("days", 180, "replay the production deploys of the last N days")
	asJSON := fs.Bool("json", false, "print the calibration table as JSON")
	at := fs.String("now", "", "replay up to this time (RFC 3339) instead of now, e.g. to reproduce a report")
	if err := fs.Parse(reorder(fs, args[1:])); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 0 {
		return &exitError{code: 2, err: fmt.Errorf("%s", riskUsage)}
	}
	if *days < 1 || *days > 3650 {
		return &exitError{code: 2, err: fmt.Errorf("--days: want a whole number from 1 to 3650, got %d", *days)}
	}
	now, err := nowFlag(*at)
	if err != nil {
		return err
	}
	cfg, db, err := openConfigured(ctx, *path)
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	c, err := app.Backtest(ctx, cfg, db, gate.BacktestRequest{Since: now.AddDate(0, 0, -*days), Until: now})
	if err != nil {
		return fmt.Errorf("backtest: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	renderCalibration(stdout, c, *days)
	// On stderr: the time taken is about this machine, not the model.
	fmt.Fprintf(stderr, "replayed in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// renderCalibration prints the table a release manager reads to judge the model: the
// failure rate should rise with the level, and high should catch many of the failures.
func renderCalibration(w io.Writer, c risk.Calibration, days int) {
	span := ""
	if c.Deploys > 0 {
		span = fmt.Sprintf(" from %s to %s", c.From.UTC().Format("2006-01-02 15:04"), c.To.UTC().Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(w, "risk backtest, the last %d days: %d production deploys of %d services%s; %d failed or rolled back (%s)\n\n",
		days, c.Deploys, c.Services, span, c.Failed, pct(c.Failed, c.Deploys))
	fmt.Fprintf(w, "%-8s %8s %8s %13s %11s\n", "LEVEL", "DEPLOYS", "FAILED", "FAILURE RATE", "MEAN SCORE")
	for _, r := range c.Levels {
		mean := "-"
		if r.Deploys > 0 {
			mean = fmt.Sprintf("%.1f", r.MeanScore)
		}
		fmt.Fprintf(w, "%-8s %8d %8d %13s %11s\n", r.Level, r.Deploys, r.Failed, pct(r.Failed, r.Deploys), mean)
	}
	fmt.Fprintf(w, "\nfailed deploys rated high: %d of %d (%s)\n", c.FailedRatedHigh, c.Failed, pct(c.FailedRatedHigh, c.Failed))
	if c.Deploys == 0 {
		fmt.Fprintln(w, "no production deploy stored in these days: nothing to judge the model by yet")
	}
}

func pct(n, of int) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}
