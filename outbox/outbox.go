// Package outbox delivers every outgoing message — Slack posts and updates, GitHub deployment
// callbacks — at least once and, where the receiver allows it, exactly once. A message is
// queued in the same transaction as the state change that caused it (Enqueue), so a crash can
// neither lose it nor send it for a change that never committed. One worker delivers: in
// order per target, retrying with exponential backoff and jitter on network errors, 5xx and
// 429 (honouring Retry-After), until MaxAttempts, after which the message is dead and listed.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// Message states.
const (
	StatePending  = "pending"
	StateSending  = "sending" // an attempt began; if the process died here, the send is in doubt
	StateSent     = "sent"
	StateDead     = "dead"
	StateDisabled = "disabled" // no sender for its kind (e.g. Slack off): kept and logged, not sent
)

// Message is one outgoing delivery.
type Message struct {
	// Key is the idempotency key, unique forever ("release_notes:<delivery>").
	Key string `json:"key"`
	// Kind names the Sender ("slack.post", "slack.update", "github.protection_review").
	Kind string `json:"kind"`
	// Target is the channel or URL; messages to one target are delivered in order.
	Target  string          `json:"target"`
	Service string          `json:"service,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

// Stored is a queued message with its delivery state.
type Stored struct {
	ID int64 `json:"id"`
	Message
	State       string    `json:"state"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	Ref         string    `json:"ref,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	NextAttempt time.Time `json:"next_attempt"`
	SentAt      time.Time `json:"sent_at,omitzero"`
}

// Sender delivers one kind of message. It returns the receiver's reference (a Slack ts) to
// store, or an error: *RetryableError to try again later, anything else to give up at once.
type Sender interface {
	Send(ctx context.Context, m *Stored) (ref string, err error)
}

// Recoverer is implemented by senders that can tell whether an in-doubt message (the process
// died during its send) reached the receiver. Without it, an in-doubt message is sent again.
type Recoverer interface {
	Recover(ctx context.Context, m *Stored) (ref string, delivered bool, err error)
}

// TxSender is implemented by senders whose outcome is a write of their own (the release-notes
// composer queues the post it composed): the outbox commits that write in the transaction
// that marks the message sent, one commit instead of two, and a crash between them cannot
// leave the message pending with its effect already stored. Write may be nil.
type TxSender interface {
	SendTx(ctx context.Context, m *Stored) (ref string, write func(*storage.Tx) error, err error)
}

// Repeatable is implemented by senders whose Send has no outside effect that running it twice
// would duplicate (composing a post from stored data and queueing it by key). For them the
// outbox skips the "sending" mark, one commit per message fewer.
type Repeatable interface {
	Repeatable() bool
}

// RetryableError marks a failure worth retrying. After, if positive, is the receiver's own
// Retry-After and replaces the computed backoff.
type RetryableError struct {
	Err   error
	After time.Duration
	// Waiting says the message was not tried: something it needs is not there yet (release
	// notes wait for the score after their deploy). The attempt is not counted, so a slow
	// precondition cannot use up MaxAttempts; the sender bounds how long it waits.
	Waiting bool
}

func (e *RetryableError) Error() string { return "retryable: " + e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Enqueue queues m inside the caller's transaction. inserted is false if the key was queued
// before (the caller's change is being replayed): nothing is queued twice.
func Enqueue(t *storage.Tx, m Message, now time.Time) (inserted bool, err error) {
	if m.Key == "" || m.Kind == "" {
		return false, fmt.Errorf("queue message: key and kind are required")
	}
	if len(m.Payload) == 0 {
		m.Payload = json.RawMessage(`{}`)
	}
	return storage.InsertOutbox(t, storage.OutboxRow{Key: m.Key, Kind: m.Kind, Target: m.Target, Service: m.Service, Payload: m.Payload, CreatedAt: now})
}

// EnqueueAll queues messages in t as Enqueue does each, in one statement where the engine
// allows (storage.InsertOutboxes). inserted[i] is false when ms[i]'s key was queued before.
func EnqueueAll(t *storage.Tx, ms []Message, now time.Time) (inserted []bool, err error) {
	rows := make([]storage.OutboxRow, len(ms))
	for i, m := range ms {
		if m.Key == "" || m.Kind == "" {
			return nil, fmt.Errorf("queue message %d of %d: key and kind are required", i+1, len(ms))
		}
		if len(m.Payload) == 0 {
			m.Payload = json.RawMessage(`{}`)
		}
		rows[i] = storage.OutboxRow{Key: m.Key, Kind: m.Kind, Target: m.Target, Service: m.Service, Payload: m.Payload, CreatedAt: now}
	}
	return storage.InsertOutboxes(t, rows)
}

// Outbox is the delivery worker.
type Outbox struct {
	DB  *storage.DB
	Now func() time.Time
	Log *slog.Logger
	// MaxAttempts before a message is dead (default 8).
	MaxAttempts int
	// BaseBackoff is the first retry delay, doubled each attempt up to MaxBackoff.
	BaseBackoff, MaxBackoff time.Duration
	// SendTimeout bounds one attempt.
	SendTimeout time.Duration
	// Jitter returns a number in [0,1); tests fix it.
	Jitter func() float64
	// Sleep waits for d or until ctx ends; tests replace it to drive an injected clock.
	Sleep func(ctx context.Context, d time.Duration)
	// NoSender says why a kind has no sender ("slack.bot_token is not set") in the line logged
	// when its messages are kept as disabled; nil or "" says "no sender configured for <kind>".
	NoSender func(kind string) string
	// Parallel is how many targets are delivered to at once (default 4); each target's
	// messages still go one at a time, in order.
	Parallel int
	// Notify, if set, is what Wake calls instead of waking this process's sender: it tells
	// the sender wherever it runs (the replica holding the outbox lease), which then calls
	// WakeLocal.
	Notify func()

	mu      sync.RWMutex
	senders map[string]Sender
	wake    chan struct{}
	once    sync.Once
}

func (o *Outbox) init() {
	o.once.Do(func() {
		o.wake = make(chan struct{}, 1)
		if o.senders == nil {
			o.senders = map[string]Sender{}
		}
		if o.MaxAttempts <= 0 {
			o.MaxAttempts = 8
		}
		if o.Parallel <= 0 {
			o.Parallel = 4
		}
		if o.BaseBackoff <= 0 {
			o.BaseBackoff = time.Second
		}
		if o.MaxBackoff <= 0 {
			o.MaxBackoff = 5 * time.Minute
		}
		if o.SendTimeout <= 0 {
			o.SendTimeout = 15 * time.Second
		}
		if o.Jitter == nil {
			o.Jitter = rand.Float64
		}
		if o.Sleep == nil {
			o.Sleep = func(ctx context.Context, d time.Duration) {
				t := time.NewTimer(d)
				defer t.Stop()
				select {
				case <-ctx.Done():
				case <-t.C:
				case <-o.wake:
				}
			}
		}
	})
}

// Register sets the sender of a kind.
func (o *Outbox) Register(kind string, s Sender) {
	o.init()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.senders[kind] = s
}

func (o *Outbox) sender(kind string) Sender {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.senders[kind]
}

// Wake asks the worker to look for due messages now, through Notify when set. It never blocks.
func (o *Outbox) Wake() {
	if o.Notify != nil {
		o.Notify()
		return
	}
	o.WakeLocal()
}

// WakeLocal wakes this process's sender. It never blocks.
func (o *Outbox) WakeLocal() {
	o.init()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Get returns a message by key.
func (o *Outbox) Get(ctx context.Context, key string) (Stored, error) {
	r, err := o.DB.GetOutbox(ctx, key)
	if err != nil {
		return Stored{}, err
	}
	return fromRow(r), nil
}

// List returns messages newest first, optionally of one state.
func (o *Outbox) List(ctx context.Context, state string, limit int) ([]Stored, error) {
	rows, err := o.DB.ListOutbox(ctx, state, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Stored, len(rows))
	for i, r := range rows {
		out[i] = fromRow(r)
	}
	return out, nil
}

func fromRow(r storage.OutboxRow) Stored {
	return Stored{ID: r.ID, Message: Message{Key: r.Key, Kind: r.Kind, Target: r.Target, Service: r.Service, Payload: r.Payload},
		State: r.State, Attempts: r.Attempts, LastError: r.LastError, Ref: r.Ref, CreatedAt: r.CreatedAt, NextAttempt: r.NextAttempt, SentAt: r.SentAt}
}

// DeliverDue makes one attempt at the due message of every target, several targets at once
// (Parallel), and goes on down each target's queue while its messages are sent and due (up
// to perTargetRound), one at a time so that each target sees them in order. It returns how
// many it attempted. Without the parallelism and the carrying on, one busy channel — or many
// one-message targets such as Slack response URLs — made every other channel wait a whole
// round per message (measured: approval posts 52 s late behind 348 queued in one channel).
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	o.init()
	due, err := o.DB.DueOutbox(ctx, o.Now(), 64)
	if err != nil {
		return 0, err
	}
	var disabled []Stored
	var sendable []Stored
	for _, r := range due {
		m := fromRow(r)
		if o.sender(m.Kind) == nil {
			disabled = append(disabled, m)
			continue
		}
		sendable = append(sendable, m)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		firstErr  error
		attempted = len(disabled)
	)
	sem := make(chan struct{}, o.Parallel)
	for _, m := range sendable {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(m Stored) {
			defer wg.Done()
			defer func() { <-sem }()
			n, err := o.drain(ctx, m)
			mu.Lock()
			attempted += n
			if err != nil && firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}(m)
	}
	wg.Wait()
	if firstErr != nil {
		return attempted, firstErr
	}
	if err := ctx.Err(); err != nil {
		return attempted, err
	}
	if err := o.disable(ctx, disabled); err != nil {
		return attempted, err
	}
	return attempted, nil
}

// perTargetRound bounds how many messages one target gets in a round, so one long queue
// cannot keep the round from ending (and the next round from finding new targets).
const perTargetRound = 16

// drain attempts m, then the target's next due messages while each one is done (sent, or
// dead and so out of the queue).
func (o *Outbox) drain(ctx context.Context, m Stored) (int, error) {
	n := 0
	for ctx.Err() == nil && n < perTargetRound {
		done, err := o.attempt(ctx, m)
		n++
		if err != nil || !done {
			return n, err // a retry later holds the target's queue behind it
		}
		next, ok, err := o.DB.NextOutboxFor(ctx, m.Target, o.Now())
		if err != nil || !ok {
			return n, err
		}
		m = fromRow(next)
		if o.sender(m.Kind) == nil {
			return n, nil // the round's end marks it disabled with the others
		}
	}
	return n, nil
}

func (o *Outbox) attempt(ctx context.Context, m Stored) (done bool, err error) {
	s := o.sender(m.Kind)
	if m.State == StateSending {
		// The process died during an earlier attempt: the receiver may have it already.
		if rc, ok := s.(Recoverer); ok {
			rctx, cancel := context.WithTimeout(ctx, o.SendTimeout)
			ref, delivered, err := rc.Recover(rctx, &m)
			cancel()
			if err == nil && delivered {
				o.Log.Info("in-doubt message was delivered before the restart", "key", m.Key, "ref", ref)
				return true, o.record(ctx, m.ID, StateSent, m.Attempts, "", ref, o.Now(), o.Now())
			}
		}
	}
	attempts := m.Attempts + 1
	if rs, ok := s.(Repeatable); !ok || !rs.Repeatable() {
		if err := o.record(ctx, m.ID, StateSending, attempts, m.LastError, "", m.NextAttempt, time.Time{}); err != nil {
			return false, err
		}
	}
	sctx, cancel := context.WithTimeout(ctx, o.SendTimeout)
	var (
		ref   string
		write func(*storage.Tx) error
	)
	if ts, ok := s.(TxSender); ok {
		ref, write, err = ts.SendTx(sctx, &m)
	} else {
		ref, err = s.Send(sctx, &m)
	}
	cancel()
	now := o.Now()
	if err == nil && write != nil {
		if err := o.recordWith(ctx, write, m.ID, StateSent, attempts, "", ref, now, now); err != nil {
			return false, err // nothing of it committed: the message is tried again
		}
		o.Wake() // what the write queued goes to other targets
		return true, nil
	}
	if err == nil {
		return true, o.record(ctx, m.ID, StateSent, attempts, "", ref, now, now)
	}
	var re *RetryableError
	if errors.As(err, &re) && re.Waiting {
		attempts = m.Attempts
	}
	if re == nil || !re.Waiting && attempts >= o.MaxAttempts {
		o.Log.Warn("message dead", "key", m.Key, "kind", m.Kind, "attempts", attempts, "err", err)
		return true, o.record(ctx, m.ID, StateDead, attempts, err.Error(), "", now, time.Time{}) // no longer holds the queue
	}
	delay := o.backoff(max(attempts, 1)) // 0 after waits alone
	if re.After > 0 {
		delay = re.After
	}
	o.Log.Info("message will be retried", "key", m.Key, "attempts", attempts, "in", delay, "err", err)
	return false, o.record(ctx, m.ID, StatePending, attempts, err.Error(), "", now.Add(delay), time.Time{})
}

// backoff is exponential with jitter: a random delay in [d/2, d) where d doubles each attempt,
// so many messages failing together do not retry together.
func (o *Outbox) backoff(attempts int) time.Duration {
	d := o.BaseBackoff << min(attempts-1, 30)
	if d <= 0 || d > o.MaxBackoff {
		d = o.MaxBackoff
	}
	return d/2 + time.Duration(o.Jitter()*float64(d/2))
}

// disable keeps messages that have no sender (Slack off) as disabled, in one transaction, and
// logs one line per kind with how many were kept (what each would have said is at debug
// level, and in GET /api/v1/outbox?state=disabled).
func (o *Outbox) disable(ctx context.Context, ms []Stored) error {
	if len(ms) == 0 {
		return nil
	}
	now := o.Now()
	var kinds []string
	for _, m := range ms {
		o.Log.Debug("message not sent: no sender configured for its kind", "kind", m.Kind, "key", m.Key, "target", m.Target, "payload", string(m.Payload))
		if !slices.Contains(kinds, m.Kind) {
			kinds = append(kinds, m.Kind)
		}
	}
	sort.Strings(kinds)
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// Every waiting message of such a kind is disabled at once, not one per target per pass:
	// with no sender the per-target order cannot matter, and fifty release notes to one
	// channel took fifty passes.
	counts := map[string]int64{}
	err := o.DB.Writer.Do(wctx, func(t *storage.Tx) error {
		for _, kind := range kinds {
			n, err := storage.DisableWaitingOutbox(t, kind, "no sender configured for "+kind, now)
			if err != nil {
				return err
			}
			counts[kind] = n
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, kind := range kinds {
		if n := counts[kind]; n > 0 {
			o.Log.Info(o.disabledSummary(kind, n), "kind", kind, "count", n)
		}
	}
	return nil
}

// disabledSummary is the line logged for n messages of kind kept as disabled: "slack.bot_token
// is not set: 37 slack.post messages kept as disabled; see GET /api/v1/outbox?state=disabled".
func (o *Outbox) disabledSummary(kind string, n int64) string {
	why := ""
	if o.NoSender != nil {
		why = o.NoSender(kind)
	}
	if why == "" {
		why = "no sender configured for " + kind
	}
	return fmt.Sprintf("%s: %d %s messages kept as disabled; see GET /api/v1/outbox?state=disabled", why, n, kind)
}

func (o *Outbox) record(ctx context.Context, id int64, state string, attempts int, lastErr, ref string, next, sent time.Time) error {
	return o.recordWith(ctx, nil, id, state, attempts, lastErr, ref, next, sent)
}

// recordWith stores an attempt's outcome, after write (if any) in the same transaction.
func (o *Outbox) recordWith(ctx context.Context, write func(*storage.Tx) error, id int64, state string, attempts int, lastErr, ref string, next, sent time.Time) error {
	// The outcome must be stored even if ctx is ending: a sent message not marked sent would
	// be sent again after a restart.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return o.DB.Writer.Do(wctx, func(t *storage.Tx) error {
		if write != nil {
			if err := write(t); err != nil {
				return err
			}
		}
		return storage.UpdateOutbox(t, id, state, attempts, lastErr, ref, next, sent)
	})
}
