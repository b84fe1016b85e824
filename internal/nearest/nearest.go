// Package nearest finds the known names closest to a mistyped one, for the "did you mean"
// in config errors, unknown services in the API and Slack, and unknown rule references.
package nearest

import (
	"fmt"
	"sort"
	"strings"
)

// Distance is the Levenshtein distance between a and b, in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Among returns up to n of names nearest to name, closest first (ties by name). A name that
// contains, or is contained in, the query counts as distance 1; names further than about half
// the query's length are not suggestions.
func Among(name string, names []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	var cs []cand
	for _, s := range names {
		d := Distance(name, s)
		if strings.Contains(s, name) || strings.Contains(name, s) {
			d = min(d, 1)
		}
		if d <= max(2, len(name)/2) {
			cs = append(cs, cand{s, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	out := []string{}
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

// Suggest returns ` (did you mean "x"?)` for the closest known name, or "" if none is close.
func Suggest(s string, known []string) string {
	best, bestD := "", len(s)/2+2
	for _, k := range known {
		if d := Distance(s, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
