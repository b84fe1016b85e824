package outbox

import (
	"context"
	"errors"
	"testing"

	"github.com/releaseops/releaseops/storage"
)

// composer queues a follow-up message as its outcome, like the release-notes composer.
type composer struct{ fail bool }

func (c *composer) Repeatable() bool { return true }

func (c *composer) Send(context.Context, *Stored) (string, error) {
	return "", errors.New("the outbox must call SendTx")
}

func (c *composer) SendTx(_ context.Context, m *Stored) (string, func(*storage.Tx) error, error) {
	return "post:" + m.Key, func(t *storage.Tx) error {
		if c.fail {
			return errors.New("disk full")
		}
		_, err := Enqueue(t, Message{Key: "post:" + m.Key, Kind: "slack.post", Target: "C1"}, m.CreatedAt)
		return err
	}, nil
}

// A TxSender's write and the message's "sent" commit together: when the write fails, the
// message stays pending with its attempts unchanged and nothing it queued exists.
func TestTxSenderWriteCommitsWithTheOutcome(t *testing.T) {
	db, o, c := setup(t, "")
	comp := &composer{fail: true}
	o.Register("compose", comp)
	enqueue(t, db, c.Now(), Message{Key: "job1", Kind: "compose", Target: "notes:a"})
	ctx := context.Background()
	if _, err := o.DeliverDue(ctx); err == nil {
		t.Fatal("a failed write must be reported")
	}
	m, err := o.Get(ctx, "job1")
	if err != nil || m.State != StatePending || m.Attempts != 0 {
		t.Fatalf("after a failed write: %+v, %v", m, err)
	}
	if _, err := o.Get(ctx, "post:job1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the failed write's message exists: %v", err)
	}
	comp.fail = false
	if _, err := o.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ = o.Get(ctx, "job1")
	p, err := o.Get(ctx, "post:job1")
	if m.State != StateSent || m.Ref != "post:job1" || err != nil || p.State != StatePending {
		t.Fatalf("job %+v, post %+v (%v)", m, p, err)
	}
}
