package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/storage"
)

const (
	cliAppID = 5151
	cliInst  = 61
	cliPAT   = "github_pat_cli_tests"
)

// syncFake is a GitHub with acme/checkout (classic protection), acme/payments (a ruleset)
// and acme/search (nothing), the App installed on acme and cliPAT accepted.
func syncFake(t *testing.T) *fakegithub.Server {
	t.Helper()
	key, _, err := fakegithub.AppKey()
	if err != nil {
		t.Fatal(err)
	}
	gh := fakegithub.New(fakegithub.Options{})
	t.Cleanup(gh.Close)
	now := time.Now().UTC()
	merged := now.Add(-48 * time.Hour)
	gh.AddRepo(
		fakegithub.Repo{FullName: "acme/checkout", CodeownersAt: ".github/CODEOWNERS", Classic: &fakegithub.Protection{RequiredReviews: 2, CodeOwnerReview: true},
			Pulls: []fakegithub.Pull{{Number: 7, CreatedAt: merged.Add(-time.Hour), MergedAt: merged,
				Reviews: []fakegithub.Review{{User: "reviewer", State: "APPROVED", SubmittedAt: merged.Add(-time.Minute)}}}}},
		fakegithub.Repo{FullName: "acme/payments", Rulesets: []fakegithub.Ruleset{{Rules: []fakegithub.Rule{fakegithub.LinearHistoryRule(), fakegithub.PullRequestRule(1, false)}}}},
		fakegithub.Repo{FullName: "acme/search"},
	)
	gh.SetApp(fakegithub.App{ID: cliAppID, PublicKey: &key.PublicKey, Installations: []fakegithub.Installation{fakegithub.InstalledOn(cliInst, "acme")}})
	gh.AddToken(cliPAT)
	return gh
}

// syncConfig writes a config file for gh: the App's credentials, or the personal token.
func syncConfig(t *testing.T, gh *fakegithub.Server, token bool) (path, db string) {
	t.Helper()
	dir := t.TempDir()
	db = filepath.Join(dir, "releaseops.db")
	var b strings.Builder
	fmt.Fprintf(&b, "storage:\n  sqlite_path: %s\ngithub:\n  api_url: %s\n", db, gh.APIURL())
	if token {
		fmt.Fprintf(&b, "  token: %s\n", cliPAT)
	} else {
		_, pemKey, err := fakegithub.AppKey()
		if err != nil {
			t.Fatal(err)
		}
		keyFile := filepath.Join(dir, "app.pem")
		if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "  app_id: %d\n  private_key: file:%s\n", cliAppID, keyFile)
	}
	b.WriteString("services:\n  - {name: checkout, repo: acme/checkout, owner: team-payments}\n" +
		"  - {name: payments, repo: acme/payments, owner: team-payments}\n  - {name: search, repo: acme/search, owner: team-discovery}\n")
	path = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, db
}

var summaryLine = regexp.MustCompile(`sync github: (\d+) subjects, (\d+) observations changed, (\d+) facts written, (\d+) requests \((\d+) not modified\), (\d+) rate-limit waits \([^)]*\), (\d+) failed, in \S+`)

// summary returns the numbers of the summary line: subjects, observations, facts, requests,
// not modified, rate-limit waits, failed.
func summary(t *testing.T, out string) []int {
	t.Helper()
	m := summaryLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", out)
	}
	n := make([]int, len(m)-1)
	for i, s := range m[1:] {
		n[i], _ = strconv.Atoi(s)
	}
	return n
}

func TestSyncCommandPrintsProgressAndSummary(t *testing.T) {
	gh := syncFake(t)
	cfg, _ := syncConfig(t, gh, false)
	code, out, errs := runCmd(t, "sync", "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	first := summary(t, out)
	if first[0] != 3 || first[2] == 0 || first[3] == 0 || first[5] != 0 || first[6] != 0 {
		t.Errorf("first sync: %v\n%s", first, out)
	}
	for i, repo := range []string{"acme/checkout", "acme/payments", "acme/search"} {
		// Not a terminal: one plain line per subject, for CI logs.
		if !regexp.MustCompile(`sync github \[\d/3\] ` + repo + ` ok`).MatchString(errs) {
			t.Errorf("no progress line %d for %s in:\n%s", i, repo, errs)
		}
	}
	if strings.Contains(errs, "\r") || strings.Contains(errs, "\x1b[") {
		t.Errorf("terminal control characters in a log: %q", errs)
	}

	gh.ResetCounts()
	code, out, errs = runCmd(t, "sync", "--config", cfg)
	again := summary(t, out)
	if code != 0 || again[2] != 0 || again[4] == 0 {
		t.Errorf("unchanged sync: exit %d, %v; want 0 facts and 304s\n%s%s", code, again, out, errs)
	}
	// A new process mints a token and looks up each repository's installation once; every
	// read of the repositories themselves is a 304.
	for _, h := range gh.Hits() {
		if h.Auth != "jwt" && h.Status != 304 {
			t.Errorf("unchanged sync: %s %s answered %d", h.Method, h.Path, h.Status)
		}
	}
	code, out, _ = runCmd(t, "score", "checkout", "--config", cfg)
	if code != 0 || !strings.Contains(out, "read from the GitHub API") {
		t.Errorf("score after sync: exit %d\n%s", code, out)
	}
}

func TestSyncCommandRevokedTokenExitsOneNamingTheSubject(t *testing.T) {
	gh := syncFake(t)
	cfg, _ := syncConfig(t, gh, true)
	gh.RevokeToken(cliPAT)
	code, out, errs := runCmd(t, "sync", "--config", cfg, "--service", "checkout")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errs)
	}
	if n := summary(t, out); n[6] != 1 {
		t.Errorf("failed count %d\n%s", n[6], out)
	}
	if !strings.Contains(out, "FAILED acme/checkout (service checkout): acme/checkout: GET /repos/acme/checkout: 401 bad credentials") {
		t.Errorf("the failure does not name the subject and the cause:\n%s", out)
	}
	if !strings.Contains(errs, "acme/checkout FAILED: ") {
		t.Errorf("progress does not flag the failure:\n%s", errs)
	}
}

func TestSyncCommandDryRunStoresNothing(t *testing.T) {
	gh := syncFake(t)
	cfg, db := syncConfig(t, gh, false)
	code, out, errs := runCmd(t, "sync", "--dry-run", "--config", cfg)
	if code != 0 || !strings.Contains(out, "(dry run: nothing stored)") || !strings.Contains(out, "facts would be written") {
		t.Fatalf("dry run: exit %d\n%s\n%s", code, out, errs)
	}
	dry := summary(t, strings.Replace(strings.Replace(out, " (dry run: nothing stored)", "", 1), "would be written", "written", 1))
	st, err := storage.Open(context.Background(), db, storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := st.CountDeliveries(context.Background())
	recs, _ := st.SyncRecords(context.Background(), releaseops.SourceGitHub)
	run, ran, _ := st.LastSyncRun(context.Background(), releaseops.SourceGitHub, false)
	st.Close()
	if n != 0 || len(recs) != 0 || ran {
		t.Fatalf("a dry run stored %d deliveries, %d sync records, a run %+v", n, len(recs), run)
	}
	code, out, _ = runCmd(t, "sync", "--config", cfg)
	if real := summary(t, out); code != 0 || real[2] != dry[2] || real[1] != dry[1] {
		t.Errorf("the real run wrote %v, the dry run said %v", real, dry)
	}
}

func TestSyncCommandServiceLimitsAndUnknownServiceSuggests(t *testing.T) {
	gh := syncFake(t)
	cfg, _ := syncConfig(t, gh, false)
	code, out, errs := runCmd(t, "sync", "--service", "payments", "--config", cfg)
	if n := summary(t, out); code != 0 || n[0] != 1 {
		t.Fatalf("--service payments: exit %d, %v\n%s", code, n, errs)
	}
	for path, n := range gh.Counts().ByPath {
		if strings.HasPrefix(path, "GET /repos/") && !strings.HasPrefix(path, "GET /repos/acme/payments") && n > 0 {
			t.Errorf("--service payments read %s", path)
		}
	}
	code, _, errs = runCmd(t, "sync", "--service", "paymnts", "--config", cfg)
	if code != 1 || !strings.Contains(errs, `unknown service "paymnts"; did you mean payments`) {
		t.Errorf("unknown service: exit %d\n%s", code, errs)
	}
}

// A mistyped --source is refused before anything is opened: no database appears.
func TestSyncCommandUnknownSourceOpensNothing(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	db := filepath.Join(dir, "releaseops.db")
	if err := os.WriteFile(cfg, []byte("storage: {sqlite_path: "+db+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runCmd(t, "sync", "--config", cfg, "--source", "pagerdty")
	if code != 2 || !strings.Contains(errs, `unknown source "pagerdty": want github, pagerduty or terraform`) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a database was created for a refused command: %v", err)
	}
}
