// Package demo seeds a fresh database with a small catalog and several weeks of synthetic
// events, so that `releaseops serve --demo` shows real scores, every band, trends up and down,
// a watch-band service and a waiver at once. The events are generated from a fixed seed and
// sent through the same ingestion path as webhooks (parse, validate, dedupe, store, rescore);
// nothing is written to the database any other way. Seeding runs once per database.
package demo

import (
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/scoring"
)

// profile describes how a demo service behaves: what its catalog entry declares and how its
// tools behave over the seeded weeks. Probabilities move linearly by Trend from the first day
// to the last, so a positive Trend is a service that improves.
type profile struct {
	svc releaseops.Service

	reviews               int // required approving reviews on main (0: no protection)
	codeOwners, linear    bool
	signed                bool
	lapseDay              int // day protection was deleted and restored an hour later (0: never)
	protectDay            int // day protection was first configured (0: before the window)
	approvalShare         float64
	deploysPerWeek        float64
	phased, health, flags float64
	failRate, snapshot    float64
	rehearsalRTO          float64 // seconds; 0: no rehearsal
	incidentsPerWeek      float64
	mttrHours             float64
	runbookDaysAgo        int // days before the end of the last runbook push; -1: never
	driftsPerWeek         float64
	triageHours           float64
	planChecks            bool
	gateShare, notesShare float64
	trend                 float64
}

func boolp(b bool) *bool { return &b }

// profiles are the demo services, from mature to blocked.
func profiles() []profile {
	full := func(name, owner string, tier int) releaseops.Service {
		return releaseops.Service{Name: name, Repo: "acme/" + name, Owner: owner, Tier: tier, SlackChannel: "C0" + upper(name),
			Approvers: []string{"U0ALICE", "U0BOB"}, PagerDutyServiceID: "P" + upper(name), EscalationLevels: 2,
			RunbookURL: "https://wiki.example.com/" + name + "/runbook", SLOs: []releaseops.SLO{{Name: "availability", Objective: 99.9}},
			StructuredLogging: true, TraceCorrelation: true, ComplianceControls: []string{"SOC2-CC8.1"},
			StatusPageURL: "https://status.example.com", StakeholderChannel: "C0RELEASES", DefaultBranch: "main", Codeowners: true,
			TerraformWorkspaces: []string{"acme/" + name + "-prod"},
			TerraformModules:    []releaseops.Module{{Name: name + "-infra", RollbackPath: "docs/rollback.md"}}}
	}
	checkout := full("checkout", "team-payments", 1)
	checkout.Stateful, checkout.RTOTargetSeconds = true, 300
	payments := full("payments", "team-payments", 1)
	payments.Stateful = true
	auth := full("auth", "team-identity", 1)
	search := full("search", "team-discovery", 2)
	search.TraceCorrelation, search.ComplianceControls, search.StatusPageURL = false, nil, ""
	search.Terraform = boolp(false)
	notifications := full("notifications", "team-growth", 2)
	notifications.StakeholderChannel = ""
	ledger := full("ledger", "team-finance", 1)
	ledger.Stateful = true
	shipping := full("shipping", "team-logistics", 2)
	shipping.Approvers = []string{"U0CAROL"}
	recs := full("recommendations", "team-discovery", 3)
	recs.Terraform = boolp(false)
	recs.SLOs = nil
	inventory := releaseops.Service{Name: "inventory", Repo: "acme/inventory", Owner: "team-logistics", Tier: 2, SlackChannel: "C0INVENTORY",
		PagerDutyServiceID: "PINVENTORY", DefaultBranch: "main", Stateful: true, TerraformWorkspaces: []string{"acme/inventory-prod"}}
	legacy := releaseops.Service{Name: "legacy-billing", Repo: "acme/legacy-billing", Tier: 3, DefaultBranch: "master"}

	return []profile{
		{svc: checkout, reviews: 2, codeOwners: true, linear: true, signed: true, approvalShare: 0.98, deploysPerWeek: 6,
			phased: 0.95, health: 0.95, flags: 0.9, failRate: 0.03, snapshot: 1, rehearsalRTO: 180, incidentsPerWeek: 0.5, mttrHours: 0.6,
			runbookDaysAgo: 5, driftsPerWeek: 0.5, triageHours: 3, planChecks: true, gateShare: 1, notesShare: 1, trend: 0.05},
		{svc: auth, reviews: 2, codeOwners: true, linear: true, signed: true, approvalShare: 0.95, deploysPerWeek: 4,
			phased: 0.9, health: 0.9, flags: 0.8, failRate: 0.05, snapshot: 1, rehearsalRTO: 240, incidentsPerWeek: 0.3, mttrHours: 1,
			runbookDaysAgo: 12, driftsPerWeek: 0.3, triageHours: 5, planChecks: true, gateShare: 0.95, notesShare: 0.9},
		{svc: payments, reviews: 2, codeOwners: true, linear: true, approvalShare: 0.9, deploysPerWeek: 3,
			phased: 0.8, health: 0.8, flags: 0.6, failRate: 0.08, snapshot: 0.9, rehearsalRTO: 320, incidentsPerWeek: 0.5, mttrHours: 2,
			runbookDaysAgo: 20, driftsPerWeek: 0.5, triageHours: 8, planChecks: true, gateShare: 0.8, notesShare: 0.8},
		{svc: notifications, reviews: 1, codeOwners: true, approvalShare: 0.85, deploysPerWeek: 5, lapseDay: 0, protectDay: 8,
			phased: 0.7, health: 0.7, flags: 0.5, failRate: 0.1, rehearsalRTO: 400, incidentsPerWeek: 0.7, mttrHours: 3,
			runbookDaysAgo: 3, driftsPerWeek: 0.5, triageHours: 10, planChecks: true, gateShare: 0.7, notesShare: 0.7, trend: 0.6},
		{svc: search, reviews: 1, approvalShare: 0.7, deploysPerWeek: 4, phased: 0.5, health: 0.6, flags: 0.3, failRate: 0.15,
			rehearsalRTO: 500, incidentsPerWeek: 1, mttrHours: 4, runbookDaysAgo: 40, gateShare: 0.6, notesShare: 0.5},
		{svc: shipping, reviews: 1, approvalShare: 0.75, deploysPerWeek: 3, phased: 0.5, health: 0.5, flags: 0.4, failRate: 0.12,
			rehearsalRTO: 450, incidentsPerWeek: 0.8, mttrHours: 5, runbookDaysAgo: 25, driftsPerWeek: 1, triageHours: 14,
			gateShare: 0.5, notesShare: 0.6, trend: -0.1},
		{svc: ledger, reviews: 2, codeOwners: true, linear: true, approvalShare: 0.95, deploysPerWeek: 3, lapseDay: 24,
			phased: 0.9, health: 0.9, flags: 0.7, failRate: 0.05, snapshot: 0.9, rehearsalRTO: 200, incidentsPerWeek: 0.5, mttrHours: 1.5,
			runbookDaysAgo: 38, driftsPerWeek: 1, triageHours: 6, planChecks: true, gateShare: 0.9, notesShare: 0.9, trend: -1.2},
		{svc: recs, reviews: 1, approvalShare: 0.8, deploysPerWeek: 7, phased: 0.6, health: 0.7, flags: 0.9, failRate: 0.1,
			incidentsPerWeek: 0.4, mttrHours: 2, runbookDaysAgo: 15, gateShare: 0.7, notesShare: 0.8},
		{svc: inventory, approvalShare: 0.4, deploysPerWeek: 2, phased: 0.1, health: 0.2, failRate: 0.3, snapshot: 0.2,
			incidentsPerWeek: 1.5, mttrHours: 9, runbookDaysAgo: -1, driftsPerWeek: 1, triageHours: 40},
		{svc: legacy, approvalShare: 0.2, deploysPerWeek: 0.5, failRate: 0.4, runbookDaysAgo: -1},
	}
}

func upper(s string) string {
	b := []byte(s)
	out := b[:0]
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			out = append(out, c-32)
		case c >= '0' && c <= '9':
			out = append(out, c)
		}
	}
	return string(out)
}

// Apply adds the demo catalog and waivers (expiring 60 days after now) to cfg. Services the
// config already names win.
func Apply(cfg *config.Config, now time.Time) {
	expires := now.AddDate(0, 0, 60).Format("2006-01-02")
	have := map[string]bool{}
	for _, s := range cfg.Services {
		have[s.Name] = true
	}
	var add []releaseops.Service
	for _, p := range profiles() {
		if !have[p.svc.Name] {
			add = append(add, p.svc)
		}
	}
	cfg.Services = append(add, cfg.Services...)
	cfg.Scoring.Waivers = append(cfg.Scoring.Waivers,
		scoring.Waiver{Service: "search", Signal: "signed_commits", Reason: "the indexer bot cannot sign commits until the new runner lands", Author: "alice", Expires: expires},
		scoring.Waiver{Service: "shipping", Signal: "snapshot_before_deploy", Reason: "stateless since the queue migration; snapshots make no sense", Author: "carol", Expires: expires},
	)
}
