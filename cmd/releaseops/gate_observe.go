package main

import (
	"fmt"
	"io"
)

// printObserved prints an observe-mode answer that enforcement would not have allowed: the
// reasons of its own, then each reason enforcement would have acted on, as "would block: …",
// so a pipeline log shows what switching to enforce would change. It reports whether it
// printed the reasons.
func printObserved(w io.Writer, a gateAnswer) bool {
	if a.Mode != "observe" || a.WouldDecision == "" || a.WouldDecision == "allow" {
		return false
	}
	would := "would block"
	if a.WouldDecision == "needs_approval" {
		would = "would need approval"
	}
	seen := map[string]bool{}
	for _, r := range a.WouldReasons {
		seen[r.Text] = true
	}
	for _, r := range a.Reasons {
		if !seen[r.Text] {
			fmt.Fprintf(w, "  - %s\n", r.Text)
		}
	}
	for _, r := range a.WouldReasons {
		fmt.Fprintf(w, "  %s: %s\n", would, r.Text)
	}
	return true
}
