package scoring

import (
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// signalCase is one row of the per-signal tables: a catalog entry, facts, a clock, and what
// the signal must say.
type signalCase struct {
	name    string
	svc     func(*releaseops.Service)
	facts   func(*fb)
	at      time.Time // zero: now
	score   float64
	outcome Outcome
	reason  string // substring
	evid    []string
}

func runSignalCases(t *testing.T, id string, cases []signalCase) {
	t.Helper()
	e := mustCompile(t, DefaultConfig())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc := baseService()
			if c.svc != nil {
				c.svc(&svc)
			}
			var b fb
			if c.facts != nil {
				c.facts(&b)
			}
			at := c.at
			if at.IsZero() {
				at = now
			}
			s := signal(t, scoreAt(e, svc, b.facts, at), id)
			if !approx(s.Score, c.score) || s.Outcome != c.outcome {
				t.Errorf("%s = %v (%s), want %v (%s); reason: %s", id, s.Score, s.Outcome, c.score, c.outcome, s.Reason)
			}
			if !strings.Contains(s.Reason, c.reason) {
				t.Errorf("reason %q does not contain %q", s.Reason, c.reason)
			}
			for _, d := range c.evid {
				found := false
				for _, ev := range s.Evidence {
					found = found || ev.Delivery == d
				}
				if !found {
					t.Errorf("evidence %v lacks delivery %s", s.Evidence, d)
				}
			}
		})
	}
}

func TestDefaultBranchProtected(t *testing.T) {
	runSignalCases(t, "default_branch_protected", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData, reason: "no branch_protection_rule or repository_ruleset event"},
		{name: "classic rule on main", facts: func(b *fb) { b.protection(ago_(400*day), releaseops.BranchProtection{}) },
			score: 1, outcome: OutcomePass, reason: "main is protected", evid: []string{"d-0001"}},
		{name: "rule for another branch", facts: func(b *fb) {
			b.protection(ago_(day), releaseops.BranchProtection{Pattern: "release/*"})
		}, score: 0, outcome: OutcomeFail, reason: "main is not protected"},
		{name: "wildcard rule and declared default branch", svc: func(s *releaseops.Service) { s.DefaultBranch = "trunk" },
			facts: func(b *fb) { b.protection(ago_(day), releaseops.BranchProtection{Pattern: "*"}) },
			score: 1, outcome: OutcomePass, reason: "trunk is protected"},
		{name: "active ruleset on ~DEFAULT_BRANCH", facts: func(b *fb) {
			b.add(releaseops.FactRuleset, "github", "repository_ruleset", ago_(day), func(f *releaseops.Fact) {
				f.Ruleset = &releaseops.Ruleset{Repo: "acme/checkout", ID: 7, Enforcement: "active", Target: "branch", Includes: []string{"~DEFAULT_BRANCH"}}
			})
		}, score: 1, outcome: OutcomePass},
		{name: "ruleset only evaluated", facts: func(b *fb) {
			b.add(releaseops.FactRuleset, "github", "repository_ruleset", ago_(day), func(f *releaseops.Fact) {
				f.Ruleset = &releaseops.Ruleset{Repo: "acme/checkout", ID: 7, Enforcement: "evaluate", Includes: []string{"~ALL"}}
			})
		}, score: 0, outcome: OutcomeFail},
		{name: "deleted", facts: func(b *fb) {
			b.protection(ago_(10*day), releaseops.BranchProtection{RequiredApprovingReviews: 1})
			b.protection(ago_(day), releaseops.BranchProtection{Deleted: true, Action: "deleted"})
		}, score: 0, outcome: OutcomeFail, evid: []string{"d-0002"}},
		{name: "master when only master is covered", facts: func(b *fb) {
			b.protection(ago_(day), releaseops.BranchProtection{Pattern: "master"})
		}, score: 1, outcome: OutcomePass, reason: "master is protected"},
	})
}

func TestRequiredReviewers(t *testing.T) {
	e := mustCompile(t, Config{Signals: map[string]SignalConfig{"required_reviewers": {Target: 2}}})
	var b fb
	b.protection(ago_(day), releaseops.BranchProtection{RequiredApprovingReviews: 1})
	s := signal(t, scoreAt(e, baseService(), b.facts, now), "required_reviewers")
	if s.Score != 0.5 || s.Outcome != OutcomePartial || s.Reason != "main requires 1 approving review; the policy wants 2" {
		t.Errorf("got %v %s %q", s.Score, s.Outcome, s.Reason)
	}
	runSignalCases(t, "required_reviewers", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "zero required", facts: func(b *fb) { b.protection(ago_(day), releaseops.BranchProtection{}) },
			score: 0, outcome: OutcomeFail, reason: "main requires 0 approving reviews; the policy wants 1"},
		{name: "two required", facts: func(b *fb) { b.protection(ago_(day), releaseops.BranchProtection{RequiredApprovingReviews: 2}) },
			score: 1, outcome: OutcomePass},
		{name: "strongest of rule and ruleset", facts: func(b *fb) {
			b.protection(ago_(day), releaseops.BranchProtection{RequiredApprovingReviews: 0})
			b.add(releaseops.FactRuleset, "github", "repository_ruleset", ago_(day), func(f *releaseops.Fact) {
				f.Ruleset = &releaseops.Ruleset{Repo: "acme/checkout", ID: 1, Enforcement: "active", Includes: []string{"refs/heads/main"}, RequiredApprovingReviews: 1}
			})
		}, score: 1, outcome: OutcomePass},
	})
}

func TestProtectionContinuity(t *testing.T) {
	protected := releaseops.BranchProtection{RequiredApprovingReviews: 2}
	runSignalCases(t, "protection_continuity", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "steady", facts: func(b *fb) { b.protection(ago_(300*day), protected) }, score: 1, outcome: OutcomePass},
		{name: "deleted, pushed, restored", facts: func(b *fb) {
			b.protection(ago_(300*day), protected)
			del := protected
			del.Deleted = true
			b.protection(ago_(5*day), del)
			b.push(ago_(5*day-10*time.Minute), releaseops.Push{After: "abc"})
			b.protection(ago_(5*day-20*time.Minute), protected)
		}, score: 0, outcome: OutcomeFail, reason: "protection removed on main", evid: []string{"d-0002", "d-0003", "d-0004"}},
		{name: "deleted with unknown prior state, no push", facts: func(b *fb) {
			del := protected
			del.Deleted = true
			b.protection(ago_(5*day), del)
			b.protection(ago_(5*day-20*time.Minute), protected)
		}, score: 0.5, outcome: OutcomePartial, reason: "restored 20 min later"},
		{name: "reviews lowered around a push", facts: func(b *fb) {
			b.protection(ago_(300*day), protected)
			b.protection(ago_(2*day), releaseops.BranchProtection{RequiredApprovingReviews: 0})
			b.push(ago_(2*day-time.Minute), releaseops.Push{After: "abc"})
			b.protection(ago_(2*day-2*time.Minute), protected)
		}, score: 0, outcome: OutcomeFail, reason: "required reviews lowered from 2 to 0"},
		{name: "push to another branch during lapse", facts: func(b *fb) {
			b.protection(ago_(300*day), protected)
			b.protection(ago_(2*day), releaseops.BranchProtection{RequiredApprovingReviews: 0})
			b.push(ago_(2*day-time.Minute), releaseops.Push{Ref: "refs/heads/feature", After: "abc"})
			b.protection(ago_(2*day-2*time.Minute), protected)
		}, score: 0.5, outcome: OutcomePartial},
		{name: "lapse before the window", facts: func(b *fb) {
			b.protection(ago_(40*day), releaseops.BranchProtection{Deleted: true})
			b.push(ago_(40*day-time.Minute), releaseops.Push{})
			b.protection(ago_(31*day), protected)
		}, score: 1, outcome: OutcomePass},
		{name: "lapse ending exactly at the window start still counts", facts: func(b *fb) {
			b.protection(ago_(31*day), releaseops.BranchProtection{Deleted: true})
			b.protection(ago_(30*day), protected)
		}, score: 0.5, outcome: OutcomePartial},
		{name: "still off", facts: func(b *fb) {
			b.protection(ago_(300*day), protected)
			b.protection(ago_(day), releaseops.BranchProtection{Deleted: true})
		}, score: 0.5, outcome: OutcomePartial, reason: "and not restored"},
	})
}

func TestCodeOwnerReview(t *testing.T) {
	co := releaseops.BranchProtection{RequireCodeOwnerReview: true}
	runSignalCases(t, "code_owner_review", []signalCase{
		{name: "not required", facts: func(b *fb) { b.protection(ago_(day), releaseops.BranchProtection{}) }, score: 0, outcome: OutcomeFail},
		{name: "required, file not evidenced", facts: func(b *fb) { b.protection(ago_(day), co) }, score: 0.5, outcome: OutcomePartial, reason: "no CODEOWNERS file is evidenced"},
		{name: "required, file declared", svc: func(s *releaseops.Service) { s.Codeowners = true }, facts: func(b *fb) { b.protection(ago_(day), co) }, score: 1, outcome: OutcomePass},
		{name: "required, file pushed", facts: func(b *fb) {
			b.protection(ago_(day), co)
			b.push(ago_(10*day), releaseops.Push{TouchesCodeowners: true})
		}, score: 1, outcome: OutcomePass, evid: []string{"d-0002"}},
	})
}

func TestPRApprovalShare(t *testing.T) {
	pr := func(b *fb, n int, at time.Time, author string) {
		b.add(releaseops.FactPullRequest, "github", "pull_request", at, func(f *releaseops.Fact) {
			f.PullRequest = &releaseops.PullRequest{Repo: "acme/checkout", Number: n, Author: author, MergedAt: at, BaseRef: "main"}
		})
	}
	review := func(b *fb, n int, who, state string, at time.Time) {
		b.add(releaseops.FactReview, "github", "pull_request_review", at, func(f *releaseops.Fact) {
			f.Review = &releaseops.Review{Repo: "acme/checkout", PRNumber: n, Reviewer: who, State: state}
		})
	}
	runSignalCases(t, "pr_approval_share", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData, reason: "no pull request merged into main in the last 30 days"},
		{name: "two of three", facts: func(b *fb) {
			pr(b, 1, ago_(3*day), "alice")
			review(b, 1, "bob", "approved", ago_(3*day+time.Hour))
			pr(b, 2, ago_(2*day), "alice")
			review(b, 2, "alice", "approved", ago_(2*day+time.Hour)) // self-approval does not count
			pr(b, 3, ago_(day), "carol")
			review(b, 3, "bob", "commented", ago_(day+2*time.Hour))
			review(b, 3, "dave", "approved", ago_(day+time.Hour))
		}, score: 0.667, outcome: OutcomePartial, reason: "2 of 3 pull requests merged in 30 days had an approving review (67%)", evid: []string{"d-0003"}},
		{name: "approval dismissed", facts: func(b *fb) {
			pr(b, 1, ago_(day), "alice")
			review(b, 1, "bob", "approved", ago_(day+2*time.Hour))
			review(b, 1, "bob", "dismissed", ago_(day+time.Hour))
		}, score: 0, outcome: OutcomeFail},
		{name: "approved after the merge", facts: func(b *fb) {
			pr(b, 1, ago_(day), "alice")
			review(b, 1, "bob", "approved", ago_(day-time.Minute))
		}, score: 0, outcome: OutcomeFail, reason: "merged without approval: #1"},
		{name: "approved at the merge", facts: func(b *fb) {
			pr(b, 1, ago_(day), "alice")
			review(b, 1, "bob", "approved", ago_(day))
		}, score: 1, outcome: OutcomePass},
		{name: "changes requested after the merge", facts: func(b *fb) {
			pr(b, 1, ago_(day), "alice")
			review(b, 1, "bob", "approved", ago_(day+time.Hour))
			review(b, 1, "bob", "changes_requested", ago_(day-time.Hour)) // what was merged had been approved
		}, score: 1, outcome: OutcomePass},
		{name: "merge time unknown", facts: func(b *fb) {
			b.add(releaseops.FactPullRequest, "github", "pull_request", ago_(day), func(f *releaseops.Fact) {
				f.PullRequest = &releaseops.PullRequest{Repo: "acme/checkout", Number: 1, Author: "alice", BaseRef: "main"}
			})
			review(b, 1, "bob", "approved", ago_(day-time.Hour))
		}, score: 1, outcome: OutcomePass},
		{name: "merged exactly 30 days ago counts", facts: func(b *fb) {
			pr(b, 1, ago_(30*day), "alice")
			review(b, 1, "bob", "approved", ago_(30*day+time.Hour))
		}, score: 1, outcome: OutcomePass},
		{name: "merged 30 days and 1 s ago does not", facts: func(b *fb) {
			pr(b, 1, ago_(30*day+time.Second), "alice")
		}, score: 0, outcome: OutcomeNoData},
	})
}

func rehearsal(rto float64) func(*releaseops.Deploy) {
	return func(d *releaseops.Deploy) {
		d.Kind, d.Environment, d.RTOSeconds = releaseops.KindRehearsal, "staging", &rto
	}
}

func TestRollbackExercised(t *testing.T) {
	runSignalCases(t, "rollback_exercised", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "deploys but no rollback", facts: func(b *fb) { b.deploy("1", ago_(day), time.Minute, releaseops.DeploySucceeded, nil) },
			score: 0, outcome: OutcomeFail, reason: "no successful rollback"},
		{name: "rehearsal finished exactly 90 days ago", facts: func(b *fb) {
			b.deploy("r", ago_(90*day+time.Minute), time.Minute, releaseops.DeploySucceeded, rehearsal(120))
		}, score: 1, outcome: OutcomePass, reason: "last successful rehearsal 90 days ago"},
		{name: "rehearsal finished 90 days and 1 s ago", facts: func(b *fb) {
			b.deploy("r", ago_(90*day+time.Minute+time.Second), time.Minute, releaseops.DeploySucceeded, rehearsal(120))
		}, score: 0, outcome: OutcomeNoData},
		{name: "failed rehearsal", facts: func(b *fb) { b.deploy("r", ago_(day), time.Minute, releaseops.DeployFailed, rehearsal(120)) },
			score: 0, outcome: OutcomeFail},
		{name: "deploy rolled back", facts: func(b *fb) { b.deploy("1", ago_(day), time.Minute, releaseops.DeployRolledBack, nil) },
			score: 1, outcome: OutcomePass, reason: "automatic rollback"},
	})
}

func TestRTO(t *testing.T) {
	runSignalCases(t, "rto_within_target", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "meets", facts: func(b *fb) { b.deploy("r", ago_(day), time.Minute, releaseops.DeploySucceeded, rehearsal(300)) }, score: 1, outcome: OutcomePass},
		{name: "400 s against 300 s is partly met", facts: func(b *fb) { b.deploy("r", ago_(day), time.Minute, releaseops.DeploySucceeded, rehearsal(400)) },
			score: 0.667, outcome: OutcomePartial, reason: "last measured RTO 400 s (rehearsal, 23.9 h ago) is over the default target of 300 s; credit reaches 0 at 600 s"},
		{name: "twice the target", facts: func(b *fb) { b.deploy("r", ago_(day), time.Minute, releaseops.DeploySucceeded, rehearsal(600)) }, score: 0, outcome: OutcomeFail},
		{name: "catalog target", svc: func(s *releaseops.Service) { s.RTOTargetSeconds = 100 },
			facts: func(b *fb) { b.deploy("r", ago_(day), time.Minute, releaseops.DeploySucceeded, rehearsal(150)) }, score: 0.5, outcome: OutcomePartial, reason: "catalog target of 100 s"},
		{name: "latest measurement wins", facts: func(b *fb) {
			b.deploy("r1", ago_(20*day), time.Minute, releaseops.DeploySucceeded, rehearsal(900))
			b.deploy("r2", ago_(2*day), time.Minute, releaseops.DeploySucceeded, rehearsal(200))
		}, score: 1, outcome: OutcomePass},
	})
}

func TestSnapshot(t *testing.T) {
	stateful := func(s *releaseops.Service) { s.Stateful = true }
	noSnap := func(d *releaseops.Deploy) { d.Snapshot = nil }
	runSignalCases(t, "snapshot_before_deploy", []signalCase{
		{name: "stateless", score: 0, outcome: OutcomeNotApplicable, reason: "stateless"},
		{name: "stateful no data", svc: stateful, score: 0, outcome: OutcomeNoData},
		{name: "half", svc: stateful, facts: func(b *fb) {
			b.deploy("1", ago_(2*day), time.Minute, releaseops.DeploySucceeded, nil)
			b.deploy("2", ago_(day), time.Minute, releaseops.DeploySucceeded, noSnap)
		}, score: 0.5, outcome: OutcomePartial, evid: []string{"d-0004"}},
		{name: "staging deploys do not count", svc: stateful, facts: func(b *fb) {
			b.deploy("1", ago_(day), time.Minute, releaseops.DeploySucceeded, func(d *releaseops.Deploy) { d.Environment = "staging"; d.Snapshot = nil })
		}, score: 0, outcome: OutcomeNoData},
	})
}

func TestRunbookFreshDecays(t *testing.T) {
	linked := func(s *releaseops.Service) { s.RunbookURL = "https://wiki/runbook" }
	update := func(b *fb) { b.push(ago_(30*day), releaseops.Push{TouchesRunbook: true}) }
	runSignalCases(t, "runbook_fresh", []signalCase{
		{name: "nothing", score: 0, outcome: OutcomeFail, reason: "no runbook_url"},
		{name: "linked, never updated", svc: linked, score: 0.5, outcome: OutcomePartial},
		{name: "updated exactly 30 days ago", svc: linked, facts: update, score: 1, outcome: OutcomePass, reason: "updated 30 days ago (within 30 days)"},
		{name: "one second later", svc: linked, facts: update, at: now.Add(time.Second), score: 1, outcome: OutcomePass},
		{name: "one hour later", svc: linked, facts: update, at: now.Add(time.Hour), score: 0.999, outcome: OutcomePartial, reason: "past 30 days"},
		{name: "45 days", svc: linked, facts: update, at: now.Add(15 * day), score: 0.75, outcome: OutcomePartial},
		{name: "60 days", svc: linked, facts: update, at: now.Add(30 * day), score: 0.5, outcome: OutcomePartial},
		{name: "not linked, fresh", facts: update, score: 0.5, outcome: OutcomePartial, reason: "no runbook_url"},
	})
}

func TestChangeFailureRate(t *testing.T) {
	incident := func(b *fb, id string, at time.Time) {
		b.add(releaseops.FactIncident, "pagerduty", "incident.triggered", at, func(f *releaseops.Fact) {
			f.Incident = &releaseops.Incident{ID: id, EventType: "incident.triggered", Status: "triggered", CreatedAt: at}
		})
	}
	ten := func(b *fb) {
		for i := range 10 {
			status := releaseops.DeploySucceeded
			if i == 0 {
				status = releaseops.DeployFailed
			}
			b.deploy(string(rune('a'+i)), ago_(time.Duration(20-i)*day), 10*time.Minute, status, nil)
		}
	}
	runSignalCases(t, "change_failure_rate", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "10 % meets the 15 % target", facts: ten, score: 1, outcome: OutcomePass, reason: "1 of 10 production deploys"},
		{name: "incident exactly 1 h after counts", facts: func(b *fb) {
			ten(b)
			incident(b, "P1", ago_(15*day).Add(10*time.Minute+time.Hour))
		}, score: 0.667, outcome: OutcomePartial, reason: "2 of 10"},
		{name: "incident 1 h 1 s after does not", facts: func(b *fb) {
			ten(b)
			incident(b, "P1", ago_(15*day).Add(10*time.Minute+time.Hour+time.Second))
		}, score: 1, outcome: OutcomePass},
		{name: "unfinished deploys are not counted", facts: func(b *fb) {
			b.deploy("x", ago_(time.Hour), 0, releaseops.DeployStarted, nil)
		}, score: 0, outcome: OutcomeNoData},
	})
}

func TestDrift(t *testing.T) {
	assess := func(b *fb, at time.Time, drifted bool) {
		b.add(releaseops.FactAssessment, "terraform", "assessment", at, func(f *releaseops.Fact) {
			f.Assessment = &releaseops.TerraformAssessment{Workspace: "checkout-prod", Organization: "acme", Drifted: drifted, Succeeded: true}
		})
	}
	apply := func(b *fb, at time.Time) {
		b.add(releaseops.FactTerraformRun, "terraform", "run:completed", at, func(f *releaseops.Fact) {
			f.TerraformRun = &releaseops.TerraformRun{RunID: "run-1", Workspace: "checkout-prod", Organization: "acme", Trigger: "run:completed", Status: "applied"}
		})
	}
	runSignalCases(t, "drift_triaged", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "clean", facts: func(b *fb) { assess(b, ago_(time.Hour), false) }, score: 1, outcome: OutcomePass, reason: "no drift detected"},
		{name: "triaged by apply in 6 h", facts: func(b *fb) { assess(b, ago_(3*day), true); apply(b, ago_(3*day-6*time.Hour)) }, score: 1, outcome: OutcomePass},
		{name: "triaged in 18 h", facts: func(b *fb) { assess(b, ago_(3*day), true); assess(b, ago_(3*day-18*time.Hour), false) },
			score: 0.5, outcome: OutcomePartial, evid: []string{"d-0001", "d-0002"}},
		{name: "open but young", facts: func(b *fb) { assess(b, ago_(2*time.Hour), true) }, score: 1, outcome: OutcomePass, reason: "still inside the triage target"},
	})
	runSignalCases(t, "no_open_drift", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "open 12 h exactly", facts: func(b *fb) { assess(b, ago_(12*time.Hour), true) }, score: 1, outcome: OutcomePass},
		{name: "open 18 h", facts: func(b *fb) { assess(b, ago_(18*time.Hour), true) }, score: 0.5, outcome: OutcomePartial, reason: "past the 12 h target"},
		{name: "open 30 h", facts: func(b *fb) { assess(b, ago_(30*time.Hour), true) }, score: 0, outcome: OutcomeFail},
		{name: "closed", facts: func(b *fb) { assess(b, ago_(30*time.Hour), true); apply(b, ago_(29*time.Hour)) }, score: 1, outcome: OutcomePass},
	})
	runSignalCases(t, "drift_assessment_recent", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "6 h", facts: func(b *fb) { assess(b, ago_(6*time.Hour), false) }, score: 1, outcome: OutcomePass},
		{name: "9 h", facts: func(b *fb) { assess(b, ago_(9*time.Hour), false) }, score: 0.5, outcome: OutcomePartial},
	})
}

func TestAuditability(t *testing.T) {
	gate := func(b *fb, at time.Time, version string) {
		b.add(releaseops.FactGateDecision, "releaseops", "gate_decision", at, func(f *releaseops.Fact) {
			f.GateDecision = &releaseops.GateDecision{Environment: "production", Version: version, Decision: "allow"}
		})
	}
	runSignalCases(t, "gate_decision_recorded", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "by version and by time", facts: func(b *fb) {
			gate(b, ago_(5*day), "v-1")
			b.deploy("1", ago_(3*day), time.Minute, releaseops.DeploySucceeded, nil)
			gate(b, ago_(2*day+time.Hour), "")
			b.deploy("2", ago_(2*day), time.Minute, releaseops.DeploySucceeded, nil)
			b.deploy("3", ago_(day), time.Minute, releaseops.DeploySucceeded, nil)
		}, score: 0.667, outcome: OutcomePartial, reason: "2 of 3 production deploys"},
	})
	runSignalCases(t, "deploy_start_finish", []signalCase{
		{name: "paired by suffix, orphan finish, in progress", facts: func(b *fb) {
			b.add(releaseops.FactDeploy, "deploy", "deploy", ago_(3*day), func(f *releaseops.Fact) {
				f.Deploy = &releaseops.Deploy{ID: "deploy-1-started", Environment: "production", Status: "started"}
			})
			b.add(releaseops.FactDeploy, "deploy", "deploy", ago_(3*day-time.Minute), func(f *releaseops.Fact) {
				f.Deploy = &releaseops.Deploy{ID: "deploy-1-finished", Environment: "production", Status: "succeeded"}
			})
			b.add(releaseops.FactDeploy, "deploy", "deploy", ago_(2*day), func(f *releaseops.Fact) {
				f.Deploy = &releaseops.Deploy{ID: "deploy-2", Environment: "production", Status: "succeeded"}
			})
			b.deploy("3", ago_(time.Hour), 0, releaseops.DeployStarted, nil)
		}, score: 0.5, outcome: OutcomePartial, reason: "1 of 2 production deploys", evid: []string{"d-0003"}},
	})
}

func TestReleaseNotes(t *testing.T) {
	notes := func(b *fb, at time.Time, ref string) {
		b.add(releaseops.FactNotification, "releaseops", "notification", at, func(f *releaseops.Fact) {
			f.Notification = &releaseops.Notification{Kind: "release_notes", Channel: "C1", Ref: ref}
		})
	}
	runSignalCases(t, "release_notes_published", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "by ref, by release, missing; a fresh deploy is in grace", facts: func(b *fb) {
			b.deploy("1", ago_(3*day), time.Minute, releaseops.DeploySucceeded, nil)
			notes(b, ago_(3*day-2*time.Minute), "1")
			b.deploy("2", ago_(2*day), time.Minute, releaseops.DeploySucceeded, nil)
			b.add(releaseops.FactRelease, "github", "release", ago_(2*day), func(f *releaseops.Fact) {
				f.Release = &releaseops.Release{Repo: "acme/checkout", Action: "published", Tag: "v-2"}
			})
			b.deploy("3", ago_(day), time.Minute, releaseops.DeploySucceeded, nil)
			b.deploy("4", ago_(30*time.Minute), time.Minute, releaseops.DeploySucceeded, nil)
		}, score: 0.667, outcome: OutcomePartial, reason: "2 of 3"},
	})
}

func TestTerraformSignals(t *testing.T) {
	run := func(b *fb, id, trigger, status string, destroy bool, at time.Time) {
		b.add(releaseops.FactTerraformRun, "terraform", trigger, at, func(f *releaseops.Fact) {
			f.TerraformRun = &releaseops.TerraformRun{RunID: id, Workspace: "w", Trigger: trigger, Status: status, IsDestroy: destroy}
		})
	}
	runSignalCases(t, "no_unapproved_destroy", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "one confirmed, one auto-applied", facts: func(b *fb) {
			run(b, "a", "run:needs_attention", "planned", true, ago_(3*day))
			run(b, "a", "run:completed", "applied", true, ago_(3*day-time.Hour))
			run(b, "b", "run:completed", "applied", true, ago_(day))
		}, score: 0.5, outcome: OutcomePartial, evid: []string{"d-0003"}},
	})
	runSignalCases(t, "plan_checks_gate_prs", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "required check", facts: func(b *fb) {
			b.protection(ago_(day), releaseops.BranchProtection{RequiredStatusChecks: []string{"ci/test", "Terraform Plan"}})
		}, score: 1, outcome: OutcomePass},
		{name: "runs on PRs only", facts: func(b *fb) {
			b.add(releaseops.FactCIRun, "github", "check_run", ago_(day), func(f *releaseops.Fact) {
				f.CIRun = &releaseops.CIRun{Repo: "acme/checkout", Name: "terraform plan", PRNumbers: []int{4}}
			})
		}, score: 0.5, outcome: OutcomePartial},
		{name: "terraform pushes without plan", facts: func(b *fb) { b.push(ago_(day), releaseops.Push{TouchesTerraform: true}) }, score: 0, outcome: OutcomeFail},
	})
	runSignalCases(t, "module_rollback_path", []signalCase{
		{name: "no data", score: 0, outcome: OutcomeNoData},
		{name: "one of two", svc: func(s *releaseops.Service) {
			s.TerraformModules = []releaseops.Module{{Name: "db", RollbackPath: "restore snapshot"}, {Name: "cdn"}}
		}, score: 0.5, outcome: OutcomePartial, reason: `"cdn"`},
	})
}

func TestObservabilityAndCoordination(t *testing.T) {
	runSignalCases(t, "alerting_wired", []signalCase{
		{name: "not mapped", score: 0, outcome: OutcomeFail},
		{name: "mapped, silent", svc: func(s *releaseops.Service) { s.PagerDutyServiceID = "P1" }, score: 0.5, outcome: OutcomePartial},
		{name: "mapped, service event of any age", svc: func(s *releaseops.Service) { s.PagerDutyServiceID = "P1" }, facts: func(b *fb) {
			b.add(releaseops.FactPagerDutyService, "pagerduty", "service.updated", ago_(400*day), func(f *releaseops.Fact) {
				f.PagerDutyService = &releaseops.PagerDutyService{ID: "P1", EscalationLevels: 1}
			})
		}, score: 1, outcome: OutcomePass},
	})
	runSignalCases(t, "escalation_levels", []signalCase{
		{name: "unknown", score: 0, outcome: OutcomeNoData},
		{name: "declared 1", svc: func(s *releaseops.Service) { s.EscalationLevels = 1 }, score: 0.5, outcome: OutcomePartial, reason: "declared in the catalog"},
		{name: "synced wins", svc: func(s *releaseops.Service) { s.EscalationLevels = 1 }, facts: func(b *fb) {
			b.add(releaseops.FactPagerDutyService, "pagerduty", "service.updated", ago_(day), func(f *releaseops.Fact) {
				f.PagerDutyService = &releaseops.PagerDutyService{ID: "P1", EscalationLevels: 3}
			})
		}, score: 1, outcome: OutcomePass, reason: "synced from PagerDuty"},
	})
	runSignalCases(t, "owner_defined", []signalCase{
		{name: "one", score: 1, outcome: OutcomePass},
		{name: "several", svc: func(s *releaseops.Service) { s.Owner = "team-a, team-b" }, score: 0, outcome: OutcomeFail},
	})
	runSignalCases(t, "approvers_named", []signalCase{
		{name: "none", score: 0, outcome: OutcomeFail},
		{name: "one", svc: func(s *releaseops.Service) { s.Approvers = []string{"U1"} }, score: 0.5, outcome: OutcomePartial},
		{name: "two", svc: func(s *releaseops.Service) { s.Approvers = []string{"U1", "U2"} }, score: 1, outcome: OutcomePass},
	})
	runSignalCases(t, "slo_defined", []signalCase{
		{name: "none", score: 0, outcome: OutcomeFail},
		{name: "one", svc: func(s *releaseops.Service) { s.SLOs = []releaseops.SLO{{Name: "availability", Objective: 99.9}} }, score: 1, outcome: OutcomePass, reason: "availability 99.9"},
	})
}
