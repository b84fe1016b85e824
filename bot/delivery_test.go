package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

func (h *harness) queuePost(key, channel, text string) {
	h.t.Helper()
	err := h.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		_, err := EnqueuePost(t, key, "checkout", channel, TextMessage(text), nil, h.clock.Now())
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func TestRateLimitedThenPostedOnceAfterTheWait(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.slack.fail = func(n int, r *http.Request) (int, map[string]string, string, bool) {
		if n == 1 {
			return http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, `{"ok":false,"error":"ratelimited"}`, true
		}
		return 0, nil, "", false
	}
	h.queuePost("k1", "C0CHECKOUT", "hello")
	start := h.clock.Now()
	if _, err := h.ob.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, _ := h.ob.Get(context.Background(), "k1")
	if m.State != outbox.StatePending || !m.NextAttempt.Equal(start.Add(7*time.Second)) || !strings.Contains(m.LastError, "rate limited") {
		t.Fatalf("after a 429 with Retry-After 7: %+v", m)
	}
	h.clock.Advance(6 * time.Second)
	if n, _ := h.ob.DeliverDue(context.Background()); n != 0 {
		t.Fatal("retried before Retry-After")
	}
	h.clock.Advance(time.Second)
	if n, _ := h.ob.DeliverDue(context.Background()); n != 1 {
		t.Fatal("not retried once Retry-After passed")
	}
	if got := h.slack.posts("chat.postMessage"); len(got) != 1 {
		t.Fatalf("want exactly one post, got %d", len(got))
	}
	m, _ = h.ob.Get(context.Background(), "k1")
	if m.State != outbox.StateSent || m.Ref != h.slack.posts("chat.postMessage")[0].TS {
		t.Fatalf("sent message should keep Slack's ts: %+v", m)
	}
}

func TestOutageThenEveryMessageOnceInOrderPerChannel(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	down := true
	h.slack.fail = func(n int, r *http.Request) (int, map[string]string, string, bool) {
		if down {
			if n%2 == 0 {
				return http.StatusServiceUnavailable, nil, "<html>down</html>", true
			}
			return http.StatusOK, nil, `{"ok":false,"error":"internal_error"}`, true
		}
		return 0, nil, "", false
	}
	var want = map[string][]string{}
	for i := range 4 {
		for _, ch := range []string{"C0CHECKOUT", "C0CHECKIN"} {
			text := fmt.Sprintf("%s message %d", ch, i)
			h.queuePost(fmt.Sprintf("%s-%d", ch, i), ch, text)
			want[ch] = append(want[ch], text)
		}
	}
	for range 3 { // three failed rounds
		h.deliver(1)
		h.clock.Advance(8 * time.Second)
	}
	if len(h.slack.posts("chat.postMessage")) != 0 {
		t.Fatal("posted while Slack was down")
	}
	down = false
	h.deliver(50)
	got := map[string][]string{}
	for _, p := range h.slack.posts("chat.postMessage") {
		got[p.Channel] = append(got[p.Channel], p.Text)
	}
	for ch, w := range want {
		if strings.Join(got[ch], "|") != strings.Join(w, "|") {
			t.Errorf("%s got %q, want %q", ch, got[ch], w)
		}
	}
	if n := len(h.messages(outbox.StateSent)); n != 8 {
		t.Errorf("%d sent, want 8", n)
	}
}

func TestRestartInTheMiddleSendsNoDuplicate(t *testing.T) {
	for _, reached := range []bool{true, false} {
		t.Run(fmt.Sprintf("post reached Slack: %v", reached), func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.queuePost("release_notes:checkout:d1", "C0CHECKOUT", "notes")
			m, _ := h.ob.Get(context.Background(), "release_notes:checkout:d1")
			// The process died during the attempt: the row says "sending", and Slack may or
			// may not have the message.
			if reached {
				ps := &PostSender{API: h.bot.d.API}
				if _, err := ps.Send(context.Background(), &m); err != nil {
					t.Fatal(err)
				}
			}
			err := h.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
				return storage.UpdateOutbox(t, m.ID, outbox.StateSending, 1, "", "", h.clock.Now(), time.Time{})
			})
			if err != nil {
				t.Fatal(err)
			}
			// A new process: a fresh outbox with the same senders.
			restarted := &outbox.Outbox{DB: h.db, Now: h.clock.Now, Log: h.ob.Log, MaxAttempts: 5, Jitter: func() float64 { return 0 }}
			h.bot.RegisterSenders(restarted)
			if _, err := restarted.DeliverDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			posts := h.slack.posts("chat.postMessage")
			if len(posts) != 1 {
				t.Fatalf("Slack has %d copies, want 1", len(posts))
			}
			m, _ = restarted.Get(context.Background(), "release_notes:checkout:d1")
			if m.State != outbox.StateSent || m.Ref != posts[0].TS {
				t.Fatalf("after recovery: %+v", m)
			}
			if !strings.Contains(posts[0].Metadata, "release_notes:checkout:d1") {
				t.Errorf("the post does not carry its outbox key in metadata: %q", posts[0].Metadata)
			}
		})
	}
}

func TestDeadLettersKeepTheirLastError(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.queuePost("to-gone", "C0GONE", "nobody hears this")
	h.queuePost("flaky", "C0CHECKIN", "keeps failing")
	h.slack.fail = func(n int, r *http.Request) (int, map[string]string, string, bool) {
		r.ParseForm()
		if r.Form.Get("channel") == "C0CHECKIN" {
			return http.StatusBadGateway, nil, "bad gateway", true
		}
		return 0, nil, "", false
	}
	h.deliver(40)
	dead := map[string]outbox.Stored{}
	for _, m := range h.messages(outbox.StateDead) {
		dead[m.Key] = m
	}
	if m := dead["to-gone"]; m.Attempts != 1 || !strings.Contains(m.LastError, "channel_not_found") {
		t.Errorf("a final Slack error should kill the message at once: %+v", m)
	}
	if m := dead["flaky"]; m.Attempts != 5 || !strings.Contains(m.LastError, "HTTP 502") {
		t.Errorf("a 5xx should be retried up to max attempts: %+v", m)
	}
	for _, m := range dead {
		if strings.Contains(m.LastError, h.slack.srv.URL) || strings.Contains(m.LastError, "xoxb") {
			t.Errorf("last error leaks the URL or the token: %q", m.LastError)
		}
	}
}

func TestNoBotTokenKeepsMessagesDisabled(t *testing.T) {
	h := newHarness(t, harnessOpts{noToken: true})
	h.queuePost("k", "C0CHECKOUT", "would be posted")
	h.deliver(3)
	ms := h.messages(outbox.StateDisabled)
	if len(ms) != 1 || h.slack.requests() != 0 {
		t.Fatalf("want the message disabled and Slack untouched: %+v, %d requests", ms, h.slack.requests())
	}
	// One summary line per kind, not the payload (that is at debug level only).
	if !strings.Contains(h.log.String(), "1 slack.post messages kept as disabled") {
		t.Errorf("the disabled message is not summarised in the log:\n%s", h.log.String())
	}
}

func TestUpdateUsesThePostsTS(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	now := h.clock.Now()
	req := testApproval()
	err := h.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		if _, err := EnqueuePost(t, "approval:apr_01HX:request", "checkout", "C0CHECKOUT", ApprovalRequestMessage(req, testPublicURL), &Notify{Kind: "approval", Ref: req.ID}, now); err != nil {
			return err
		}
		_, err := EnqueueUpdate(t, "approval:apr_01HX:decided", "checkout", "C0CHECKOUT", "approval:apr_01HX:request",
			ApprovalDecidedMessage(req, Decision{State: "approved", By: "U0ALICE", At: now}, testPublicURL), now)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h.deliver(5)
	posts, updates := h.slack.posts("chat.postMessage"), h.slack.posts("chat.update")
	if len(posts) != 1 || len(updates) != 1 || updates[0].TS != posts[0].TS {
		t.Fatalf("posts %+v updates %+v", posts, updates)
	}
	if strings.Contains(updates[0].Blocks, ActionApprove) {
		t.Error("the decided message still has buttons")
	}
}

func TestClassifyNeverLeaksURLs(t *testing.T) {
	secretURL := "https://hooks.slack.com/actions/T1/1/s3cr3t"
	errs := []error{
		&url.Error{Op: "Post", URL: secretURL, Err: errors.New("dial tcp 10.0.0.1:443: connect: connection refused")},
		fmt.Errorf("failed to post webhook: %w", &url.Error{Op: "Post", URL: secretURL, Err: context.DeadlineExceeded}),
		errors.New("odd failure at " + secretURL + " today"),
	}
	for _, e := range errs {
		got := classify("response_url", e).Error()
		if strings.Contains(got, "s3cr3t") || strings.Contains(got, "hooks.slack.com") {
			t.Errorf("classify(%v) = %q", e, got)
		}
	}
	var re *outbox.RetryableError
	if !errors.As(classify("x", errs[0]), &re) {
		t.Error("a network error should be retryable")
	}
}
