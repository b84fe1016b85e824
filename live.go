package releaseops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

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

// NetworkFailure says whether err means no HTTP answer came at all (refused, reset, DNS, no
// answer in time), and why in a few words, for a live check to name the address it could not
// reach. Every HTTP error is wrapped in a *url.Error, a refused token mint too, so the type
// alone cannot tell.
func NetworkFailure(err error, timeout time.Duration) (string, bool) {
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue) && ue.Timeout():
		return fmt.Sprintf("no answer within %s", timeout), true
	case errors.As(err, &op):
		return op.Error(), true
	case errors.As(err, &dns):
		return dns.Error(), true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection closed without an HTTP answer", true
	}
	return "", false
}
