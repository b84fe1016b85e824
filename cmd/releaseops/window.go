package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/app"
	"github.com/releaseops/releaseops/risk"
)

func runWindow(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("window", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	hours := fs.Int("hours", 72, "how many hours ahead to rank, 1 to 336")
	env := fs.String("env", "production", "the environment whose windows and blackouts apply")
	top := fs.Int("top", 10, "how many of the best slots to show with their reasons (the rest are summed up; --json has all)")
	asJSON := fs.Bool("json", false, "print the JSON of GET /api/v1/services/{name}/windows")
	at := fs.String("now", "", "rank from this time (RFC 3339) instead of now, e.g. to reproduce a report")
	if err := fs.Parse(reorder(fs, args)); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() != 1 {
		return &exitError{code: 2, err: fmt.Errorf("usage: releaseops window SERVICE [--hours N] [--env E] [--json] [--config FILE]")}
	}
	if *top < 1 {
		return &exitError{code: 2, err: fmt.Errorf("--top: want a whole number of at least 1, got %d", *top)}
	}
	n, err := app.SlotHours(strconv.Itoa(*hours))
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--hours: want a whole number from 1 to %d, got %d", app.MaxSlotHours, *hours)}
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
	resp, err := app.Windows(ctx, cfg, db, fs.Arg(0), *env, now, n)
	var ae *releaseops.Error
	if errors.As(err, &ae) && ae.Code == releaseops.ENOTFOUND {
		msg := ae.Message
		if ae.Detail != "" {
			msg += "; " + ae.Detail
		}
		return &exitError{code: 1, err: errors.New(msg)}
	}
	if err != nil {
		return fmt.Errorf("rank the windows of %s: %w", fs.Arg(0), err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(resp)
	}
	renderWindows(stdout, resp, *top)
	return nil
}

// nowFlag reads --now, the wall clock when it is empty.
func nowFlag(v string) (time.Time, error) {
	if v == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, &exitError{code: 2, err: fmt.Errorf("--now: want an RFC 3339 time such as 2026-11-23T09:00:00Z, got %q", v)}
	}
	return t, nil
}

// renderWindows prints the best slots with their reasons, then sums up the rest: a person
// choosing a time reads the top of the list; the whole of it is in --json.
func renderWindows(w io.Writer, r app.WindowsResponse, top int) {
	fmt.Fprintf(w, "%s: the next %d hours from %s, best first (%s)\n\n", r.Service, r.Hours, r.GeneratedAt.Format("2006-01-02 15:04 UTC"), r.Environment)
	shown := 0
	var rest, closed, human int
	bestRest := -1.0
	for _, s := range r.Slots {
		if !s.Open {
			closed++
			continue
		}
		if shown >= top {
			rest++
			if s.NeedsHuman {
				human++
			}
			bestRest = max(bestRest, s.Score)
			continue
		}
		shown++
		fmt.Fprintf(w, "%2d. %s  %.3f  %s\n", shown, s.Local, s.Score, slotStatus(s))
		for _, reason := range s.Reasons {
			fmt.Fprintf(w, "      %s\n", reason)
		}
	}
	if shown == 0 {
		fmt.Fprintln(w, "no open slot in these hours")
	}
	if rest > 0 {
		fmt.Fprintf(w, "\n%d more open slots, scoring %.3f or less (%d of them need a human)\n", rest, bestRest, human)
	}
	if closed > 0 {
		fmt.Fprintf(w, "\n%d closed:\n", closed)
		for _, line := range closedSpans(r.Slots) {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

func slotStatus(s risk.Slot) string {
	if s.NeedsHuman {
		return "open, needs a human (outside the release window)"
	}
	return "open"
}

// closedSpans joins consecutive closed hours with the same reason into one line.
func closedSpans(slots []risk.Slot) []string {
	var cs []risk.Slot
	for _, s := range slots {
		if !s.Open {
			cs = append(cs, s)
		}
	}
	var out []string
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].Start.Equal(cs[j-1].End) && strings.Join(cs[j].Reasons, ";") == strings.Join(cs[i].Reasons, ";") {
			j++
		}
		out = append(out, fmt.Sprintf("%s to %s: %s", cs[i].Start.Format("2006-01-02 15:04"), cs[j-1].End.Format("2006-01-02 15:04 UTC"), strings.Join(cs[i].Reasons, "; ")))
		i = j
	}
	return out
}
