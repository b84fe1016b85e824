package scoring

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// Terraform facts read by sync: workspace settings, assessments and runs as
// integrations/terraform's Syncer records them (trigger "sync", evidence event "sync").

func tfService() releaseops.Service {
	return releaseops.Service{Name: "checkout", Owner: "team-payments", TerraformWorkspaces: []string{"acme/checkout-prod"}}
}

func (b *fb) tfWorkspace(read time.Time, assessments, autoApply bool) {
	b.add(releaseops.FactTerraformWorkspace, "terraform", releaseops.EventSync, read, func(f *releaseops.Fact) {
		f.Evidence.Path = "/api/v2/organizations/acme/workspaces/checkout-prod"
		f.Workspace = &releaseops.TerraformWorkspace{ID: "ws-1", Workspace: "checkout-prod", Organization: "acme",
			AssessmentsEnabled: assessments, AutoApply: autoApply}
	})
}

func (b *fb) tfAssessment(at time.Time, synced, drifted bool) {
	event, trigger := releaseops.EventSync, "sync"
	if !synced {
		event, trigger = "assessment:drifted", "assessment:drifted"
	}
	b.add(releaseops.FactAssessment, "terraform", event, at, func(f *releaseops.Fact) {
		f.Assessment = &releaseops.TerraformAssessment{Workspace: "checkout-prod", Organization: "acme", Trigger: trigger,
			Succeeded: true, Drifted: drifted}
	})
}

func (b *fb) tfRun(at time.Time, id, trigger, status string, set func(*releaseops.TerraformRun)) {
	event := trigger
	if trigger == "sync" {
		event = releaseops.EventSync
	}
	b.add(releaseops.FactTerraformRun, "terraform", event, at, func(f *releaseops.Fact) {
		f.TerraformRun = &releaseops.TerraformRun{RunID: id, Workspace: "checkout-prod", Organization: "acme", Trigger: trigger, Status: status}
		if set != nil {
			set(f.TerraformRun)
		}
	})
}

func expect(t *testing.T, s SignalResult, outcome Outcome, score float64, reason string) {
	t.Helper()
	if s.Outcome != outcome || !approx(s.Score, score) || !strings.Contains(s.Reason, reason) {
		t.Errorf("%s: %s %.3f %q; want %s %.3f containing %q", s.ID, s.Outcome, s.Score, s.Reason, outcome, score, reason)
	}
}

func TestAssessmentsOffIsAFinding(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	var b fb
	b.tfAssessment(ago_(20*day), true, false) // from before they were turned off
	b.tfWorkspace(ago_(3*day), false, false)
	card := scoreAt(e, tfService(), b.facts, now)
	s := signal(t, card, "drift_assessment_recent")
	expect(t, s, OutcomeFail, 0, "enable health assessments for workspace acme/checkout-prod: they are off (read from the HCP Terraform API at 2026-11-17 12:00 UTC)")
	if len(s.Evidence) != 1 || s.Evidence[0].Path != "/api/v2/organizations/acme/workspaces/checkout-prod" {
		t.Errorf("evidence %+v", s.Evidence)
	}
	expect(t, signal(t, card, "no_open_drift"), OutcomePass, 1, "no drift open")

	// Without any assessment the drift signals say why none can come.
	var off fb
	off.tfWorkspace(ago_(3*day), false, false)
	card = scoreAt(e, tfService(), off.facts, now)
	expect(t, signal(t, card, "no_open_drift"), OutcomeNoData, 0, "health assessments are off for workspace acme/checkout-prod (read from the HCP Terraform API")

	// An assessment after the read (the organisation enforces them): measured as usual.
	b.tfAssessment(ago_(2*hour), false, false)
	expect(t, signal(t, scoreAt(e, tfService(), b.facts, now), "drift_assessment_recent"), OutcomePass, 1, "last health assessment 2 h ago")

	// Turned on, and none completed yet.
	var on fb
	on.tfWorkspace(ago_(hour), true, false)
	expect(t, signal(t, scoreAt(e, tfService(), on.facts, now), "drift_assessment_recent"), OutcomeNoData, 0,
		"no health assessment has completed yet for workspace acme/checkout-prod (health assessments are on; read from the HCP Terraform API")
}

func TestSyncedAssessmentTriagesAnOlderDriftNotification(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	var b fb
	b.tfAssessment(ago_(54*hour), false, true) // the notification: drift found
	b.tfAssessment(ago_(48*hour), true, false) // the read: clean, 6 h later
	card := scoreAt(e, tfService(), b.facts, now)
	expect(t, signal(t, card, "no_open_drift"), OutcomePass, 1, "no drift open")
	expect(t, signal(t, card, "drift_triaged"), OutcomePass, 1, "all 1 drift in 30 days triaged within 12 h")
	s := signal(t, card, "drift_assessment_recent")
	expect(t, s, OutcomeFail, 0, "last health assessment 2 days ago (workspace checkout-prod), older than 6 h")
	if len(s.Evidence) != 1 || s.Evidence[0].Event != releaseops.EventSync {
		t.Errorf("recency rests on the read: %+v", s.Evidence)
	}

	// A read older than the notification does not triage it.
	var late fb
	late.tfAssessment(ago_(48*hour), true, false)
	late.tfAssessment(ago_(18*hour), false, true)
	expect(t, signal(t, scoreAt(e, tfService(), late.facts, now), "no_open_drift"), OutcomePartial, 0.5, "1 drift open")
}

func TestSyncedDestroyConfirmation(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	for _, tc := range []struct {
		name    string
		build   func(b *fb)
		outcome Outcome
		score   float64
		reason  string
	}{
		{"auto-applied read", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "sync", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy, r.AutoApplied = true, true })
		}, OutcomeFail, 0, `1 of 1 applied destroy in 30 days ran without waiting for a confirmation (auto-applied: "run-1")`},
		{"confirmed read", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "sync", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy, r.ConfirmedBy = true, "alice" })
		}, OutcomePass, 1, "all 1 applied destroy in 30 days waited for a confirmation"},
		{"read without auto-apply", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "sync", "post_apply_completed", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
		}, OutcomePass, 1, "all 1 applied destroy in 30 days waited for a confirmation"},
		{"read while planning, then auto-applied", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "sync", "planning", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
			b.tfRun(ago_(3*day-time.Hour), "run-1", "sync", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy, r.AutoApplied = true, true })
		}, OutcomeFail, 0, "ran without waiting for a confirmation"},
		{"webhooks that waited, then read", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "run:needs_attention", "planned", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
			b.tfRun(ago_(3*day-time.Hour), "run-1", "run:completed", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
			b.tfRun(ago_(2*day), "run-1", "sync", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy, r.ConfirmedBy = true, "bob" })
		}, OutcomePass, 1, "all 1 applied destroy"},
		// Webhooks alone keep their rule: a destroy applied without run:needs_attention fails.
		{"webhook without needs_attention", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "run:completed", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
		}, OutcomeFail, 0, "1 of 1 applied destroy in 30 days ran without waiting for a confirmation; turn off"},
		{"webhook with needs_attention", func(b *fb) {
			b.tfRun(ago_(3*day), "run-1", "run:needs_attention", "planned", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
			b.tfRun(ago_(3*day-time.Hour), "run-1", "run:completed", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy = true })
		}, OutcomePass, 1, "all 1 applied destroy in 30 days waited for a confirmation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b fb
			tc.build(&b)
			expect(t, signal(t, scoreAt(e, tfService(), b.facts, now), "no_unapproved_destroy"), tc.outcome, tc.score, tc.reason)
		})
	}
}

func TestFreshReadWithoutRunsShowsNoDestroy(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	var b fb
	b.tfWorkspace(ago_(40*day), true, false) // settings unchanged since; the sync read them an hour ago
	cov := []releaseops.SyncCoverage{{Source: "terraform", Subject: "acme/checkout-prod", LastAttempt: ago_(hour), LastSuccess: ago_(hour)}}
	card := e.Score(Input{Service: tfService(), Facts: b.facts, Now: now, Sync: cov})
	expect(t, signal(t, card, "no_unapproved_destroy"), OutcomePass, 1, "no Terraform run in the last 30 days (the workspace's runs were last read from the HCP Terraform API at 2026-11-20 11:00 UTC)")

	// A sync failing for a week shows nothing.
	cov[0].LastSuccess, cov[0].Error = ago_(7*day), "401 Unauthorized: terraform.token is invalid or revoked"
	card = e.Score(Input{Service: tfService(), Facts: b.facts, Now: now, Sync: cov})
	expect(t, signal(t, card, "no_unapproved_destroy"), OutcomeNoData, 0, "no Terraform run notification in the last 30 days")
}

// Workspace facts are indexed like every kind: the incremental index gives Score's card.
func TestScoreIndexedWithSyncedTerraform(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	var b fb
	b.tfWorkspace(ago_(10*day), false, true)
	b.tfRun(ago_(9*day), "run-1", "sync", "applied", func(r *releaseops.TerraformRun) { r.IsDestroy, r.AutoApplied = true, true })
	b.tfWorkspace(ago_(5*day), true, false)
	b.tfAssessment(ago_(4*day), true, true)
	b.tfAssessment(ago_(2*day), true, false)
	b.tfWorkspace(ago_(day), false, false)
	var idx Index
	buf := make([]releaseops.Fact, 0, len(b.facts))
	for i, f := range b.facts {
		buf = append(buf, f)
		at := f.At.Add(time.Minute)
		got := marshal(t, e.ScoreIndexed(Input{Service: tfService(), Facts: buf, Now: at}, &idx))
		want := marshal(t, e.Score(Input{Service: tfService(), Facts: append([]releaseops.Fact(nil), buf...), Now: at}))
		if !bytes.Equal(got, want) {
			t.Fatalf("after fact %d the indexed card differs:\n%s", i, firstDiff(want, got))
		}
	}
}
