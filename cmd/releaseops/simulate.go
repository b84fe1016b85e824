package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/scoring"
)

// simRow is one service's score under the current and the proposed config.
type simRow struct {
	Service       string  `json:"service"`
	Before        float64 `json:"before"`
	BeforeBand    string  `json:"before_band"`
	After         float64 `json:"after"`
	AfterBand     string  `json:"after_band"`
	Delta         float64 `json:"delta"`
	BecomesBlock  bool    `json:"becomes_blocked"`
	BeforeLevel   string  `json:"before_level"`
	AfterLevel    string  `json:"after_level"`
	FloorsApplied int     `json:"floors_applied"`
}

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	proposed := fs.String("config", "", "the proposed config (required)")
	current := fs.String("current", "", "the config in force (default: RELEASEOPS_CONFIG, else embedded defaults)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 2}
	}
	if *proposed == "" {
		return &exitError{code: 2, err: fmt.Errorf("usage: releaseops simulate --config NEW.yaml [--current CURRENT.yaml] [--json]")}
	}
	oldCfg, err := loadConfig(*current)
	if err != nil {
		return fmt.Errorf("current config: %w", err)
	}
	newCfg, err := config.Load(*proposed, os.Environ())
	if err != nil {
		return fmt.Errorf("proposed config: %w", err)
	}
	rows, err := simulate(ctx, oldCfg, newCfg, time.Now().UTC())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"services": rows})
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tBEFORE\tBAND\tAFTER\tBAND\tCHANGE\tLEVEL")
	var blocked []string
	for _, r := range rows {
		mark := ""
		if r.BecomesBlock {
			mark = "  ← becomes blocked"
			blocked = append(blocked, r.Service)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%.1f\t%s\t%+.1f\t%s → %s%s\n", r.Service, r.Before, r.BeforeBand, r.After, r.AfterBand, r.Delta, r.BeforeLevel, r.AfterLevel, mark)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d services; %d would become blocked", len(rows), len(blocked))
	if len(blocked) > 0 {
		fmt.Fprintf(stdout, ": %v", blocked)
	}
	fmt.Fprintln(stdout, ". Nothing was written.")
	return nil
}

// simulate scores every service from the stored events under both configs. It only reads.
func simulate(ctx context.Context, oldCfg, newCfg *config.Config, now time.Time) ([]simRow, error) {
	oldEng, err := scoring.Compile(oldCfg.Scoring, oldCfg.Gate.Thresholds, oldCfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("current config: %w", err)
	}
	newEng, err := scoring.Compile(newCfg.Scoring, newCfg.Gate.Thresholds, newCfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("proposed config: %w", err)
	}
	db, err := openExisting(ctx, oldCfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	oldCat, newCat := catalog.New(oldCfg.Services), catalog.New(newCfg.Services)
	names := map[string]bool{}
	scored, err := db.ListScores(ctx)
	if err != nil {
		return nil, err
	}
	for _, s := range scored {
		names[s.Service] = true
	}
	for _, n := range append(oldCat.Names(), newCat.Names()...) {
		names[n] = true
	}
	lookback := max(oldEng.Lookback(), newEng.Lookback())
	var out []simRow
	for name := range names {
		stored, err := db.FactsForService(ctx, name, now.Add(-lookback))
		if err != nil {
			return nil, err
		}
		facts := make([]releaseops.Fact, len(stored))
		for i := range stored {
			facts[i] = stored[i].Fact
		}
		svc := func(c *catalog.Catalog) releaseops.Service {
			if s, ok := c.Get(name); ok {
				return s
			}
			return releaseops.Service{Name: name}
		}
		before := oldEng.Score(scoring.Input{Service: svc(oldCat), Facts: facts, Now: now})
		after := newEng.Score(scoring.Input{Service: svc(newCat), Facts: facts, Now: now})
		out = append(out, simRow{Service: name, Before: before.Score, BeforeBand: before.Band, BeforeLevel: before.Level,
			After: after.Score, AfterBand: after.Band, AfterLevel: after.Level, Delta: round1(after.Score - before.Score),
			BecomesBlock: after.Band == scoring.BandBlocked && before.Band != scoring.BandBlocked, FloorsApplied: len(after.FloorsApplied)})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Delta != out[j].Delta {
			return out[i].Delta < out[j].Delta
		}
		return out[i].Service < out[j].Service
	})
	return out, nil
}

func round1(v float64) float64 {
	if v < 0 {
		return -float64(int64(-v*10+0.5)) / 10
	}
	return float64(int64(v*10+0.5)) / 10
}
