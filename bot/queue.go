package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// Outbox kinds this package delivers.
const (
	KindPost     = "slack.post"     // chat.postMessage; the ts is stored as the message's ref
	KindUpdate   = "slack.update"   // chat.update of an earlier post
	KindResponse = "slack.response" // a POST to a command's or click's response_url
	// KindReleaseNotes composes release notes from GitHub, then queues their slack.post.
	KindReleaseNotes = "github.release_notes"
)

// metadataEventType marks ReleaseOps' posts in Slack's message metadata, with the outbox
// key, so that a post in doubt after a crash can be found instead of sent twice.
const metadataEventType = "releaseops_outbox"

// PostPayload is the payload of a slack.post.
type PostPayload struct {
	Channel  string  `json:"channel"`
	ThreadTS string  `json:"thread_ts,omitempty"`
	Message  Message `json:"message"`
	// Notify, when set, records a notification fact once the post is delivered: the
	// evidence of the release communication signals.
	Notify *Notify `json:"notify,omitempty"`
	// Regression is kept with regression posts, to tell a new regression from a repeat.
	Regression *RegressionMark `json:"regression,omitempty"`
}

// Notify is the notification fact a delivered post records.
type Notify struct {
	Kind string `json:"kind"` // release_notes, regression, approval, break_glass
	Ref  string `json:"ref,omitempty"`
}

// UpdatePayload is the payload of a slack.update: the message to replace is given by its ts,
// or by the key of the slack.post that created it (its ts is read when the update is sent).
type UpdatePayload struct {
	Channel string  `json:"channel"`
	TS      string  `json:"ts,omitempty"`
	PostKey string  `json:"post_key,omitempty"`
	Message Message `json:"message"`
}

// ResponsePayload is the payload of a slack.response.
type ResponsePayload struct {
	ResponseURL     string  `json:"response_url"`
	ResponseType    string  `json:"response_type,omitempty"` // ephemeral (default) or in_channel
	ReplaceOriginal bool    `json:"replace_original,omitempty"`
	Message         Message `json:"message"`
}

// EnqueuePost queues a post to a channel inside the caller's transaction. Posts to one
// channel are delivered in the order they were queued. inserted is false when key was
// queued before.
func EnqueuePost(t *storage.Tx, key, service, channel string, msg Message, notify *Notify, now time.Time) (bool, error) {
	return enqueuePost(t, key, service, PostPayload{Channel: channel, Message: msg, Notify: notify}, now)
}

func enqueuePost(t *storage.Tx, key, service string, p PostPayload, now time.Time) (bool, error) {
	if p.Channel == "" {
		return false, fmt.Errorf("queue %s: no channel", key)
	}
	if err := p.Message.Validate(); err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	return outbox.Enqueue(t, outbox.Message{Key: key, Kind: KindPost, Target: p.Channel, Service: service, Payload: b}, now)
}

// EnqueueUpdate queues the replacement of the message posted under postKey. It goes to the
// same target as the post, so it is delivered after it.
func EnqueueUpdate(t *storage.Tx, key, service, channel, postKey string, msg Message, now time.Time) (bool, error) {
	if err := msg.Validate(); err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	b, err := json.Marshal(UpdatePayload{Channel: channel, PostKey: postKey, Message: msg})
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	return outbox.Enqueue(t, outbox.Message{Key: key, Kind: KindUpdate, Target: channel, Service: service, Payload: b}, now)
}

// EnqueueResponse queues a reply to a response_url. Replies to one response_url are
// delivered in order; the target names a digest of the URL, never the URL itself.
func EnqueueResponse(t *storage.Tx, key, service string, p ResponsePayload, now time.Time) (bool, error) {
	if err := p.Message.Validate(); err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	return outbox.Enqueue(t, outbox.Message{Key: key, Kind: KindResponse, Target: responseTarget(p.ResponseURL), Service: service, Payload: b}, now)
}

func responseTarget(responseURL string) string {
	sum := sha256.Sum256([]byte(responseURL))
	return "response_url:" + hex.EncodeToString(sum[:8])
}
