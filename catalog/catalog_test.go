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
