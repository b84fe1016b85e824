package catalog

import (
	"testing"

	"github.com/releaseops/releaseops"
)

func TestBackstageComponents(t *testing.T) {
	svcs, err := LoadBackstage([]string{"testdata"})
	if err != nil {
		t.Fatal(err)
	}
	if len(svcs) != 2 {
		t.Fatalf("got %d services, want 2 (the API entity is skipped)", len(svcs))
	}
	c := svcs[0]
	if c.Name != "checkout" || c.Repo != "acme/checkout-service" || c.PagerDutyServiceID != "PCHK123" || c.Owner != "team-payments" ||
		c.Tier != 1 || len(c.Approvers) != 2 || c.Approvers[1] != "U0BOB" || c.RunbookURL == "" || c.SlackChannel != "C0CHECKOUT" {
		t.Fatalf("checkout = %+v", c)
	}
}

func TestResolve(t *testing.T) {
	cat := New([]releaseops.Service{
		{Name: "checkout", Repo: "acme/checkout-service", PagerDutyServiceID: "PCHK123", TerraformWorkspaces: []string{"acme/checkout-prod"}},
	})
	cases := []struct {
		subject    releaseops.Subject
		want       string
		ok, discov bool
	}{
		{releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "ACME/Checkout-Service"}, "checkout", true, false},
		{releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/search"}, "search", true, true},
		{releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "evil/checkout"}, "", false, false}, // name taken by another repo
		{releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PCHK123"}, "checkout", true, false},
		{releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PUNKNOWN"}, "", false, false},
		{releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: "acme/checkout-prod"}, "checkout", true, false},
		{releaseops.Subject{Kind: releaseops.SubjectService, Key: "checkout"}, "checkout", true, false},
		{releaseops.Subject{Kind: releaseops.SubjectService, Key: "payments"}, "payments", true, true},
	}
	for _, tc := range cases {
		r, ok := cat.Resolve(tc.subject)
		if ok != tc.ok || r.Service != tc.want || r.Discovered != tc.discov {
			t.Errorf("Resolve(%v) = %+v, %v; want %q, %v, discovered %v", tc.subject, r, ok, tc.want, tc.ok, tc.discov)
		}
	}
	cat.AddDiscovered("search", releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/search"})
	if r, _ := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/search"}); r.Discovered {
		t.Fatal("a discovered service is discovered only once")
	}
	if got := cat.Closest("chekout", 3); len(got) == 0 || got[0] != "checkout" {
		t.Fatalf("Closest = %v", got)
	}
}

func TestConventionName(t *testing.T) {
	for in, want := range map[string]string{"acme/Checkout": "checkout", "acme/my_svc.v2": "my_svc.v2", "o/ weird name!": "weird-name"} {
		if got := ConventionName(in); got != want {
			t.Errorf("ConventionName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMergeKeepsEveryDeclaredFact(t *testing.T) {
	yes := true
	base := releaseops.Service{Name: "a", Repo: "o/a", Owner: "team", Tier: 2}
	over := releaseops.Service{Name: "a", Owner: "other", SlackChannel: "C1", Approvers: []string{"U1"}, PagerDutyServiceID: "P1",
		EscalationLevels: 2, RunbookURL: "https://r", SLOs: []releaseops.SLO{{Name: "x", Objective: 99}}, StructuredLogging: true,
		TraceCorrelation: true, Stateful: true, Codeowners: true, RTOTargetSeconds: 300, Terraform: &yes,
		ComplianceControls: []string{"c"}, StatusPageURL: "https://s", StakeholderChannel: "C2", DefaultBranch: "main",
		TerraformWorkspaces: []string{"o/w"}, TerraformModules: []releaseops.Module{{Name: "m"}}, NotApplicable: []string{"infrastructure_drift"},
		RunbookPaths: []string{"docs/"}}
	got := Merge(base, over)
	if got.Repo != "o/a" || got.Tier != 2 || got.Owner != "other" || !got.Codeowners || !got.Stateful || !got.StructuredLogging ||
		!got.TraceCorrelation || got.EscalationLevels != 2 || got.RTOTargetSeconds != 300 || got.Terraform == nil ||
		len(got.SLOs) != 1 || len(got.TerraformModules) != 1 || len(got.NotApplicable) != 1 || len(got.RunbookPaths) != 1 ||
		got.StatusPageURL == "" || got.StakeholderChannel == "" || got.DefaultBranch != "main" || len(got.ComplianceControls) != 1 ||
		len(got.TerraformWorkspaces) != 1 || len(got.Approvers) != 1 || got.PagerDutyServiceID != "P1" || got.RunbookURL == "" || got.SlackChannel != "C1" {
		t.Fatalf("merge lost a field: %+v", got)
	}
}
