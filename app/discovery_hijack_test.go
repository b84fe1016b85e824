package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/syncer"
)

// Anyone who can create a repository in a catalog.github_discovery organisation can write a
// catalog-info.yaml there. These tests are what such a file must not achieve.

// logSink keeps what the app logs, for the tests that check a refusal is reported.
type logSink struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// captureLog makes the app log into a sink; call it before the first sync (discovery takes
// its logger then).
func captureLog(w *syncWorld) *logSink {
	s := &logSink{}
	w.app.Log = slog.New(slog.NewTextHandler(s, nil))
	return s
}

func (l *logSink) wantLine(t *testing.T, parts ...string) {
	t.Helper()
	for _, line := range strings.Split(l.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return
		}
	}
	t.Errorf("no log line with all of %q in:\n%s", parts, l.String())
}

func component(name string, annotations ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name + "\n")
	if len(annotations) > 0 {
		b.WriteString("  annotations:\n")
		for i := 0; i+1 < len(annotations); i += 2 {
			b.WriteString("    " + annotations[i] + ": " + annotations[i+1] + "\n")
		}
	}
	b.WriteString("spec:\n  owner: someone\n")
	return b.String()
}

// repoWebhookService posts a GitHub delivery about repo and returns the service it was
// stored under.
func repoWebhookService(t *testing.T, w *syncWorld, repo, delivery string) string {
	t.Helper()
	body := []byte(`{"action":"created","repository":{"id":1,"full_name":"` + repo + `"},"sender":{"login":"octocat"}}`)
	code, resp := w.request(http.MethodPost, "/webhooks/github", "", body, githubHeaders("star", delivery, body))
	if code != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	var res struct {
		Service string `json:"service"`
	}
	if err := json.Unmarshal(resp, &res); err != nil {
		t.Fatal(err)
	}
	return res.Service
}

func subjectsOf(t *testing.T, list func(context.Context) ([]syncer.Subject, error)) map[string]string {
	t.Helper()
	subs, err := list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range subs {
		out[strings.ToLower(s.Key)] = s.Service
	}
	return out
}

// A file in mallory's sandbox names acme/checkout as its project, payments' PagerDuty
// service and Terraform workspace, and (in a second document) those a discovered service
// declared. None of it moves: acme/checkout's webhooks and sync record stay checkout's, the
// incidents and drift stay with their services, and each refusal is logged.
func TestDiscoveredEntryTakesNoOtherServicesRepositoryOrMappings(t *testing.T) {
	repos := append(threeRepos(syncNow),
		fakegithub.Repo{FullName: "acme/ledger", CatalogInfo: component("ledger",
			"pagerduty.com/service-id", "PLEDGER", "releaseops.io/terraform-workspaces", "acme/ledger-prod")},
		// Sorts before acme/ledger, and still loses what acme/ledger declares.
		fakegithub.Repo{FullName: "acme/aaa-mallory", CatalogInfo: component("mallory",
			"github.com/project-slug", "acme/checkout", "pagerduty.com/service-id", "PPAYMENTS",
			"releaseops.io/terraform-workspaces", `"payments-prod, acme/mallory-prod"`, "releaseops.io/approvers", "U0MALLORY") +
			"---\n" + component("mallory-two", "pagerduty.com/service-id", "PLEDGER",
			"releaseops.io/terraform-workspaces", "acme/ledger-prod")},
	)
	gh := newSyncGitHub(t, repos...)
	w := newSyncWorld(t, gh, worldOpts{
		services: `  - {name: checkout, repo: acme/checkout, owner: team-payments}
  - {name: payments, repo: acme/payments, owner: team-payments, pagerduty_service_id: PPAYMENTS, terraform_workspaces: [acme/payments-prod]}
  - {name: search, repo: acme/search, owner: team-discovery}
`,
		extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
	logs := captureLog(w)
	sum := w.sync(context.Background(), syncer.Options{})
	if len(sum.Failures) != 0 || sum.Subjects != 5 {
		t.Fatalf("sync: %+v; want checkout, payments, search, ledger and acme/aaa-mallory read", sum)
	}

	mallory, ok := w.app.Catalog.Get("mallory")
	if !ok || mallory.Repo != "acme/aaa-mallory" || mallory.PagerDutyServiceID != "" ||
		len(mallory.TerraformWorkspaces) != 1 || mallory.TerraformWorkspaces[0] != "acme/mallory-prod" {
		t.Errorf("mallory: %+v; want her own repository and workspace only", mallory)
	}
	if two, _ := w.app.Catalog.Get("mallory-two"); two.Repo != "" || two.PagerDutyServiceID != "" || len(two.TerraformWorkspaces) != 0 {
		t.Errorf("mallory-two: %+v; want nothing mapped", two)
	}
	for _, name := range []string{"checkout", "payments"} {
		if s, _ := w.app.Catalog.Get(name); len(s.Approvers) != 0 {
			t.Errorf("%s took approvers from mallory's file: %+v", name, s)
		}
	}

	if got := repoWebhookService(t, w, "acme/checkout", "star-checkout"); got != "checkout" {
		t.Errorf("a webhook of acme/checkout is stored under %q", got)
	}
	if rec, ok, err := w.app.DB.SyncRecordOf(context.Background(), releaseops.SourceGitHub, "acme/checkout"); err != nil || !ok || rec.Service != "checkout" {
		t.Errorf("acme/checkout's sync record: %+v %v %v", rec, ok, err)
	}
	if r, ok := w.app.Catalog.Resolve(releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/checkout"}); !ok || r.Service != "checkout" {
		t.Errorf("acme/checkout resolves to %+v", r)
	}
	gotRepos := subjectsOf(t, w.app.githubSubjects)
	if gotRepos["acme/checkout"] != "checkout" || gotRepos["acme/aaa-mallory"] != "mallory" || gotRepos["acme/ledger"] != "ledger" {
		t.Errorf("GitHub subjects: %v", gotRepos)
	}
	if pd := subjectsOf(t, w.app.pagerdutySubjects); len(pd) != 2 || pd["ppayments"] != "payments" || pd["pledger"] != "ledger" {
		t.Errorf("PagerDuty subjects: %v; want each incident feed on its own service", pd)
	}
	if tf := subjectsOf(t, w.app.terraformSubjects); len(tf) != 3 || tf["acme/payments-prod"] != "payments" ||
		tf["acme/ledger-prod"] != "ledger" || tf["acme/mallory-prod"] != "mallory" {
		t.Errorf("Terraform subjects: %v; want each workspace's drift on its own service", tf)
	}

	logs.wantLine(t, "WARN", "project-slug", "repo=acme/aaa-mallory", "project_slug=acme/checkout")
	logs.wantLine(t, "WARN", "repo=acme/aaa-mallory", "claim=pagerduty_service_id", "value=PPAYMENTS", "owner=payments")
	logs.wantLine(t, "WARN", "repo=acme/aaa-mallory", "claim=terraform_workspace", "value=payments-prod", "owner=payments")
	logs.wantLine(t, "WARN", "service=mallory-two", "claim=pagerduty_service_id", "value=PLEDGER", "owner=ledger")
	logs.wantLine(t, "WARN", "service=mallory-two", "claim=terraform_workspace", "value=acme/ledger-prod", "owner=ledger")
}

// A file with a config service's name merges under it only when it is that service's
// repository's own file; the config's fields win. A stranger's is rejected, and gives the
// service none of its approvers or channel.
func TestDiscoveredEntryWithATakenName(t *testing.T) {
	gh := newSyncGitHub(t,
		fakegithub.Repo{FullName: "acme/ledger", CatalogInfo: ledgerCatalogInfo},
		fakegithub.Repo{FullName: "acme/billing"},
		fakegithub.Repo{FullName: "acme/sandbox-mallory", CatalogInfo: component("billing",
			"releaseops.io/approvers", "U0MALLORY", "releaseops.io/slack-channel", "C0MALLORY", "releaseops.io/tier", `"3"`)},
	)
	w := newSyncWorld(t, gh, worldOpts{
		services: `  - {name: ledger, repo: acme/ledger, owner: team-ledger}
  - {name: billing, repo: acme/billing, owner: team-billing}
`,
		extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
	logs := captureLog(w)
	sum := w.sync(context.Background(), syncer.Options{})
	if len(sum.Failures) != 0 || sum.Subjects != 2 {
		t.Fatalf("sync: %+v; want acme/ledger and acme/billing read", sum)
	}
	billing, _ := w.app.Catalog.Get("billing")
	if billing.Repo != "acme/billing" || len(billing.Approvers) != 0 || billing.SlackChannel != "" || billing.Tier != 0 || billing.Origin != "config" {
		t.Errorf("billing after a stranger's file of its name: %+v", billing)
	}
	if got := repoWebhookService(t, w, "acme/sandbox-mallory", "star-sandbox"); got == "billing" {
		t.Error("a webhook of acme/sandbox-mallory is stored under billing")
	}
	ledger, _ := w.app.Catalog.Get("ledger")
	if ledger.Owner != "team-ledger" || ledger.Repo != "acme/ledger" || ledger.SlackChannel != "C0LEDGER" || len(ledger.Approvers) != 2 ||
		ledger.Tier != 1 || ledger.Origin != "config" {
		t.Errorf("ledger merged with its own file: %+v; want the config's owner, the file's channel, approvers and tier", ledger)
	}
	// Refused before the catalog sees it: the name is acme/billing's by convention.
	logs.wantLine(t, "WARN", "ignored", "repository=acme/sandbox-mallory", "service=billing", "belongs_to=acme/billing")
}

// A service named after another repository of the organisations is that repository's by
// convention: a file elsewhere cannot take the name even where no file or config claims it.
func TestDiscoveredEntryNamedAfterAnotherRepository(t *testing.T) {
	gh := newSyncGitHub(t,
		fakegithub.Repo{FullName: "acme/search"},
		fakegithub.Repo{FullName: "acme/sandbox", CatalogInfo: component("search", "releaseops.io/approvers", "U0MALLORY")},
	)
	w := newSyncWorld(t, gh, worldOpts{extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
	logs := captureLog(w)
	w.sync(context.Background(), syncer.Options{})
	if s, ok := w.app.Catalog.Get("search"); ok && (s.Repo != "" && !strings.EqualFold(s.Repo, "acme/search") || len(s.Approvers) != 0) {
		t.Errorf("search after acme/sandbox claimed it: %+v", s)
	}
	logs.wantLine(t, "WARN", "ignored", "repository=acme/sandbox", "service=search", "belongs_to=acme/search")
}

// Two discovered repositories claiming one name: the repository named after the service
// wins, else the first by repository name; the other is rejected and logged.
func TestTwoDiscoveredRepositoriesClaimingOneName(t *testing.T) {
	for _, mode := range []struct {
		name  string
		token bool
	}{{"app", false}, {"token", true}} {
		t.Run(mode.name, func(t *testing.T) {
			gh := newSyncGitHub(t,
				fakegithub.Repo{FullName: "acme/team-b", CatalogInfo: component("shared", "releaseops.io/approvers", "U0B")},
				fakegithub.Repo{FullName: "acme/team-a", CatalogInfo: component("shared", "releaseops.io/approvers", "U0A")},
				fakegithub.Repo{FullName: "acme/ledger", CatalogInfo: ledgerCatalogInfo},
				fakegithub.Repo{FullName: "acme/aaa-ledger", CatalogInfo: component("ledger", "releaseops.io/approvers", "U0MALLORY")},
			)
			w := newSyncWorld(t, gh, worldOpts{token: mode.token, extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
			logs := captureLog(w)
			sum := w.sync(context.Background(), syncer.Options{})
			if len(sum.Failures) != 0 || sum.Subjects != 2 {
				t.Fatalf("sync: %+v; want acme/team-a and acme/ledger read", sum)
			}
			if s, _ := w.app.Catalog.Get("shared"); s.Repo != "acme/team-a" || len(s.Approvers) != 1 || s.Approvers[0] != "U0A" {
				t.Errorf("shared: %+v; want acme/team-a's", s)
			}
			if s, _ := w.app.Catalog.Get("ledger"); s.Repo != "acme/ledger" || len(s.Approvers) != 2 {
				t.Errorf("ledger: %+v; want acme/ledger's", s)
			}
			logs.wantLine(t, "WARN", "rejected", "repo=acme/team-b", "service=shared", "owner_origin=github:acme/team-a/catalog-info.yaml")
			logs.wantLine(t, "WARN", "ignored", "repository=acme/aaa-ledger", "service=ledger", "belongs_to=acme/ledger")
		})
	}
}

// Discovery never fails the GitHub run: a malformed file in one repository, or an
// organisation listing that fails, leaves the config's repositories read. A failed listing
// is not remembered: the next run lists again.
func TestDiscoveryProblemsDoNotStopTheSync(t *testing.T) {
	for _, mode := range []struct {
		name    string
		token   bool
		listing string
	}{{"app", false, "/installation/repositories"}, {"token", true, "/orgs/acme/repos"}} {
		t.Run(mode.name, func(t *testing.T) {
			gh := newSyncGitHub(t, append(threeRepos(syncNow),
				fakegithub.Repo{FullName: "acme/broken", CatalogInfo: "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: [name: broken\n"},
				fakegithub.Repo{FullName: "acme/ledger", CatalogInfo: ledgerCatalogInfo})...)
			// Not a 5xx, which is retried after seconds: any failure does.
			listingFails := fakegithub.Fault{Path: mode.listing, Status: http.StatusForbidden, Times: -1,
				Message: "Resource protected by organization SAML enforcement."}
			gh.Inject(listingFails)
			w := newSyncWorld(t, gh, worldOpts{token: mode.token, services: threeServices,
				extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
			logs := captureLog(w)

			sum := w.sync(context.Background(), syncer.Options{})
			if sum.Error != "" || len(sum.Failures) != 0 || sum.Subjects != 3 {
				t.Fatalf("with the listing failing: %+v; want the three config repositories read", sum)
			}
			logs.wantLine(t, "WARN", "cannot be listed")

			gh.ClearFaults()
			sum = w.sync(context.Background(), syncer.Options{}) // a minute later
			if sum.Error != "" || len(sum.Failures) != 0 || sum.Subjects != 4 {
				t.Fatalf("with the malformed file: %+v; want the config repositories and acme/ledger read", sum)
			}
			if _, ok := w.app.Catalog.Get("ledger"); !ok {
				t.Error("the run after a failed listing did not list again")
			}
			logs.wantLine(t, "WARN", "cannot be read", "acme/broken")

			// A listing failing later leaves the catalog as the last one made it.
			w.clock.Advance(11 * time.Minute)
			gh.Inject(listingFails)
			sum = w.sync(context.Background(), syncer.Options{})
			if sum.Error != "" || len(sum.Failures) != 0 || sum.Subjects != 4 {
				t.Fatalf("with the listing failing again: %+v", sum)
			}
		})
	}
}

// The file of the only repository declaring services is malformed: discovery finds nothing,
// and the run still reads the config's repositories.
func TestAMalformedCatalogInfoDoesNotStopTheSync(t *testing.T) {
	gh := newSyncGitHub(t, append(threeRepos(syncNow),
		fakegithub.Repo{FullName: "acme/broken", CatalogInfo: component("broken", "releaseops.io/tier", "high")})...)
	w := newSyncWorld(t, gh, worldOpts{services: threeServices, extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
	logs := captureLog(w)
	if sum := w.sync(context.Background(), syncer.Options{}); sum.Error != "" || len(sum.Failures) != 0 || sum.Subjects != 3 {
		t.Fatalf("sync: %+v; want the three config repositories read", sum)
	}
	logs.wantLine(t, "WARN", "cannot be read", "acme/broken", "releaseops.io/tier")
}

// An installation event for a repository known only by its catalog-info.yaml: the run it
// triggers lists the organisations again, though the last discovery is minutes old.
func TestInstallationEventRediscovers(t *testing.T) {
	gh := newSyncGitHub(t, threeRepos(time.Now())...)
	gh.UpdateApp(func(a *fakegithub.App) {
		a.Installations[0].Repos = []string{"acme/checkout", "acme/payments", "acme/search"}
	})
	w := newSyncWorld(t, gh, worldOpts{services: threeServices, wall: true,
		extra: "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
	if sum := w.sync(context.Background(), syncer.Options{}); len(sum.Failures) != 0 || sum.Subjects != 3 {
		t.Fatalf("first sync: %+v", sum)
	}
	w.app.Start()

	gh.AddRepo(fakegithub.Repo{FullName: "acme/ledger", CatalogInfo: ledgerCatalogInfo})
	gh.UpdateApp(func(a *fakegithub.App) { a.Installations[0].Repos = append(a.Installations[0].Repos, "acme/ledger") })
	body := []byte(`{"action":"added","installation":{"id":77,"account":{"login":"acme","id":1001,"type":"Organization"},"app_id":4242},` +
		`"repository_selection":"selected","repositories_added":[{"id":5004,"name":"ledger","full_name":"acme/ledger","private":true}],` +
		`"repositories_removed":[],"requester":null,"sender":{"login":"octocat","id":1,"type":"User"}}`)
	code, resp := w.request(http.MethodPost, "/webhooks/github", "", body, githubHeaders("installation_repositories", "install-added-ledger", body))
	if code != http.StatusAccepted {
		t.Fatalf("webhook: %d %s", code, resp)
	}
	waitFor(t, "acme/ledger to be read by a run the event triggered", 10*time.Second, func() bool {
		rec, ok, err := w.app.DB.SyncRecordOf(context.Background(), releaseops.SourceGitHub, "acme/ledger")
		return err == nil && ok && !rec.LastSuccess.IsZero() && rec.Service == "ledger"
	})
}
