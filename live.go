package releaseops

import "fmt"

// LiveResult is what `releaseops check-config --live` found of one source: whom its
// credentials act as, how many subjects they can see, and every problem with the config key
// that fixes it. Each integration's CheckLive fills one; the command only prints.
type LiveResult struct {
	Who      string // "App releaseops (id 12345)", "@releaseops (U0BOT) in Acme", "alice"
	Visible  int    // subjects visible (repositories, services, workspaces, channels); -1 when the check stopped before counting
	Details  []string
	Problems []LiveProblem
}

// LiveProblem is one thing to fix, named by its config key.
type LiveProblem struct {
	Key     string
	Message string
}

// Problem records a problem on key.
func (r *LiveResult) Problem(key, format string, args ...any) {
	r.Problems = append(r.Problems, LiveProblem{Key: key, Message: fmt.Sprintf(format, args...)})
}
