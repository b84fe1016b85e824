package risk

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestRamp(t *testing.T) {
	for _, c := range []struct{ v, lo, hi, want float64 }{
		{-1, 0, 10, 0}, {0, 0, 10, 0}, {0.001, 0, 10, 0.0001}, {5, 0, 10, 0.5}, {9.999, 0, 10, 0.9999}, {10, 0, 10, 1}, {11, 0, 10, 1},
		{49, 50, 1000, 0}, {50, 50, 1000, 0}, {1000, 50, 1000, 1},
	} {
		if got := ramp(c.v, c.lo, c.hi); !approx(got, c.want) {
			t.Errorf("ramp(%v, %v, %v) = %v, want %v", c.v, c.lo, c.hi, got, c.want)
		}
	}
}

func TestChangeSize(t *testing.T) {
	m := mustModel(t, DefaultConfig()) // lines 50..1000, files 5..50
	for _, c := range []struct {
		name         string
		lines, files int
		want         float64
		split        bool // the reason tells to split the change
	}{
		{"nothing", 0, 0, 0, false},
		{"lines just below low", 49, 1, 0, false},
		{"lines at low", 50, 1, 0, false},
		{"lines just above low", 51, 1, 0.001, false},
		{"lines half way", 525, 1, 0.5, true},
		{"lines just below high", 999, 1, 0.999, true},
		{"lines at high", 1000, 1, 1, true},
		{"lines just above high", 1001, 1, 1, true},
		{"files just below low", 0, 4, 0, false},
		{"files at low", 0, 5, 0, false},
		{"files just above low", 0, 6, 0.022, false},
		{"files just below high", 0, 49, 0.978, true},
		{"files at high", 0, 50, 1, true},
		{"files just above high", 0, 51, 1, true},
		{"the larger of lines and files", 525, 49, 0.978, true},
		{"the larger of lines and files, lines win", 999, 6, 0.999, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.Change = &Change{Base: "aaa", Head: "bbb", Files: c.files, Additions: c.lines - c.lines/2, Deletions: c.lines / 2, Commits: 3,
				URL: "https://github.com/acme/payments/compare/aaa...bbb"}
			f := factorOf(t, m, in, FactorChangeSize)
			if f.Value != c.want || f.Unknown {
				t.Errorf("value %v unknown %v, want %v known", f.Value, f.Unknown, c.want)
			}
			wantWords(t, "reason", f.Reason, fmt.Sprintf("%d lines in %d files (3 commits)", c.lines, c.files), "since the last production deploy")
			if c.split {
				wantWords(t, "reason", f.Reason, "split the change", "behind a flag")
			} else {
				notWords(t, "reason", f.Reason, "split")
			}
			if !slices.Equal(f.Evidence, []string{in.Change.URL}) {
				t.Errorf("evidence %v, want the compare URL", f.Evidence)
			}
		})
	}
}

func TestChangeSizeUnknown(t *testing.T) {
	m := mustModel(t, DefaultConfig())
	for _, c := range []struct{ why, want string }{
		{"no commit_sha in the request", "no commit_sha in the request"},
		{"GitHub did not answer within 2s", "GitHub did not answer within 2s"},
		{"", "the change is not known"},
	} {
		in := baseInput()
		in.Change, in.ChangeUnknownWhy = nil, c.why
		f := factorOf(t, m, in, FactorChangeSize)
		if !f.Unknown || f.Value != 0.5 {
			t.Errorf("why %q: value %v unknown %v, want the unknown value 0.5", c.why, f.Value, f.Unknown)
		}
		wantWords(t, "reason", f.Reason, "change size unknown", c.want, "commit_sha")
		if len(f.Evidence) != 0 {
			t.Errorf("evidence %v, want none", f.Evidence)
		}
	}
	// The unknown value is config.
	cfg := DefaultConfig()
	cfg.Unknown = 0.8
	in := baseInput()
	in.Change = nil
	if f := factorOf(t, mustModel(t, cfg), in, FactorChangeSize); f.Value != 0.8 {
		t.Errorf("unknown 0.8: value %v", f.Value)
	}
}

func TestReleaseSize(t *testing.T) {
	m := mustModel(t, DefaultConfig()) // release_services_high 4
	for _, c := range []struct {
		name     string
		release  string
		services []string
		want     float64
		words    []string
	}{
		{"no release id", "", nil, 0, []string{"no release id", "on its own"}},
		{"alone in a release (at the low mark)", "r-42", nil, 0, []string{"release r-42", "no other service"}},
		{"one other (just above low)", "r-42", []string{"ledger"}, 0.25, []string{"release r-42 also ships ledger", "harder to pin"}},
		{"three others (just below high)", "r-42", []string{"c", "a", "b"}, 0.75, []string{"also ships a, b, c"}},
		{"four others (at high)", "r-42", []string{"d", "c", "b", "a"}, 1, []string{"also ships a, b, c, d"}},
		{"five others (above high)", "r-42", []string{"e", "d", "c", "b", "a"}, 1, []string{"also ships a, b, c, d, e"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.Release, in.ReleaseServices = c.release, c.services
			f := factorOf(t, m, in, FactorReleaseSize)
			if f.Value != c.want || f.Unknown {
				t.Errorf("value %v unknown %v, want %v", f.Value, f.Unknown, c.want)
			}
			wantWords(t, "reason", f.Reason, c.words...)
			if len(c.services) > 0 {
				want := slices.Sorted(slices.Values(c.services))
				if !slices.Equal(f.Evidence, want) {
					t.Errorf("evidence %v, want %v (sorted)", f.Evidence, want)
				}
			}
		})
	}
	// The input's order is not changed by the sort.
	in := baseInput()
	in.Release, in.ReleaseServices = "r", []string{"b", "a"}
	m.Assess(in)
	if !slices.Equal(in.ReleaseServices, []string{"b", "a"}) {
		t.Errorf("Assess reordered the caller's ReleaseServices: %v", in.ReleaseServices)
	}
}

func TestOnCall(t *testing.T) {
	m := mustModel(t, DefaultConfig()) // horizon 4h
	now := wed
	for _, c := range []struct {
		name  string
		oc    *OnCall
		want  float64
		words []string
	}{
		{"covered indefinitely", &OnCall{Covered: true, Who: "ana", Source: "pagerduty:PXYZ"}, 0, []string{"ana is on call for the next 4h0m0s"}},
		{"covered past the horizon", &OnCall{Covered: true, Who: "ana", Until: now.Add(5 * time.Hour)}, 0, []string{"ana is on call"}},
		{"covered exactly to the horizon", &OnCall{Covered: true, Who: "ana", Until: now.Add(4 * time.Hour)}, 0, []string{"ana is on call for the next"}},
		{"coverage ends just inside the horizon", &OnCall{Covered: true, Who: "ana", Until: now.Add(4*time.Hour - time.Minute)}, 0.5,
			[]string{"ana is on call until 2026-06-10T14:59:00Z", "less than 4h0m0s", "check who takes over"}},
		{"coverage ends soon", &OnCall{Covered: true, Who: "ana", Until: now.Add(10 * time.Minute)}, 0.5, []string{"check who takes over"}},
		{"nobody", &OnCall{Covered: false, Source: "pagerduty:PXYZ"}, 1, []string{"nobody is on call", "page coverage before deploying"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.OnCall = c.oc
			f := factorOf(t, m, in, FactorOnCall)
			if f.Value != c.want || f.Unknown {
				t.Errorf("value %v unknown %v, want %v", f.Value, f.Unknown, c.want)
			}
			wantWords(t, "reason", f.Reason, c.words...)
			if c.oc.Source != "" && !slices.Equal(f.Evidence, []string{c.oc.Source}) {
				t.Errorf("evidence %v, want the source", f.Evidence)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		in := baseInput()
		in.OnCall = nil
		f := factorOf(t, m, in, FactorOnCall)
		if !f.Unknown || f.Value != 0.5 {
			t.Errorf("value %v unknown %v, want unknown 0.5 (unknown is a factor, not a zero)", f.Value, f.Unknown)
		}
		wantWords(t, "reason", f.Reason, "on-call coverage unknown", "PagerDuty", "pagerduty_service_id")
	})
}

func TestOpenIncidents(t *testing.T) {
	m := mustModel(t, DefaultConfig())
	in := baseInput()
	f := factorOf(t, m, in, FactorIncidents)
	if f.Value != 0 || f.Unknown {
		t.Errorf("none: value %v", f.Value)
	}
	wantWords(t, "reason", f.Reason, "no open incident")

	in.Incidents = []Incident{{ID: "INC-7", Title: "checkout 500s", URL: "https://pd/INC-7"}}
	f = factorOf(t, m, in, FactorIncidents)
	if f.Value != 1 {
		t.Errorf("one: value %v, want 1", f.Value)
	}
	wantWords(t, "reason", f.Reason, "1 open incident(s)", "INC-7", "checkout 500s", "mixes its effects")
	if !slices.Equal(f.Evidence, []string{"https://pd/INC-7"}) {
		t.Errorf("evidence %v", f.Evidence)
	}

	in.Incidents = append(in.Incidents, Incident{ID: "INC-8", Title: "slow"}, Incident{ID: "INC-9", Title: "x", URL: "https://pd/INC-9"})
	f = factorOf(t, m, in, FactorIncidents)
	if f.Value != 1 {
		t.Errorf("three: value %v, want 1", f.Value)
	}
	wantWords(t, "reason", f.Reason, "3 open incident(s)", "INC-7")
	if !slices.Equal(f.Evidence, []string{"https://pd/INC-7", "https://pd/INC-9"}) {
		t.Errorf("evidence %v, want the URLs that exist", f.Evidence)
	}
}

func deploys(now time.Time, total, failed int) []Deploy {
	var ds []Deploy
	for i := 0; i < total; i++ {
		ds = append(ds, Deploy{ID: fmt.Sprint("d", i), At: now.Add(-time.Duration(i+1) * time.Hour), Failed: i < failed})
	}
	return ds
}

func TestChangeFailureRate(t *testing.T) {
	m := mustModel(t, DefaultConfig()) // 30 days, at least 5 deploys, 30% is 1
	now := wed
	for _, c := range []struct {
		name          string
		total, failed int
		want          float64
		words         []string
	}{
		{"no failure (at the low mark)", 5, 0, 0, []string{"0 of 5 production deploys in 30 days failed or were rolled back (0%)"}},
		{"just above low", 100, 1, 0.033, []string{"1 of 100", "(1%)"}},
		{"20%", 5, 1, 0.667, []string{"1 of 5", "(20%)"}},
		{"just below high", 100, 29, 0.967, []string{"29 of 100"}},
		{"at high", 10, 3, 1, []string{"3 of 10", "(30%)"}},
		{"just above high", 100, 31, 1, []string{"31 of 100"}},
		{"all failed", 5, 5, 1, []string{"5 of 5", "(100%)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.Deploys = deploys(now, c.total, c.failed)
			slices.Reverse(in.Deploys) // any order
			f := factorOf(t, m, in, FactorFailureRate)
			if f.Value != c.want || f.Unknown {
				t.Errorf("value %v unknown %v, want %v", f.Value, f.Unknown, c.want)
			}
			wantWords(t, "reason", f.Reason, c.words...)
		})
	}
	for _, n := range []int{0, 1, 4} {
		in := baseInput()
		in.Deploys = deploys(now, n, n)
		f := factorOf(t, m, in, FactorFailureRate)
		if !f.Unknown || f.Value != 0.5 {
			t.Errorf("%d deploys: value %v unknown %v, want unknown", n, f.Value, f.Unknown)
		}
		wantWords(t, "reason", f.Reason, "change failure rate unknown", fmt.Sprintf("%d production deploys in 30 days, fewer than 5", n))
	}
	t.Run("the window", func(t *testing.T) {
		in := baseInput()
		in.Deploys = deploys(now, 4, 0)
		// Exactly 30 days ago counts; a second earlier, or after now, does not.
		in.Deploys = append(in.Deploys,
			Deploy{ID: "edge", At: now.Add(-30 * 24 * time.Hour), Failed: true},
			Deploy{ID: "old", At: now.Add(-30*24*time.Hour - time.Second), Failed: true},
			Deploy{ID: "future", At: now.Add(time.Minute), Failed: true})
		f := factorOf(t, m, in, FactorFailureRate)
		wantWords(t, "reason", f.Reason, "1 of 5 production deploys")
	})
}

func TestBatchAge(t *testing.T) {
	m := mustModel(t, DefaultConfig()) // 7 days .. 30 days
	day := 24 * time.Hour
	for _, c := range []struct {
		name   string
		age    time.Duration
		want   float64
		words  []string
		nudges bool
	}{
		{"minutes", 30 * time.Minute, 0, []string{"last production deploy 30 minutes ago"}, false},
		{"hours", 5 * time.Hour, 0, []string{"5 hours ago"}, false},
		{"just below low", 7*day - time.Hour, 0, []string{"6 days ago"}, false},
		{"at low", 7 * day, 0, []string{"7 days ago"}, false},
		{"just above low", 7*day + time.Hour, 0.002, []string{"7 days ago"}, true},
		{"just below high", 30*day - time.Hour, 0.998, []string{"29 days ago"}, true},
		{"at high", 30 * day, 1, []string{"30 days ago"}, true},
		{"just above high", 30*day + time.Hour, 1, []string{"30 days ago"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := baseInput()
			in.LastProductionDeploy = in.Now.Add(-c.age)
			f := factorOf(t, m, in, FactorBatchAge)
			if f.Value != c.want || f.Unknown {
				t.Errorf("value %v unknown %v, want %v", f.Value, f.Unknown, c.want)
			}
			wantWords(t, "reason", f.Reason, c.words...)
			if c.nudges {
				wantWords(t, "reason", f.Reason, "ship smaller and more often")
			} else {
				notWords(t, "reason", f.Reason, "ship smaller")
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		in := baseInput()
		in.LastProductionDeploy = time.Time{}
		f := factorOf(t, m, in, FactorBatchAge)
		if !f.Unknown || f.Value != 0.5 {
			t.Errorf("value %v unknown %v, want unknown", f.Value, f.Unknown)
		}
		wantWords(t, "reason", f.Reason, "no earlier production deploy", "for the first time")
	})
}

func TestReadinessBand(t *testing.T) {
	m := mustModel(t, DefaultConfig())
	for _, c := range []struct {
		band    string
		want    float64
		unknown bool
	}{
		{"mature", 0, false}, {"healthy", 0.2, false}, {"watch", 0.6, false}, {"blocked", 1, false},
		{"", 0.5, true}, {"legendary", 0.5, true},
	} {
		in := baseInput()
		in.Band = c.band
		f := factorOf(t, m, in, FactorReadinessBand)
		if f.Value != c.want || f.Unknown != c.unknown {
			t.Errorf("band %q: value %v unknown %v, want %v %v", c.band, f.Value, f.Unknown, c.want, c.unknown)
		}
		if c.unknown {
			wantWords(t, "reason", f.Reason, "readiness band")
		} else {
			wantWords(t, "reason", f.Reason, "readiness band "+c.band)
		}
	}
}

// BUG: an on-call record whose coverage already ended (Covered, Until before now: a stale sync,
// or a shift that ended with nobody after it) is rated 0.5 with the reason "on call until <a past
// time>, less than 4h from now: check who takes over". Nobody is known to be on call now: it
// should rate like "nobody" (1, "page coverage") or be unknown, not as a hand-over later on.
func TestOnCallCoverageAlreadyEnded(t *testing.T) {
	m := mustModel(t, DefaultConfig())
	in := baseInput()
	in.OnCall = &OnCall{Covered: true, Who: "ana", Until: in.Now.Add(-2 * time.Hour)}
	f := factorOf(t, m, in, FactorOnCall)
	if f.Value != 1 && !f.Unknown {
		t.Errorf("coverage ended 2h ago: value %v (%q), want 1 or unknown: nobody is known to be on call now", f.Value, f.Reason)
	}
	notWords(t, "reason", f.Reason, "less than")
}
