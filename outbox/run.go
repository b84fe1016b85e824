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
	for ctx.Err() == nil {
		started, err := d.dispatch(ctx)
		if err != nil && ctx.Err() == nil {
			o.Log.Error("outbox", "err", err)
		}
		if started > 0 {
			continue
		}
		// Nothing more to start: sleep until the earliest head is due, a drain ends (it
		// wakes this loop, its target may have more) or something is queued.
		wait := time.Minute
		if next, ok, err := o.DB.NextOutboxAttempt(ctx); err == nil && ok {
			wait = min(wait, max(next.Sub(o.Now()), 10*time.Millisecond))
			if !next.After(o.Now()) && d.working() {
				// Due now, yet not started: its target is being drained or every slot is
				// taken, and the drain's end wakes this loop. Polling for it every 10 ms
				// would only query; a second is the safety net.
				wait = time.Second
			}
		}
		o.Sleep(ctx, wait)
	}
}

// dispatcher tracks the targets being drained by Run.
type dispatcher struct {
	o     *Outbox
	mu    sync.Mutex
	busy  map[string]bool
	slots chan struct{}
	wg    sync.WaitGroup
}

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
