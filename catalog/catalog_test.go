package catalog

import (
	"fmt"
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

func found(repo string, s releaseops.Service) Found {
	s.Origin = "github:" + repo + "/catalog-info.yaml"
	return Found{Repo: repo, Service: s}
}

func claims(cs []Conflict) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		out[c.Claim+" "+c.Value] = c.Owner
	}
	return out
}

// Anyone in the organisation can create a repository with a catalog-info.yaml: what it says
// about another team's repository, PagerDuty service or workspaces must not move their
// events onto hers.
func TestFoundEntryTakesNothingAnotherServiceHolds(t *testing.T) {
	cat := New([]releaseops.Service{
		{Name: "checkout", Repo: "acme/checkout", PagerDutyServiceID: "PCHK123", TerraformWorkspaces: []string{"acme/checkout-prod"}},
		{Name: "payments", Repo: "acme/payments", TerraformWorkspaces: []string{"payments-prod"}},
	})
	refused := cat.SetFound([]Found{found("acme/sandbox-mallory", releaseops.Service{Name: "mallory", Repo: "acme/checkout",
		PagerDutyServiceID: "pchk123", Approvers: []string{"U0MALLORY"},
		TerraformWorkspaces: []string{"ACME/Checkout-Prod", "acme/payments-prod", "acme/mallory-prod"}})})

	for subj, want := range map[releaseops.Subject]string{
		{Kind: releaseops.SubjectRepo, Key: "acme/checkout"}:           "checkout",
		{Kind: releaseops.SubjectPagerDuty, Key: "PCHK123"}:            "checkout",
		{Kind: releaseops.SubjectWorkspace, Key: "acme/checkout-prod"}: "checkout",
		{Kind: releaseops.SubjectWorkspace, Key: "acme/payments-prod"}: "payments",
		{Kind: releaseops.SubjectRepo, Key: "acme/sandbox-mallory"}:    "mallory",
		{Kind: releaseops.SubjectWorkspace, Key: "acme/mallory-prod"}:  "mallory",
	} {
		if r, ok := cat.Resolve(subj); !ok || r.Service != want {
			t.Errorf("Resolve(%v) = %+v, %v; want %s", subj, r, ok, want)
		}
	}
	m, _ := cat.Get("mallory")
	if m.Repo != "acme/sandbox-mallory" || m.PagerDutyServiceID != "" || len(m.TerraformWorkspaces) != 1 {
		t.Errorf("mallory = %+v; want her own repository and workspace only", m)
	}
	if got := claims(refused); len(got) != 3 || got["pagerduty_service_id pchk123"] != "checkout" ||
		got["terraform_workspace ACME/Checkout-Prod"] != "checkout" || got["terraform_workspace acme/payments-prod"] != "payments" {
		t.Errorf("refused = %v", refused)
	}
	if c, _ := cat.Get("checkout"); len(c.Approvers) != 0 {
		t.Errorf("checkout took approvers from mallory's file: %+v", c)
	}
}

// A found entry with a declared service's name merges under it only when both describe the
// same repository; the declared fields win.
func TestFoundEntryOfATakenName(t *testing.T) {
	declared := []releaseops.Service{
		{Name: "ledger", Repo: "acme/ledger", Owner: "team-finance"},
		{Name: "billing", Owner: "team-finance"}, // no repository: nothing to match a file against
	}
	cat := New(declared)
	refused := cat.SetFound([]Found{
		found("acme/sandbox", releaseops.Service{Name: "ledger", Owner: "mallory", Approvers: []string{"U0MALLORY"}, SlackChannel: "C0MAL"}),
		found("acme/billing", releaseops.Service{Name: "billing", Approvers: []string{"U0MALLORY"}}),
	})
	if l, _ := cat.Get("ledger"); l.Owner != "team-finance" || l.Repo != "acme/ledger" || len(l.Approvers) != 0 || l.SlackChannel != "" || l.Origin != "config" {
		t.Errorf("ledger after a stranger's file: %+v", l)
	}
	if b, _ := cat.Get("billing"); len(b.Approvers) != 0 || b.Repo != "" {
		t.Errorf("billing after a file of its name: %+v", b)
	}
	if r, ok := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/sandbox"}); ok && r.Service == "ledger" {
		t.Error("acme/sandbox resolves to ledger")
	}
	if len(refused) != 2 || !refused[0].Rejected() || !refused[1].Rejected() {
		t.Errorf("refused = %v", refused)
	}

	refused = cat.SetFound([]Found{found("ACME/Ledger", releaseops.Service{Name: "ledger", Owner: "someone", Tier: 1,
		Approvers: []string{"U0ALICE"}, PagerDutyServiceID: "PLEDGER"})})
	l, _ := cat.Get("ledger")
	if len(refused) != 0 || l.Owner != "team-finance" || l.Repo != "acme/ledger" || l.Tier != 1 || len(l.Approvers) != 1 || l.Origin != "config" {
		t.Errorf("ledger merged with its own repository's file: %+v (refused %v)", l, refused)
	}
	if r, _ := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PLEDGER"}); r.Service != "ledger" {
		t.Errorf("the file's PagerDuty service: %+v", r)
	}

	// Each discovery replaces the last: a file gone leaves the declared entry as declared.
	cat.SetFound(nil)
	if l, _ := cat.Get("ledger"); l.Tier != 0 || len(l.Approvers) != 0 {
		t.Errorf("ledger after its file went: %+v", l)
	}
	if _, ok := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PLEDGER"}); ok {
		t.Error("PLEDGER still maps after the file that named it went")
	}
}

// Two repositories claiming one name or one mapping: the outcome does not depend on the
// order GitHub lists them, and a repository named after the service outranks the others.
func TestFoundEntriesAreTakenInAFixedOrder(t *testing.T) {
	entries := []Found{
		found("acme/b-team", releaseops.Service{Name: "shared", Owner: "b", PagerDutyServiceID: "P2"}),
		found("acme/e-team", releaseops.Service{Name: "e", PagerDutyServiceID: "P1"}),
		found("acme/a-team", releaseops.Service{Name: "shared", Owner: "a"}),
		found("acme/c-team", releaseops.Service{Name: "c", PagerDutyServiceID: "P1", TerraformWorkspaces: []string{"ws"}}),
		found("acme/aaa-ledger", releaseops.Service{Name: "ledger", Owner: "mallory"}),
		found("acme/ledger", releaseops.Service{Name: "ledger", Owner: "team-finance"}),
		found("acme/d-team", releaseops.Service{Name: "d", TerraformWorkspaces: []string{"WS"}}),
	}
	var first map[string]string
	for i := range len(entries) {
		order := append(append([]Found{}, entries[i:]...), entries[:i]...)
		for j := 0; j < len(order)/2; j++ { // and backwards, every other turn
			if i%2 == 1 {
				order[j], order[len(order)-1-j] = order[len(order)-1-j], order[j]
			}
		}
		cat := New(nil)
		refused := claims(cat.SetFound(order))
		shared, _ := cat.Get("shared")
		ledger, _ := cat.Get("ledger")
		c, _ := cat.Get("c")
		d, _ := cat.Get("d")
		e, _ := cat.Get("e")
		if e.PagerDutyServiceID != "" || shared.Owner != "a" || shared.Repo != "acme/a-team" || ledger.Owner != "team-finance" ||
			ledger.Repo != "acme/ledger" || c.PagerDutyServiceID != "P1" || len(c.TerraformWorkspaces) != 1 || len(d.TerraformWorkspaces) != 0 {
			t.Fatalf("order %d: shared %+v, ledger %+v, c %+v, d %+v, e %+v", i, shared, ledger, c, d, e)
		}
		if r, _ := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "P1"}); r.Service != "c" {
			t.Fatalf("order %d: P1 maps to %q; want c, the first repository claiming it", i, r.Service)
		}
		if _, ok := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "P2"}); ok {
			t.Fatalf("order %d: P2 of a rejected entry maps", i)
		}
		if first == nil {
			first = refused
		} else if fmt.Sprint(first) != fmt.Sprint(refused) {
			t.Fatalf("order %d refused %v; order 0 refused %v", i, refused, first)
		}
	}
	if len(first) != 4 || first["pagerduty_service_id P1"] != "c" || first["terraform_workspace WS"] != "c" {
		t.Errorf("refused = %v; want the two names, P1 and WS", first)
	}
}

// Convention entries only record a repository seen in events: a found entry of that
// repository replaces or outranks them, and one of another repository does not.
func TestFoundEntriesAndConventionEntries(t *testing.T) {
	cat := New(nil)
	cat.AddDiscovered("ledger", releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/ledger"})
	cat.AddDiscovered("svc", releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/svc"})
	refused := cat.SetFound([]Found{
		found("acme/sandbox", releaseops.Service{Name: "ledger", Approvers: []string{"U0MALLORY"}}),
		found("acme/ledger", releaseops.Service{Name: "ledger", Approvers: []string{"U0ALICE"}}),
		found("acme/svc", releaseops.Service{Name: "svc-api"}),
	})
	if l, _ := cat.Get("ledger"); len(l.Approvers) != 1 || l.Approvers[0] != "U0ALICE" || l.Origin != "github:acme/ledger/catalog-info.yaml" {
		t.Errorf("ledger: %+v", l)
	}
	if len(refused) != 1 || refused[0].Repo != "acme/sandbox" || !refused[0].Rejected() {
		t.Errorf("refused = %v", refused)
	}
	if r, _ := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/svc"}); r.Service != "svc-api" {
		t.Errorf("acme/svc resolves to %q", r.Service)
	}
	if s, _ := cat.Get("svc"); s.Repo != "" {
		t.Errorf("the convention entry keeps the repository a found entry took: %+v", s)
	}
	cat.SetFound(nil)
	if r, _ := cat.Resolve(releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/svc"}); r.Service != "svc" {
		t.Errorf("after the file went, acme/svc resolves to %q", r.Service)
	}
	if l, _ := cat.Get("ledger"); l.Origin != "convention" {
		t.Errorf("after the file went, ledger: %+v", l)
	}
}
