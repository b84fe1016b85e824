package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/ingest"
)

// replayLine is one line of a replay file (SPEC §3.6).
type replayLine struct {
	Source  string            `json:"source"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

func runIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: fmt.Errorf("usage: releaseops ingest FILE [--config FILE]")}
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
	counts, ingestErr := ingestFile(ctx, a.ReplayPipeline(), fs.Arg(0))
	// Score what was ingested before exiting, so `releaseops score` shows it at once.
	if ingestErr == nil {
		for {
			n, err := a.Worker.Step(ctx)
			if err != nil {
				ingestErr = err
				break
			}
			if n == 0 {
				break
			}
		}
		if ingestErr == nil {
			ingestErr = a.Worker.RescoreAll(ctx)
		}
	}
	if err := a.Shutdown(context.Background()); err != nil && ingestErr == nil {
		ingestErr = err
	}
	fmt.Fprintf(stdout, "ingested %s: %d stored, %d duplicate, %d ignored, %d unmapped, %d rejected\n", fs.Arg(0),
		counts[releaseops.OutcomeStored], counts[releaseops.OutcomeDuplicate], counts[releaseops.OutcomeIgnored], counts[releaseops.OutcomeUnmapped], counts["rejected"])
	if ingestErr != nil {
		return ingestErr
	}
	if counts["rejected"] > 0 {
		return &exitError{code: 1}
	}
	return nil
}

// ingestFile replays each line through the pipeline. A bad line is reported with its number
// and skipped; it does not stop the replay.
func ingestFile(ctx context.Context, p *ingest.Pipeline, path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open replay file: %w", err)
	}
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 26<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var l replayLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			p.Log.Error("replay line is not JSON", "file", path, "line", n, "err", err)
			counts["rejected"]++
			continue
		}
		h := http.Header{}
		for k, v := range l.Headers {
			h.Set(k, v)
		}
		res, err := p.Receive(ctx, l.Source, h, l.Body, false)
		if err != nil {
			p.Log.Error("replay line rejected", "file", path, "line", n, "source", l.Source, "err", err)
			counts["rejected"]++
			continue
		}
		counts[res.Outcome]++
	}
	if err := sc.Err(); err != nil {
		return counts, fmt.Errorf("read replay file %s: %w", path, err)
	}
	return counts, nil
}

// reorder moves flags before positional arguments, so "ingest FILE --config X" works.
func reorder(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !containsEq(a) && i+1 < len(args) && !isBoolFlag(fs, a) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// isBoolFlag reports whether the flag named by arg ("--dry-run") takes no value, so that the
// argument after it is not swallowed as its value.
func isBoolFlag(fs *flag.FlagSet, arg string) bool {
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func containsEq(s string) bool {
	for _, c := range s {
		if c == '=' {
			return true
		}
	}
	return false
}
