package bot

import "testing"

func TestParseCommand(t *testing.T) {
	cases := []struct {
		text string
		want Command
	}{
		{"", Command{Kind: CmdHelp}},
		{"   ", Command{Kind: CmdHelp}},
		{"help", Command{Kind: CmdHelp}},
		{"HELP", Command{Kind: CmdHelp}},
		{"checkout", Command{Kind: CmdScorecard, Service: "checkout"}},
		{"Checkout", Command{Kind: CmdScorecard, Service: "checkout"}},
		{"checkout production", Command{Kind: CmdScorecard, Service: "checkout", Env: "production"}},
		{"checkout  staging ", Command{Kind: CmdScorecard, Service: "checkout", Env: "staging"}},
		{"checkout staging extra", Command{Kind: CmdUsage, Problem: "too many arguments"}},
		{"why checkout rollback_readiness", Command{Kind: CmdWhy, Service: "checkout", Dimension: "rollback_readiness"}},
		{"why checkout Branch governance", Command{Kind: CmdWhy, Service: "checkout", Dimension: "Branch governance"}},
		{"why", Command{Kind: CmdUsage, Problem: "why needs a service and a dimension"}},
		{"why checkout", Command{Kind: CmdUsage, Problem: "why needs a dimension after the service"}},
		{"worst", Command{Kind: CmdWorst}},
		{"WORST", Command{Kind: CmdWorst}},
		{"worst 5", Command{Kind: CmdUsage, Problem: "worst takes no argument"}},
		{"help me", Command{Kind: CmdScorecard, Service: "help", Env: "me"}},
		{"risk Checkout", Command{Kind: CmdRisk, Service: "checkout"}},
		{"RISK checkout v1.42.0-RC1", Command{Kind: CmdRisk, Service: "checkout", Version: "v1.42.0-RC1"}},
		{"risk", Command{Kind: CmdUsage, Problem: "risk needs a service"}},
		{"risk checkout v1 extra", Command{Kind: CmdUsage, Problem: "risk takes a service and at most a version"}},
		{"window checkout", Command{Kind: CmdWindow, Service: "checkout"}},
		{"Window  CHECKOUT ", Command{Kind: CmdWindow, Service: "checkout"}},
		{"window", Command{Kind: CmdUsage, Problem: "window needs a service"}},
		{"window checkout 24", Command{Kind: CmdUsage, Problem: "window takes one service"}},
		{"<!channel>", Command{Kind: CmdScorecard, Service: "<!channel>"}},
	}
	for _, c := range cases {
		if got := ParseCommand(c.text); got != c.want {
			t.Errorf("ParseCommand(%q) = %+v, want %+v", c.text, got, c.want)
		}
	}
}

func TestResolveDimension(t *testing.T) {
	cases := []struct {
		typed, want string
		ok          bool
	}{
		{"rollback_readiness", "rollback_readiness", true},
		{"Rollback readiness", "rollback_readiness", true},
		{"rollback", "rollback_readiness", true},
		{"drift", "infrastructure_drift", true},
		{"branch-governance", "branch_governance", true},
		{"OBSERVABILITY", "observability", true},
		{"comm", "release_communication", true},
		{"release", "", false}, // release auditability or release communication
		{"terraform", "terraform_governance", true},
		{"nonsense", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := ResolveDimension(c.typed)
		if got != c.want || ok != c.ok {
			t.Errorf("ResolveDimension(%q) = %q, %v; want %q, %v", c.typed, got, ok, c.want, c.ok)
		}
	}
}
