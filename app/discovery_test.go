package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/internal/fakegithub"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/syncer"
)

const ledgerCatalogInfo = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: ledger
  annotations:
    github.com/project-slug: acme/ledger
    releaseops.io/tier: "1"
    releaseops.io/slack-channel: C0LEDGER
    releaseops.io/approvers: U0ALICE, U0BOB
  links:
    - url: https://wiki.example.com/ledger/runbook
      title: Runbook
spec:
  type: service
  lifecycle: production
  owner: group:default/team-finance
`

const inventoryCatalogInfo = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: inventory
  annotations:
    github.com/project-slug: acme/inventory
    releaseops.io/tier: "2"
    releaseops.io/stateful: "true"
spec:
  owner: team-logistics
`

// catalog.github_discovery finds services where their teams declare them, in the
// repositories: catalog-info.yaml at each root of the organisation's repositories. They
// are then read and scored like catalogued ones, and the config still has the last word.
func TestDiscoveryMakesServicesOfCatalogInfoFilesAndTheConfigWins(t *testing.T) {
	for _, mode := range []struct {
		name  string
		token bool
	}{{"app", false}, {"token", true}} {
		t.Run(mode.name, func(t *testing.T) {
			gh := newSyncGitHub(t,
				fakegithub.Repo{FullName: "acme/ledger", CatalogInfo: ledgerCatalogInfo, CodeownersAt: ".github/CODEOWNERS",
					Classic: &fakegithub.Protection{RequiredReviews: 2, CodeOwnerReview: true}},
				fakegithub.Repo{FullName: "acme/inventory", CatalogInfo: inventoryCatalogInfo,
					Rulesets: []fakegithub.Ruleset{{Rules: []fakegithub.Rule{fakegithub.PullRequestRule(1, false)}}}},
				fakegithub.Repo{FullName: "acme/tools"},
				fakegithub.Repo{FullName: "acme/old", CatalogInfo: strings.ReplaceAll(ledgerCatalogInfo, "ledger", "old"), Archived: true},
			)
			w := newSyncWorld(t, gh, worldOpts{token: mode.token,
				// The config names the repository: a found entry merges under a config entry of
				// its name only when both describe the same repository.
				services: "  - {name: inventory, repo: ACME/Inventory, owner: team-platform, slack_channel: C0PLATFORM}\n",
				extra:    "catalog:\n  github_discovery:\n    orgs: [acme]\n"})
			if _, ok := w.app.Catalog.Get("ledger"); ok {
				t.Fatal("ledger is known before discovery ran")
			}
			sum := w.sync(context.Background(), syncer.Options{})
			if len(sum.Failures) != 0 || sum.Subjects != 2 {
				t.Fatalf("sync: %+v; want the two declared repositories read", sum)
			}

			ledger, ok := w.app.Catalog.Get("ledger")
			if !ok || ledger.Owner != "team-finance" || ledger.Repo != "acme/ledger" || ledger.Tier != 1 || ledger.SlackChannel != "C0LEDGER" ||
				len(ledger.Approvers) != 2 || ledger.RunbookURL != "https://wiki.example.com/ledger/runbook" || !strings.Contains(ledger.Origin, "acme/ledger/catalog-info.yaml") {
				t.Errorf("ledger: %+v", ledger)
			}
			inv, ok := w.app.Catalog.Get("inventory")
			if !ok || inv.Owner != "team-platform" || inv.SlackChannel != "C0PLATFORM" || inv.Repo != "ACME/Inventory" || inv.Tier != 2 || !inv.Stateful {
				t.Errorf("inventory (config wins where it speaks, the file fills the rest): %+v", inv)
			}
			for _, gone := range []string{"tools", "old"} {
				if _, ok := w.app.Catalog.Get(gone); ok {
					t.Errorf("%s became a service without a catalog-info.yaml of its own, or while archived", gone)
				}
			}

			if s := cardSignal(t, w.card("ledger"), "required_reviewers"); s.Outcome != scoring.OutcomePass || s.Value != 2.0 {
				t.Errorf("ledger is scored from its read: %s %v %s", s.Outcome, s.Value, s.Reason)
			}
			if s := cardSignal(t, w.card("ledger"), "owner_defined"); s.Outcome != scoring.OutcomePass {
				t.Errorf("ledger's owner from catalog-info.yaml: %s %s", s.Outcome, s.Reason)
			}
			if s := cardSignal(t, w.card("inventory"), "default_branch_protected"); s.Outcome != scoring.OutcomePass {
				t.Errorf("inventory: %s %s", s.Outcome, s.Reason)
			}

			// Discovery remembers what it read: the next one, past its ten minutes, revalidates.
			w.clock.Advance(11 * time.Minute)
			gh.ResetCounts()
			w.sync(context.Background(), syncer.Options{})
			if c := gh.Counts(); c.ByRoute["GET /repos/{owner}/{repo}/contents/{path...}"] != 3 || c.Conditional < 3 {
				t.Errorf("second discovery: %d catalog-info reads, %d conditional requests; want the three live repositories revalidated",
					c.ByRoute["GET /repos/{owner}/{repo}/contents/{path...}"], c.Conditional)
			}
		})
	}
}
