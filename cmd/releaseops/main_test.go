package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listn: x\nservices:\n  - name: a\n    tier: one\n"), 0o600)
	code, out, _ := runCmd(t, "check-config", "--config", bad)
	if code != 1 || !strings.Contains(out, `listn: unknown key (did you mean "listen"?)`) || !strings.Contains(out, "services[0].tier: want a whole number") {
		t.Fatalf("bad config: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "check-config", "--config", "../../config.example.yaml")
	if code != 0 || !strings.Contains(out, "config ok") {
		t.Fatalf("example config: exit %d\n%s", code, out)
	}
}

func TestIngestReplayFileThenScore(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("storage:\n  sqlite_path: "+filepath.Join(dir, "r.db")+"\nservices:\n  - {name: checkout, owner: team-payments}\n"), 0o600)
	file := filepath.Join(dir, "replay.jsonl")
	os.WriteFile(file, []byte(`{"source":"deploy","headers":{},"body":{"id":"d1","service":"checkout","environment":"production","status":"succeeded","strategy":"canary","phases":2}}
{"source":"deploy","headers":{},"body":{"id":"d1","service":"checkout","environment":"production","status":"succeeded"}}
{"source":"deploy","headers":{},"body":{"id":"d2","service":"checkout","environment":"production","status":"done"}}
not json
`), 0o600)
	code, out, errs := runCmd(t, "ingest", file, "--config", cfg)
	if code != 1 || !strings.Contains(out, "1 stored, 1 duplicate, 0 ignored, 0 unmapped, 2 rejected") {
		t.Fatalf("ingest: exit %d\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "line=3") || !strings.Contains(errs, "status") || !strings.Contains(errs, "line=4") {
		t.Fatalf("rejected lines not named: %s", errs)
	}
	code, out, _ = runCmd(t, "score", "checkout", "--config", cfg)
	if code != 0 || !strings.Contains(out, "checkout") || !strings.Contains(out, "Deployment maturity") {
		t.Fatalf("score: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, "score", "checkout", "--json", "--config", cfg)
	if code != 0 || !strings.Contains(out, `"service": "checkout"`) {
		t.Fatalf("score --json: exit %d\n%s", code, out)
	}
	code, _, errs = runCmd(t, "score", "chekout", "--config", cfg)
	if code != 1 || !strings.Contains(errs, "did you mean checkout") {
		t.Fatalf("unknown service: exit %d %s", code, errs)
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errs := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("exit %d %s", code, errs)
	}
	if code, out, _ := runCmd(t, "version"); code != 0 || !strings.Contains(out, "releaseops") {
		t.Fatalf("version: %d %s", code, out)
	}
}

// A boolean flag never swallows the argument after it (`sync --dry-run --service a`,
// `check-config --live --timeout 2s`), wherever the positional arguments stand.
func TestReorderKeepsBooleanFlagsAlone(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	dry := fs.Bool("dry-run", false, "")
	svc := fs.String("service", "", "")
	cfg := fs.String("config", "", "")
	if err := fs.Parse(reorder(fs, []string{"NAME", "--dry-run", "--service", "a", "--config", "c.yaml"})); err != nil {
		t.Fatal(err)
	}
	if !*dry || *svc != "a" || *cfg != "c.yaml" || fs.NArg() != 1 || fs.Arg(0) != "NAME" {
		t.Fatalf("dry-run %v, service %q, config %q, args %v", *dry, *svc, *cfg, fs.Args())
	}
}
