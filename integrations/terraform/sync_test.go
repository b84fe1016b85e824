package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

func factsOf(fs []releaseops.Fact, kind releaseops.FactKind) []releaseops.Fact {
	var out []releaseops.Fact
	for _, f := range fs {
		if f.Kind == kind {
			out = append(out, f)
		}
	}
	return out
}

func runByID(t *testing.T, fs []releaseops.Fact, id string) releaseops.Fact {
	t.Helper()
	for _, f := range factsOf(fs, releaseops.FactTerraformRun) {
		if f.TerraformRun.RunID == id {
			return f
		}
	}
	t.Fatalf("no run %s in %d facts", id, len(fs))
	return releaseops.Fact{}
}

func TestSyncReadsWorkspaceAssessmentAndRuns(t *testing.T) {
	h := newHarness(t, recordedFake(t), recordedSubjects())
	sum := h.run(t)
	if len(sum.Failures) != 0 {
		t.Fatalf("failures: %+v", sum.Failures)
	}
	// checkout and search: workspace, assessment, runs; legacy has no assessment to fetch.
	// One ping builds the client.
	if sum.Requests != 1+3+3+2 || sum.RateWaits != 0 {
		t.Fatalf("requests %d, waits %d; want 9 and 0 (hits %v)", sum.Requests, sum.RateWaits, h.fake.Hits())
	}
	// workspace + assessment + 3 runs, workspace + assessment + 2 runs, workspace + 2 runs.
	if sum.Observations != 12 || sum.Facts != 12 {
		t.Fatalf("observations %d, facts %d; want 12 and 12", sum.Observations, sum.Facts)
	}

	checkout := h.facts(t, "checkout")
	ws := factsOf(checkout, releaseops.FactTerraformWorkspace)
	if len(ws) != 1 {
		t.Fatalf("%d workspace facts", len(ws))
	}
	want := releaseops.TerraformWorkspace{ID: checkoutID, Workspace: "checkout-prod", Organization: "acme", AssessmentsEnabled: true,
		URL: h.fake.srv.URL + "/app/acme/workspaces/checkout-prod"}
	if *ws[0].Workspace != want {
		t.Errorf("workspace %+v, want %+v", *ws[0].Workspace, want)
	}
	ev := ws[0].Evidence
	if ev.Source != "terraform" || ev.Event != releaseops.EventSync || ev.Path != "/api/v2/organizations/acme/workspaces/checkout-prod" ||
		!ev.At.Equal(syncNow) || !strings.HasPrefix(ev.Delivery, "sync:acme/checkout-prod:workspace:") {
		t.Errorf("workspace evidence %+v", ev)
	}
	if ws[0].Subject != (releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: "acme/checkout-prod"}) || ws[0].Service != "checkout" {
		t.Errorf("workspace subject %+v service %q", ws[0].Subject, ws[0].Service)
	}

	as := factsOf(checkout, releaseops.FactAssessment)
	if len(as) != 1 {
		t.Fatalf("%d assessment facts", len(as))
	}
	wantA := releaseops.TerraformAssessment{Workspace: "checkout-prod", Organization: "acme", Trigger: "sync", Succeeded: true, Drifted: true,
		ResourcesDrifted: 3, URL: h.fake.srv.URL + "/api/v2/assessment-results/asmtres-CkDr1ft8qW3eR5tY"}
	if *as[0].Assessment != wantA || !as[0].At.Equal(time.Date(2026, 11, 30, 18, 0, 0, 0, time.UTC)) {
		t.Errorf("assessment %+v at %s, want %+v at the assessment's created-at", *as[0].Assessment, as[0].At, wantA)
	}
	if as[0].Evidence.Path != "/api/v2/workspaces/"+checkoutID+"/current-assessment-result" {
		t.Errorf("assessment read from %s", as[0].Evidence.Path)
	}

	// Confirmed by bob, whom the answer does not include: named by id. Its time is the apply's.
	applied := runByID(t, checkout, "run-CkA3pPl1eD7mN2bV")
	wantR := releaseops.TerraformRun{RunID: "run-CkA3pPl1eD7mN2bV", Workspace: "checkout-prod", Organization: "acme", Trigger: "sync",
		Status: "applied", Message: "Scale checkout workers to 12", CreatedBy: "alice", ConfirmedBy: "user-b0BxR4tN7kLpQ2mD",
		URL: h.fake.srv.URL + "/app/acme/workspaces/checkout-prod/runs/run-CkA3pPl1eD7mN2bV"}
	if *applied.TerraformRun != wantR || !applied.At.Equal(time.Date(2026, 11, 28, 15, 42, 10, 0, time.UTC)) {
		t.Errorf("run %+v at %s, want %+v at its applied-at", *applied.TerraformRun, applied.At, wantR)
	}
	if !strings.HasPrefix(applied.Evidence.Path, "/api/v2/workspaces/"+checkoutID+"/runs?") {
		t.Errorf("run read from %s", applied.Evidence.Path)
	}
	if d := runByID(t, checkout, "run-CkD1sc4rD5eF6gH7").TerraformRun; d.Status != "discarded" || d.CreatedBy != "carol" || d.AutoApplied {
		t.Errorf("discarded run %+v", d)
	}

	// legacy: assessments off, and a destroy that applied by itself.
	legacy := h.facts(t, "legacy")
	if w := factsOf(legacy, releaseops.FactTerraformWorkspace); len(w) != 1 || w[0].Workspace.AssessmentsEnabled || !w[0].Workspace.AutoApply {
		t.Errorf("legacy workspace %+v", w)
	}
	if a := factsOf(legacy, releaseops.FactAssessment); len(a) != 0 {
		t.Errorf("legacy has no assessment, got %+v", a)
	}
	destroy := runByID(t, legacy, "run-LgDe5tRoY6uI7oP8").TerraformRun
	if !destroy.IsDestroy || !destroy.AutoApplied || destroy.ConfirmedBy != "" {
		t.Errorf("auto-applied destroy %+v", destroy)
	}
	// search: the destroy waited for bob; carol confirmed her own run, so she is named.
	search := h.facts(t, "search")
	if d := runByID(t, search, "run-SrDe5tR0yQ1wE2rT").TerraformRun; !d.IsDestroy || d.AutoApplied || d.ConfirmedBy != "user-b0BxR4tN7kLpQ2mD" {
		t.Errorf("confirmed destroy %+v", d)
	}
	if r := runByID(t, search, "run-SrApPlY9kJ7hG5fD").TerraformRun; r.ConfirmedBy != "carol" || r.CreatedBy != "carol" {
		t.Errorf("self-confirmed run %+v", r)
	}
}

func TestSyncEvidenceIsTheAPIAnswer(t *testing.T) {
	h := newHarness(t, recordedFake(t), recordedSubjects()[:1])
	h.run(t)
	f := factsOf(h.facts(t, "checkout"), releaseops.FactAssessment)[0]
	d, err := h.db.GetDelivery(context.Background(), "terraform", f.Evidence.Delivery)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Subject  string           `json:"subject"`
		Key      string           `json:"key"`
		Requests []syncer.Request `json:"requests"`
	}
	if err := json.Unmarshal(d.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Subject != "acme/checkout-prod" || body.Key != "assessment" || len(body.Requests) != 1 {
		t.Fatalf("delivery body %+v", body)
	}
	var got, want bytes.Buffer
	_ = json.Compact(&got, body.Requests[0].Response)
	_ = json.Compact(&want, readSyncdata(t, "checkout-prod/assessment.json"))
	if got.String() != want.String() || body.Requests[0].Status != 200 {
		t.Errorf("the evidence is not the answer as sent:\n%s", got.String())
	}
	run := runByID(t, h.facts(t, "checkout"), "run-CkA3pPl1eD7mN2bV")
	d, err = h.db.GetDelivery(context.Background(), "terraform", run.Evidence.Delivery)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(d.Body, &body); err != nil {
		t.Fatal(err)
	}
	var item struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body.Requests[0].Response, &item); item.ID != "run-CkA3pPl1eD7mN2bV" {
		t.Errorf("a run's evidence is its item of the list, got %s", body.Requests[0].Response)
	}
}

func TestSyncUnchangedWritesNothing(t *testing.T) {
	h := newHarness(t, recordedFake(t), recordedSubjects())
	h.run(t)
	rows := h.factRows(t)
	h.fake.resetHits()
	h.clock.Sleep(context.Background(), 6*time.Hour)

	sum := h.run(t)
	if sum.Observations != 0 || sum.Facts != 0 || len(sum.Failures) != 0 {
		t.Fatalf("unchanged re-sync: %d observations, %d facts, failures %+v", sum.Observations, sum.Facts, sum.Failures)
	}
	if got := h.factRows(t); got != rows {
		t.Fatalf("fact rows %d → %d", rows, got)
	}
	// Two calls a workspace: an assessment result already read is not fetched again.
	if sum.Requests != 6 {
		t.Errorf("%d requests, want 6: %v", sum.Requests, h.fake.Hits())
	}
	for _, hit := range h.fake.Hits() {
		if strings.Contains(hit, "current-assessment-result") {
			t.Errorf("fetched again: %s", hit)
		}
	}

	// A new assessment (clean, same counts as none) and a run that moved on: exactly those.
	ws := bytes.Replace(readSyncdata(t, "search-prod/workspace.json"), []byte("asmtres-SrCl34nP2oI8uY6t"), []byte("asmtres-SrN3wEr5aS6dF7gH"), 1)
	h.fake.set("search-prod", "workspace", ws)
	a := bytes.ReplaceAll(readSyncdata(t, "search-prod/assessment.json"), []byte("asmtres-SrCl34nP2oI8uY6t"), []byte("asmtres-SrN3wEr5aS6dF7gH"))
	h.fake.set("search-prod", "assessment", bytes.Replace(a, []byte("2026-11-29T12:00:00+00:00"), []byte("2026-12-01T16:00:00+00:00"), 1))
	runs := bytes.Replace(readSyncdata(t, "checkout-prod/runs.json"), []byte(`"status": "discarded"`), []byte(`"status": "errored"`), 1)
	h.fake.set("checkout-prod", "runs", runs)
	sum = h.run(t)
	if sum.Observations != 2 || sum.Facts != 2 {
		t.Fatalf("after a new assessment and a changed run: %d observations, %d facts; want 2 and 2", sum.Observations, sum.Facts)
	}
	as := factsOf(h.facts(t, "search"), releaseops.FactAssessment)
	if len(as) != 2 || !as[1].At.Equal(time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("search assessments %+v", as)
	}
	var statuses []string
	for _, f := range factsOf(h.facts(t, "checkout"), releaseops.FactTerraformRun) {
		if f.TerraformRun.RunID == "run-CkD1sc4rD5eF6gH7" {
			statuses = append(statuses, f.TerraformRun.Status)
		}
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []string{"discarded", "errored"}) {
		t.Errorf("the changed run: %v", statuses)
	}
}

func TestSyncBareWorkspaceNameIsTheConfiguredOrganization(t *testing.T) {
	h := newHarness(t, recordedFake(t), []syncer.Subject{subject("search-prod", "search")})
	sum := h.run(t)
	if len(sum.Failures) != 0 || sum.Facts == 0 {
		t.Fatalf("summary %+v", sum)
	}
	if !slices.Contains(h.fake.Hits(), "/api/v2/organizations/acme/workspaces/search-prod") {
		t.Errorf("hits %v", h.fake.Hits())
	}
}

func TestNewSyncerChecksItsOptions(t *testing.T) {
	for _, tc := range []struct {
		o    SyncOptions
		want string
	}{
		{SyncOptions{Organization: "acme"}, "terraform.token"},
		{SyncOptions{Token: "t"}, "terraform.organization"},
		{SyncOptions{Token: "t", Organization: "acme", Address: "app.terraform.io"}, "terraform.address"},
	} {
		if _, err := NewSyncer(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
	s, err := NewSyncer(SyncOptions{Token: "t", Organization: "acme"})
	if err != nil || s.address != DefaultAddress || s.Name() != "terraform" {
		t.Fatalf("%v %+v", err, s)
	}
}
