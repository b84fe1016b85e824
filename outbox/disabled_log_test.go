package outbox

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// With no sender, a pass that disables many messages logs one line per kind with the counts,
// not one line per message with its payload.
func TestDisabledMessagesLoggedAsOneLinePerKind(t *testing.T) {
	db, o, c := setup(t, "")
	var buf bytes.Buffer
	o.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	o.NoSender = func(kind string) string {
		if strings.HasPrefix(kind, "slack.") {
			return "slack.bot_token is not set"
		}
		return ""
	}
	for i := range 5 {
		enqueue(t, db, c.Now(), Message{Key: fmt.Sprintf("notes-%d", i), Kind: "slack.post", Target: "C1",
			Payload: []byte(`{"channel":"C1","blocks":["BLOCKKIT"],"notify":{"kind":"release_notes"}}`)})
	}
	for i := range 2 {
		enqueue(t, db, c.Now(), Message{Key: fmt.Sprintf("reg-%d", i), Kind: "slack.post", Target: "C2",
			Payload: []byte(`{"channel":"C2","blocks":["BLOCKKIT"],"notify":{"kind":"regression"}}`)})
	}
	for i := range 3 {
		enqueue(t, db, c.Now(), Message{Key: fmt.Sprintf("rev-%d", i), Kind: "github.protection_review", Target: "https://x",
			Payload: []byte(`{"state":"BLOCKKIT"}`)})
	}
	if _, err := o.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two lines, one per kind, got %d:\n%s", len(lines), out)
	}
	if strings.Contains(out, "BLOCKKIT") || strings.Contains(out, "payload") {
		t.Fatalf("payloads logged at info level:\n%s", out)
	}
	for _, want := range []string{
		"no sender configured for github.protection_review: 3 github.protection_review messages kept as disabled; see GET /api/v1/outbox?state=disabled",
		"slack.bot_token is not set: 7 slack.post messages kept as disabled; see GET /api/v1/outbox?state=disabled",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("missing %q in:\n%s", want, out)
		}
	}
	disabled, _ := o.List(context.Background(), StateDisabled, 100)
	if len(disabled) != 10 {
		t.Fatalf("disabled = %d, want 10", len(disabled))
	}

	// At debug level each message's payload is still there.
	buf.Reset()
	o.Log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	enqueue(t, db, c.Now(), Message{Key: "late", Kind: "slack.post", Target: "C1", Payload: []byte(`{"blocks":["BLOCKKIT"]}`)})
	if _, err := o.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "BLOCKKIT") || !strings.Contains(buf.String(), "1 slack.post messages kept as disabled") {
		t.Fatalf("debug output:\n%s", buf.String())
	}
}
