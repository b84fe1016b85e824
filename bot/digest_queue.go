package bot

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// KindDigest is a weekly digest post: chat.postMessage like slack.post, under its own kind so
// the outbox API lists digests apart and a digest is never taken for a notification fact.
const KindDigest = "slack.digest"

// DigestPayload is a slack.digest message: the post, and which digest and week it is.
type DigestPayload struct {
	PostPayload
	Digest DigestMark `json:"digest"`
}

// DigestMark names a digest: its scope (team or org), the team, and the ISO week.
type DigestMark struct {
	Scope  string `json:"scope"`
	Team   string `json:"team,omitempty"`
	Period string `json:"period"`
}

// EnqueueDigest queues a digest post in the caller's transaction; inserted is false when the
// key was queued before.
func EnqueueDigest(t *storage.Tx, key, channel string, mark DigestMark, msg Message, now time.Time) (bool, error) {
	if channel == "" {
		return false, fmt.Errorf("queue %s: no channel", key)
	}
	if err := msg.Validate(); err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	b, err := json.Marshal(DigestPayload{PostPayload: PostPayload{Channel: channel, Message: msg}, Digest: mark})
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	return outbox.Enqueue(t, outbox.Message{Key: key, Kind: KindDigest, Target: channel, Payload: b}, now)
}

// RegisterDigestSender delivers slack.digest messages when Slack is configured. A digest is
// a post like any other: the post sender reads the embedded post payload and, after a crash
// mid-send, finds the post in the channel by its outbox key instead of posting it twice.
// Without a bot token nothing is registered, and digests are kept as disabled.
func (b *Bot) RegisterDigestSender(o *outbox.Outbox) {
	if b.d.API != nil {
		o.Register(KindDigest, &PostSender{API: b.d.API})
	}
}
