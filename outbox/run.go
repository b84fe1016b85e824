package outbox

import (
	"context"
	"sync"
	"time"
)

// Run delivers due messages until ctx ends. Unlike DeliverDue's rounds, a target is taken up
// as soon as a slot is free: a round waited for its slowest target, so with GitHub
// configured a Slack post (an approval request) queued behind fifty release notes being
// composed, each a GitHub round trip, waited for all of them (measured with the bench's fake
// GitHub at 30 ms a call: no post at all went out in 12 s). Parallel targets at most are
// worked on at once, each one at a time and in order, as in DeliverDue.
func (o *Outbox) Run(ctx context.Context) {
	o.init()
	d := &dispatcher{o: o, busy: map[string]bool{}, slots: make(chan struct{}, o.Parallel)}
	defer d.wg.Wait()
	var lastScan time.Time
	for ctx.Err() == nil {
		if d.free() {
			// Looking for due heads reads every waiting message; while drains end one after
			// another (each wakes this loop) it is done at most every scanEvery: every wake
			// cost 7.5% of the bench's CPU with a busy channel's posts waiting, every 50 ms
			// still 3.3% with release notes composed as fast as they came.
			if wait := scanEvery - time.Since(lastScan); wait > 0 {
				o.Sleep(ctx, wait)
				continue
			}
			lastScan = time.Now()
			if _, err := d.dispatch(ctx); err != nil && ctx.Err() == nil {
				o.Log.Error("outbox", "err", err)
			}
		}
		if d.working() {
			// A drain's end, a new message or a free slot wakes this loop; the second is a
			// safety net for a retry falling due meanwhile on an idle target.
			o.Sleep(ctx, time.Second)
			continue
		}
		wait := time.Minute
		if next, ok, err := o.DB.NextOutboxAttempt(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(o.Now()), 10*time.Millisecond))
		}
		o.Sleep(ctx, wait)
	}
}

// scanEvery paces Run's searches for due messages: a message queued while others are
// being sent waits at most this long for a free slot's next search.
const scanEvery = 200 * time.Millisecond

// dispatcher tracks the targets being drained by Run.
type dispatcher struct {
	o     *Outbox
	mu    sync.Mutex
	busy  map[string]bool
	slots chan struct{}
	wg    sync.WaitGroup
}

func (d *dispatcher) free() bool { return len(d.slots) < cap(d.slots) }

func (d *dispatcher) working() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.busy) > 0
}

// dispatch starts a drain for each due head whose target is not being drained, while slots
// are free, and keeps messages of kinds without a sender as disabled. It returns how many
// drains it started.
func (d *dispatcher) dispatch(ctx context.Context) (int, error) {
	o := d.o
	due, err := o.DB.DueOutbox(ctx, o.Now(), 64)
	if err != nil {
		return 0, err
	}
	var disabled []Stored
	started := 0
	for _, r := range due {
		m := fromRow(r)
		if o.sender(m.Kind) == nil {
			disabled = append(disabled, m)
			continue
		}
		d.mu.Lock()
		busy := d.busy[m.Target]
		d.mu.Unlock()
		if busy {
			continue // its drain goes on down the queue by itself
		}
		select {
		case d.slots <- struct{}{}:
		default:
			return started, o.disable(ctx, disabled) // every slot taken: a drain ending wakes us
		}
		d.mu.Lock()
		d.busy[m.Target] = true
		d.mu.Unlock()
		started++
		d.wg.Add(1)
		go func(m Stored) {
			defer d.wg.Done()
			if _, err := o.drain(ctx, m); err != nil && ctx.Err() == nil {
				o.Log.Error("outbox", "target", m.Target, "err", err)
			}
			d.mu.Lock()
			delete(d.busy, m.Target)
			d.mu.Unlock()
			<-d.slots
			o.WakeLocal()
		}(m)
	}
	return started, o.disable(ctx, disabled)
}
