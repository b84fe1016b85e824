package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops/outbox"
)

// SlackAPI is the part of the Slack Web API the senders use; *slack.Client implements it.
type SlackAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	UpdateMessageContext(ctx context.Context, channelID, timestamp string, options ...slack.MsgOption) (string, string, string, error)
	GetConversationHistoryContext(ctx context.Context, params *slack.GetConversationHistoryParameters) (*slack.GetConversationHistoryResponse, error)
}

// PostSender delivers slack.post messages and finds posts left in doubt by a crash.
type PostSender struct {
	API SlackAPI
	// Delivered, if set, runs after a successful post (records the notification fact). Its
	// error is logged by the caller and does not fail the post: the message went out.
	Delivered func(ctx context.Context, m *outbox.Stored, p *PostPayload, ts string) error
	// OnError reports a failure of Delivered.
	OnError func(m *outbox.Stored, err error)
}

// Send posts the message and returns its ts.
func (s *PostSender) Send(ctx context.Context, m *outbox.Stored) (string, error) {
	var p PostPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", fmt.Errorf("decode post payload: %w", err)
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(p.Message.Text, false),
		slack.MsgOptionBlocks(p.Message.Blocks.BlockSet...),
		slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionDisableMediaUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metadataEventType, EventPayload: map[string]any{"key": m.Key}}),
	}
	if p.ThreadTS != "" {
		opts = append(opts, slack.MsgOptionTS(p.ThreadTS))
	}
	_, ts, err := s.API.PostMessageContext(ctx, p.Channel, opts...)
	if err != nil {
		return "", classify("chat.postMessage", err)
	}
	if s.Delivered != nil {
		if err := s.Delivered(ctx, m, &p, ts); err != nil && s.OnError != nil {
			s.OnError(m, err)
		}
	}
	return ts, nil
}

// Recover looks for the post in the channel's recent history by the outbox key carried in
// its metadata: if the process died after Slack accepted it, it is not posted again. It
// needs the channels:history (groups:history for private channels) scope; without it the
// error makes the outbox send again.
func (s *PostSender) Recover(ctx context.Context, m *outbox.Stored) (string, bool, error) {
	var p PostPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", false, fmt.Errorf("decode post payload: %w", err)
	}
	oldest := m.CreatedAt.Add(-time.Minute)
	params := &slack.GetConversationHistoryParameters{ChannelID: p.Channel, Limit: 200, IncludeAllMetadata: true,
		Oldest: strconv.FormatFloat(float64(oldest.UnixMilli())/1000, 'f', 3, 64)}
	for range 5 { // at most 1000 messages: enough for the minutes an attempt can be in doubt
		h, err := s.API.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return "", false, classify("conversations.history", err)
		}
		for _, msg := range h.Messages {
			if msg.Metadata.EventType == metadataEventType && msg.Metadata.EventPayload["key"] == m.Key {
				if s.Delivered != nil {
					if err := s.Delivered(ctx, m, &p, msg.Timestamp); err != nil && s.OnError != nil {
						s.OnError(m, err)
					}
				}
				return msg.Timestamp, true, nil
			}
		}
		if !h.HasMore || h.ResponseMetaData.NextCursor == "" {
			break
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
	return "", false, nil
}

// UpdateSender delivers slack.update messages.
type UpdateSender struct {
	API SlackAPI
	// Lookup returns a queued message by key: the post whose ts an update needs.
	Lookup func(ctx context.Context, key string) (outbox.Stored, error)
}

// Send replaces the message. Updating is idempotent, so a retry after a crash is harmless.
func (s *UpdateSender) Send(ctx context.Context, m *outbox.Stored) (string, error) {
	var p UpdatePayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", fmt.Errorf("decode update payload: %w", err)
	}
	ts := p.TS
	if ts == "" {
		post, err := s.Lookup(ctx, p.PostKey)
		if err != nil {
			return "", fmt.Errorf("message to update (%s): %w", p.PostKey, err)
		}
		switch post.State {
		case outbox.StateSent:
			ts = post.Ref
		case outbox.StatePending, outbox.StateSending:
			// Normally impossible (same target, delivered in order), but harmless to wait.
			return "", &outbox.RetryableError{Err: fmt.Errorf("message to update (%s) not posted yet", p.PostKey)}
		default:
			return "", fmt.Errorf("message to update (%s) was never posted: it is %s", p.PostKey, post.State)
		}
	}
	_, ts, _, err := s.API.UpdateMessageContext(ctx, p.Channel, ts,
		slack.MsgOptionText(p.Message.Text, false), slack.MsgOptionBlocks(p.Message.Blocks.BlockSet...))
	if err != nil {
		return "", classify("chat.update", err)
	}
	return ts, nil
}

// ResponseSender delivers slack.response messages to response_url. It needs no bot token.
type ResponseSender struct {
	HTTP *http.Client
	// AllowedHosts, when set, are the only hosts a response_url may point at. A response_url
	// arrives in a signed request, but the signing secret alone must not let anyone make the
	// server send requests into its own network.
	AllowedHosts []string
}

// Send posts to the response_url. Slack accepts at most five within 30 minutes; an expired
// URL answers 404, which is final.
func (s *ResponseSender) Send(ctx context.Context, m *outbox.Stored) (string, error) {
	var p ResponsePayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", fmt.Errorf("decode response payload: %w", err)
	}
	u, err := url.Parse(p.ResponseURL)
	if err != nil || u.Scheme != "https" && u.Scheme != "http" {
		return "", errors.New("response_url is not an http(s) URL")
	}
	if len(s.AllowedHosts) > 0 && !slices.Contains(s.AllowedHosts, u.Hostname()) {
		return "", fmt.Errorf("response_url host %q is not a Slack host (%s)", u.Hostname(), strings.Join(s.AllowedHosts, ", "))
	}
	rt := p.ResponseType
	if rt == "" {
		rt = slack.ResponseTypeEphemeral
	}
	blocks := p.Message.Blocks
	msg := &slack.WebhookMessage{Text: p.Message.Text, Blocks: &blocks, ResponseType: rt, ReplaceOriginal: p.ReplaceOriginal}
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	if err := slack.PostWebhookCustomHTTPContext(ctx, p.ResponseURL, hc, msg); err != nil {
		return "", classify("response_url", err)
	}
	return "", nil
}

// retryableSlackErrors are Web API error codes that say "try again later".
var retryableSlackErrors = map[string]bool{
	"ratelimited": true, "internal_error": true, "fatal_error": true, "service_unavailable": true,
	"request_timeout": true, "team_added_to_org": true,
}

// classify turns a Slack client error into what the outbox needs: *outbox.RetryableError for
// network errors, 5xx and 429 (with Retry-After), anything else final. The message names the
// call but never a URL (a response_url is a credential) or a token.
func classify(call string, err error) error {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return &outbox.RetryableError{Err: fmt.Errorf("%s: rate limited by Slack, retry after %s", call, rl.RetryAfter), After: rl.RetryAfter}
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		e := fmt.Errorf("%s: Slack answered HTTP %d", call, sc.Code)
		if sc.Retryable() {
			return &outbox.RetryableError{Err: e}
		}
		return e
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		e := fmt.Errorf("%s: Slack answered %s", call, se.Err)
		if retryableSlackErrors[se.Err] {
			return &outbox.RetryableError{Err: e}
		}
		return e
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &outbox.RetryableError{Err: fmt.Errorf("%s: %s", call, describeNetErr(ue.Err))}
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return &outbox.RetryableError{Err: fmt.Errorf("%s: %s", call, describeNetErr(err))}
	}
	return fmt.Errorf("%s: %s", call, redact(err.Error()))
}

func describeNetErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + ": " + redact(oe.Err.Error())
	}
	return redact(err.Error())
}

// redact keeps an error message from carrying a URL: slack-go and net/http quote the URL
// they called in some messages.
func redact(s string) string {
	out := []rune{}
	skip := false
	for i, r := range s {
		if !skip && (hasPrefixAt(s, i, "http://") || hasPrefixAt(s, i, "https://")) {
			out = append(out, []rune("<url>")...)
			skip = true
			continue
		}
		if skip {
			if r == ' ' || r == '"' || r == '\'' {
				skip = false
				out = append(out, r)
			}
			continue
		}
		out = append(out, r)
	}
	return string(out)
}

func hasPrefixAt(s string, i int, p string) bool { return len(s)-i >= len(p) && s[i:i+len(p)] == p }
