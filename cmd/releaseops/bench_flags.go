package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// checkBenchCombination refuses flags that the chosen run would ignore: a bench that quietly
// ran without what was asked for would print figures for another configuration.
func checkBenchCombination(o benchOptions, set map[string]bool) error {
	if o.apiLatency < 0 {
		return fmt.Errorf("--api-latency must not be negative, got %s", o.apiLatency)
	}
	if o.apiLatency != 30*time.Millisecond && o.apis == apisNone {
		return fmt.Errorf("--api-latency needs --apis fake or failing (or --as-users)")
	}
	if set["sync"] && o.apis == apisNone {
		return fmt.Errorf("--sync needs --apis fake or failing (or --as-users): without API credentials nothing syncs")
	}
	if o.driver == storage.DriverPostgres {
		var ignored []string
		for _, f := range []string{"as-users", "apis", "slack-posts", "api-latency", "sync", "rounds"} {
			if set[f] {
				ignored = append(ignored, "--"+f)
			}
		}
		if len(ignored) > 0 {
			return fmt.Errorf("%s: not available with --driver postgres (the PostgreSQL bench runs without API credentials and in whole phases)", strings.Join(ignored, ", "))
		}
	}
	if o.rounds > 1 && (o.phases["echo"] || !o.phases["commit"] || !o.phases["deploy"]) {
		return fmt.Errorf("--rounds %d alternates the commit and deploy phases: give --phases with both and without echo, e.g. --phases commit,deploy", o.rounds)
	}
	return nil
}
