package gate

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/storage"
)

type anchorEnv struct {
	t    *testing.T
	db   *storage.DB
	a    *Anchorer
	now  time.Time
	file string
}

func newAnchorEnv(t *testing.T) *anchorEnv {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	e := &anchorEnv{t: t, db: db, now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), file: filepath.Join(t.TempDir(), "anchors.jsonl")}
	e.a = &Anchorer{DB: db, Key: key, Now: func() time.Time { return e.now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), File: e.file}
	return e
}

func (e *anchorEnv) append(n int) {
	e.t.Helper()
	for i := 0; i < n; i++ {
		e.now = e.now.Add(time.Minute)
		err := e.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
			return appendAudit(t, e.now, audit{Kind: AuditGateDecision, Service: "checkout", Detail: map[string]any{"i": i}})
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *anchorEnv) anchor() Checkpoint {
	e.t.Helper()
	c, wrote, err := e.a.Anchor(context.Background())
	if err != nil || !wrote {
		e.t.Fatalf("anchor: %v %v", wrote, err)
	}
	return c
}

func (e *anchorEnv) check(cps []Checkpoint) AnchorCheck {
	e.t.Helper()
	v, err := Verify(context.Background(), e.db)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := CheckAnchors(context.Background(), e.db, v, cps, e.a.Key.Public().(ed25519.PublicKey))
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *anchorEnv) published() []Checkpoint {
	e.t.Helper()
	f, err := os.Open(e.file)
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	cps, err := ReadCheckpoints(f)
	if err != nil {
		e.t.Fatal(err)
	}
	return cps
}

// cut deletes every entry after seq, as someone with the database file can: the triggers
// that refuse it through SQL are the owner's to drop.
func (e *anchorEnv) cut(after int64) {
	e.t.Helper()
	err := e.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		if _, err := t.Exec(`DROP TRIGGER audit_log_no_delete`); err != nil {
			return err
		}
		_, err := t.Exec(`DELETE FROM audit_log WHERE seq > ?`, after)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func TestAnchorWritesSignsAndPublishesOncePerChange(t *testing.T) {
	e := newAnchorEnv(t)
	if _, wrote, err := e.a.Anchor(context.Background()); err != nil || wrote {
		t.Fatalf("an empty log was anchored: %v %v", wrote, err)
	}
	e.append(3)
	c := e.anchor()
	if c.Seq != 3 {
		t.Fatalf("checkpoint of entry %d, want 3", c.Seq)
	}
	if _, wrote, _ := e.a.Anchor(context.Background()); wrote {
		t.Fatal("a checkpoint was written with nothing new since the last one")
	}
	if st, err := os.Stat(e.file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("anchor file: %v %v, want mode 0600", st, err)
	}
	pub := e.published()
	if len(pub) != 1 || pub[0] != c {
		t.Fatalf("published %+v, want %+v", pub, c)
	}
	in, err := LogCheckpoints(context.Background(), e.db)
	if err != nil || len(in) != 1 || in[0] != c {
		t.Fatalf("checkpoints in the log: %+v %v", in, err)
	}
	if res := e.check(pub); res.Problem != "" || res.Checked != 1 {
		t.Fatalf("check: %+v", res)
	}
}

// The chain alone cannot see a cut tail; a published checkpoint can.
func TestTruncatedTailIsCaughtByAPublishedCheckpoint(t *testing.T) {
	e := newAnchorEnv(t)
	e.append(5)
	e.anchor() // of entry 5, written as entry 6
	e.append(4)
	last := e.anchor() // of entry 10, written as entry 11
	e.cut(7)
	v, _ := Verify(context.Background(), e.db)
	if !v.OK || v.Entries != 7 {
		t.Fatalf("the cut log should still be a valid chain of 7: %+v", v)
	}
	res := e.check(e.published())
	want := "the log ends at 7 but checkpoint 10 was published at " + last.At.Format(time.RFC3339)
	if !strings.HasPrefix(res.Problem, want) {
		t.Fatalf("problem = %q, want it to start %q", res.Problem, want)
	}
}

// A log rewritten from some entry on, with a fresh valid chain, no longer holds the hash a
// checkpoint signed.
func TestRewrittenLogIsCaughtByAPublishedCheckpoint(t *testing.T) {
	e := newAnchorEnv(t)
	e.append(4)
	e.anchor()
	e.cut(2)
	e.append(4) // entries 3.. again, different content
	res := e.check(e.published())
	if !strings.Contains(res.Problem, "entry 4 is not the one checkpoint 4 signed") {
		t.Fatalf("problem = %q", res.Problem)
	}
}

func TestCheckpointSignatureIsChecked(t *testing.T) {
	e := newAnchorEnv(t)
	e.append(2)
	c := e.anchor()
	forged := c
	forged.Seq = 1
	if res := e.check([]Checkpoint{forged}); !strings.Contains(res.Problem, "does not verify") {
		t.Fatalf("edited checkpoint: %q", res.Problem)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	v, _ := Verify(context.Background(), e.db)
	res, _ := CheckAnchors(context.Background(), e.db, v, []Checkpoint{c}, other.Public().(ed25519.PublicKey))
	if !strings.Contains(res.Problem, "does not verify") {
		t.Fatalf("another key: %q", res.Problem)
	}
	if _, err := CheckAnchors(context.Background(), e.db, v, []Checkpoint{c}, nil); err == nil {
		t.Fatal("checking without a public key did not fail")
	}
}

// Lines copied from the Slack posts, with their code fences, read as checkpoints.
func TestReadCheckpointsFromSlackCopy(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	c := SignCheckpoint(key, 42, "abc", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	line, _ := json.Marshal(c)
	text := "Audit log checkpoint: entry 42, head abc\n```" + string(line) + "```\n\n"
	cps, err := ReadCheckpoints(bytes.NewBufferString(text))
	if err != nil || len(cps) != 1 || cps[0] != c {
		t.Fatalf("read %+v, %v", cps, err)
	}
	if _, err := ReadCheckpoints(bytes.NewBufferString("{\"seq\": 1}\n")); err == nil {
		t.Fatal("a checkpoint without head and signature was accepted")
	}
}
