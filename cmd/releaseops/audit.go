package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/releaseops/releaseops/gate"
)

// runAudit is `releaseops audit verify`: it walks the audit log's hash chain in the database
// itself (not through a server that could lie) and exits 1 naming the first bad entry.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return &exitError{code: 2, err: errors.New("usage: releaseops audit verify [--config FILE]")}
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{code: 2}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	db, err := openExisting(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := gate.Verify(ctx, db)
	if err != nil {
		return err
	}
	if !v.OK {
		return &exitError{code: 1, err: fmt.Errorf("audit log broken at entry %d: %s", v.FirstBad, v.Problem)}
	}
	if v.Entries == 0 {
		fmt.Fprintln(stdout, "audit log OK: empty")
		return nil
	}
	fmt.Fprintf(stdout, "audit log OK: %d entries, head %s\n", v.Entries, v.Head)
	return nil
}
