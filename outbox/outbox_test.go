package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/storage"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// scripted answers each Send with the next error in its script (nil: success).
type scripted struct {
	mu     sync.Mutex
	script []error
	got    []string // keys, in delivery order
}

func (s *scripted) Send(_ context.Context, m *Stored) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if len(s.script) > 0 {
		err, s.script = s.script[0], s.script[1:]
	}
	if err != nil {
		return "", err
	}
	s.got = append(s.got, m.Key)
	return "ts-" + m.Key, nil
}

func setup(t *testing.T, path string) (*storage.DB, *Outbox, *clock) {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "o.db")
	}
	db, err := storage.Open(context.Background(), path, storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	o := &Outbox{DB: db, Now: c.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Jitter: func() float64 { return 0 }}
	return db, o, c
}

func enqueue(t *testing.T, db *storage.DB, now time.Time, m Message) {
	t.Helper()
	if err := db.Writer.Do(context.Background(), func(tx *storage.Tx) error { _, err := Enqueue(tx, m, now); return err }); err != nil {
		t.Fatal(err)
	}
}

func TestRetryAfterThenSuccessPostsOnceAfterTheWait(t *testing.T) {
	db, o, c := setup(t, "")
	s := &scripted{script: []error{&RetryableError{Err: errors.New("429 rate_limited"), After: 30 * time.Second}}}
	o.Register("slack.post", s)
	enqueue(t, db, c.Now(), Message{Key: "m1", Kind: "slack.post", Target: "C1"})
	ctx := context.Background()
	if n, err := o.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("first attempt: %d, %v", n, err)
	}
	m, _ := o.Get(ctx, "m1")
	if m.State != StatePending || !m.NextAttempt.Equal(c.Now().Add(30*time.Second)) {
		t.Fatalf("after 429: state %s next %v, want pending at +30s", m.State, m.NextAttempt)
	}
	c.Advance(29 * time.Second)
	if n, _ := o.DeliverDue(ctx); n != 0 {
		t.Fatal("retried before Retry-After elapsed")
	}
	c.Advance(time.Second)
	if n, _ := o.DeliverDue(ctx); n != 1 {
		t.Fatal("not retried after Retry-After")
	}
	m, _ = o.Get(ctx, "m1")
	if m.State != StateSent || m.Ref != "ts-m1" || m.Attempts != 2 || len(s.got) != 1 {
		t.Fatalf("final: %+v, posts %v", m, s.got)
	}
}

func TestOutageThenRecoveryDeliversEachOnceInOrderPerTarget(t *testing.T) {
	db, o, c := setup(t, "")
	down := errors.New("503 service unavailable")
	s := &scripted{}
	for i := 0; i < 5; i++ {
		s.script = append(s.script, &RetryableError{Err: down})
	}
	o.Register("slack.post", s)
	for i := 0; i < 4; i++ {
		enqueue(t, db, c.Now(), Message{Key: fmt.Sprintf("a%d", i), Kind: "slack.post", Target: "CA"})
		enqueue(t, db, c.Now(), Message{Key: fmt.Sprintf("b%d", i), Kind: "slack.post", Target: "CB"})
	}
	ctx := context.Background()
	for round := 0; round < 40 && len(s.got) < 8; round++ {
		if _, err := o.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
	}
	var a, b []string
	for _, k := range s.got {
		if k[0] == 'a' {
			a = append(a, k)
		} else {
			b = append(b, k)
		}
	}
	if fmt.Sprint(a) != "[a0 a1 a2 a3]" || fmt.Sprint(b) != "[b0 b1 b2 b3]" {
		t.Fatalf("delivered %v", s.got)
	}
}

func TestPermanentErrorAndMaxAttemptsKill(t *testing.T) {
	db, o, c := setup(t, "")
	o.MaxAttempts = 2
	s := &scripted{script: []error{errors.New("channel_not_found"), &RetryableError{Err: errors.New("5xx")}, &RetryableError{Err: errors.New("5xx")}}}
	o.Register("slack.post", s)
	enqueue(t, db, c.Now(), Message{Key: "perm", Kind: "slack.post", Target: "C1"})
	enqueue(t, db, c.Now(), Message{Key: "flaky", Kind: "slack.post", Target: "C2"})
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		o.DeliverDue(ctx)
		c.Advance(time.Hour)
	}
	dead, _ := o.List(ctx, StateDead, 10)
	if len(dead) != 2 {
		t.Fatalf("dead = %+v", dead)
	}
	for _, m := range dead {
		if m.LastError == "" {
			t.Fatalf("dead message without its last error: %+v", m)
		}
	}
}

func TestNoSenderKeepsMessageDisabled(t *testing.T) {
	db, o, c := setup(t, "")
	// Three to one channel: delivered in order they would take three passes; with no sender
	// one pass disables them all.
	for _, k := range []string{"x", "y", "z"} {
		enqueue(t, db, c.Now(), Message{Key: k, Kind: "slack.post", Target: "C1"})
	}
	o.DeliverDue(context.Background())
	for _, k := range []string{"x", "y", "z"} {
		m, _ := o.Get(context.Background(), k)
		if m.State != StateDisabled || m.LastError != "no sender configured for slack.post" {
			t.Fatalf("%s: state %s (%q), want disabled after one pass", k, m.State, m.LastError)
		}
	}
}

func TestEnqueueIsIdempotent(t *testing.T) {
	db, o, c := setup(t, "")
	enqueue(t, db, c.Now(), Message{Key: "k", Kind: "slack.post", Target: "C1"})
	enqueue(t, db, c.Now(), Message{Key: "k", Kind: "slack.post", Target: "C1"})
	all, _ := o.List(context.Background(), "", 10)
	if len(all) != 1 {
		t.Fatalf("queued %d", len(all))
	}
}

// recovering reports in-doubt messages as delivered when they reached it before the crash.
type recovering struct {
	scripted
	seen map[string]bool
}

func (r *recovering) Recover(_ context.Context, m *Stored) (string, bool, error) {
	return "ts-" + m.Key, r.seen[m.Key], nil
}

func TestRestartDuringSendDoesNotDuplicate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	db, o, c := setup(t, path)
	enqueue(t, db, c.Now(), Message{Key: "inflight", Kind: "slack.post", Target: "C1"})
	// Simulate a crash after the receiver got the message but before "sent" was recorded.
	rows, _ := db.DueOutbox(context.Background(), c.Now(), 10)
	if err := o.record(context.Background(), rows[0].ID, StateSending, 1, "", "", c.Now(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db2, o2, _ := setup(t, path)
	_ = db2
	r := &recovering{seen: map[string]bool{"inflight": true}}
	o2.Register("slack.post", r)
	o2.DeliverDue(context.Background())
	m, _ := o2.Get(context.Background(), "inflight")
	if m.State != StateSent || len(r.got) != 0 {
		t.Fatalf("state %s, resent %v: an in-doubt delivered message was sent twice", m.State, r.got)
	}
}

// A sender waiting for a precondition (Waiting) is not failing: however long it waits, the
// message does not die of MaxAttempts, and its attempts count only real tries.
func TestWaitingIsNotAnAttempt(t *testing.T) {
	db, o, c := setup(t, "")
	o.MaxAttempts = 2
	s := &scripted{script: []error{&RetryableError{Err: errors.New("5xx")}}}
	for range 5 { // waits after a failed attempt: one more would be the last
		s.script = append(s.script, &RetryableError{Err: errors.New("score not stored yet"), After: time.Second, Waiting: true})
	}
	o.Register("slack.post", s)
	enqueue(t, db, c.Now(), Message{Key: "notes", Kind: "slack.post", Target: "C1"})
	ctx := context.Background()
	for range 10 {
		if _, err := o.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Minute)
	}
	m, _ := o.Get(ctx, "notes")
	if m.State != StateSent || m.Attempts != 2 || fmt.Sprint(s.got) != "[notes]" {
		t.Fatalf("after 5 waits, a failure and a success: %+v, posts %v; want sent after 2 attempts", m, s.got)
	}
}
