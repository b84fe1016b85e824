package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/releaseops/releaseops/gate"
)

const auditUsage = "usage: releaseops audit verify [--config FILE] [--anchors FILE] [--public-key KEY] | releaseops audit keygen"

// runAudit is `releaseops audit verify`: it walks the audit log's hash chain in the database
// itself (not through a server that could lie) and exits 1 naming the first bad entry; with
// checkpoints published outside the database (--anchors) it also catches a log whose newest
// entries were deleted. `audit keygen` makes a signing key.
func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 1 && args[0] == "keygen" {
		return runAuditKeygen(stdout)
	}
	if len(args) == 0 || args[0] != "verify" {
		return &exitError{code: 2, err: errors.New(auditUsage)}
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file (default: RELEASEOPS_CONFIG, else embedded defaults)")
	anchors := fs.String("anchors", "", "file of published checkpoints (audit.anchor_file, or lines copied from the Slack posts)")
	pubFlag := fs.String("public-key", "", "base64 Ed25519 public key the checkpoints are signed with (default: audit.signing_key's)")
	if err := fs.Parse(reorder(fs, args[1:])); err != nil {
		return &exitError{code: 2}
	}
	if fs.NArg() > 0 {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q; %s", fs.Arg(0), auditUsage)}
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	pub, err := auditPublicKey(*pubFlag, cfg)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var published []gate.Checkpoint
	if *anchors != "" {
		f, err := os.Open(*anchors)
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--anchors: %w", err)}
		}
		published, err = gate.ReadCheckpoints(f)
		f.Close()
		if err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--anchors %s: %w", *anchors, err)}
		}
		if len(published) == 0 {
			// An empty or wrong file must not pass as "nothing was cut".
			return &exitError{code: 2, err: fmt.Errorf("--anchors %s: no checkpoint lines found", *anchors)}
		}
		if pub == nil {
			return &exitError{code: 2, err: errors.New("--anchors needs the public key: --public-key, or audit.signing_key in the config")}
		}
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
	if pub != nil {
		// The checkpoints in the log prove the chain was signed as it grew; the published
		// ones also prove it was not cut after them.
		inLog, err := gate.LogCheckpoints(ctx, db)
		if err != nil {
			return err
		}
		for _, set := range []struct {
			what string
			cps  []gate.Checkpoint
		}{{"in the log", inLog}, {"published", published}} {
			if len(set.cps) == 0 {
				continue
			}
			res, err := gate.CheckAnchors(ctx, db, v, set.cps, pub)
			if err != nil {
				return err
			}
			if res.Problem != "" {
				return &exitError{code: 1, err: fmt.Errorf("audit log does not match a checkpoint %s: %s", set.what, res.Problem)}
			}
			fmt.Fprintf(stdout, "checkpoints %s: %d verified, the latest of entry %d at %s\n", set.what, res.Checked, res.Latest.Seq, res.Latest.At.Format("2006-01-02T15:04:05Z07:00"))
		}
	}
	if v.Entries == 0 {
		fmt.Fprintln(stdout, "audit log OK: empty")
		return nil
	}
	fmt.Fprintf(stdout, "audit log OK: %d entries, head %s\n", v.Entries, v.Head)
	return nil
}
