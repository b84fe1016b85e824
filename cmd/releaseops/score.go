package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"

	"github.com/releaseops/releaseops/internal/nearest"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	asJSON := fs.Bool("json", false, "print the scorecard JSON (the same as GET /api/v1/services/{name})")
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: fmt.Errorf("usage: releaseops score SERVICE [--json] [--config FILE]")}
	}
	name := fs.Arg(0)
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	row, err := db.GetScore(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		rows, _ := db.ListScores(ctx)
		var names []string
		for _, r := range rows {
			names = append(names, r.Service)
		}
		msg := fmt.Sprintf("unknown service %q", name)
		if near := closest(name, names); len(near) > 0 {
			msg += "; did you mean " + strings.Join(near, ", ") + "?"
		}
		return &exitError{code: 1, err: errors.New(msg)}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		var v any
		if err := json.Unmarshal(row.Card, &v); err != nil {
			return fmt.Errorf("decode scorecard of %s: %w", name, err)
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	var card scoring.Scorecard
	if err := json.Unmarshal(row.Card, &card); err != nil {
		return fmt.Errorf("decode scorecard of %s: %w", name, err)
	}
	color := false
	if f, ok := stdout.(*os.File); ok && os.Getenv("NO_COLOR") == "" {
		color = isatty.IsTerminal(f.Fd())
	}
	renderScorecard(stdout, &card, color)
	return nil
}

func closest(name string, names []string) []string {
	return nearest.Among(name, names, 3)
}
