package bot

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops"
)

// MaxSkew is how far a request's timestamp may be from now (Slack's own rule): an older
// request is a replay.
const MaxSkew = 5 * time.Minute

// Verifier checks Slack's request signature (v0, HMAC-SHA256 of "v0:ts:body" keyed with the
// signing secret) over the exact bytes received, before anything parses them.
type Verifier struct {
	Secret string
	// Now is the wall clock the timestamp is compared with (default time.Now). Slack's
	// timestamps are wall time, so this is never a simulated clock.
	Now func() time.Time
}

// Verify returns nil for a genuine, fresh request, else an EUNAUTHORIZED error that says
// what was wrong and never what the signature should have been.
func (v Verifier) Verify(h http.Header, body []byte) error {
	if v.Secret == "" {
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "Slack requests cannot be verified", Detail: "set slack.signing_secret (or RELEASEOPS_SLACK_SIGNING_SECRET)"}
	}
	sig, tsText := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || tsText == "" {
		return unauthorized("missing X-Slack-Signature or X-Slack-Request-Timestamp")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return unauthorized("X-Slack-Request-Timestamp is not a unix time")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	if d := now().Sub(time.Unix(ts, 0)); d > MaxSkew || d < -MaxSkew {
		return unauthorized("stale request: X-Slack-Request-Timestamp is more than 5 minutes from now")
	}
	sv, err := slack.NewSecretsVerifier(h, v.Secret)
	switch {
	case errors.Is(err, slack.ErrExpiredTimestamp):
		return unauthorized("stale request: X-Slack-Request-Timestamp is more than 5 minutes from now")
	case err != nil:
		return unauthorized("malformed X-Slack-Signature")
	}
	if _, err := sv.Write(body); err != nil {
		return unauthorized("signature could not be computed")
	}
	if err := sv.Ensure(); err != nil {
		return unauthorized("signature does not match the body")
	}
	return nil
}

func unauthorized(msg string) error {
	return &releaseops.Error{Code: releaseops.EUNAUTHORIZED, Message: "bad Slack request signature", Detail: msg}
}
