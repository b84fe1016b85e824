package storage

import "sync"

// Topics that wake workers when something they follow has committed.
const (
	TopicFacts     = "facts"     // new facts: the rescoring worker
	TopicOutbox    = "outbox"    // queued messages: the outbox sender
	TopicApprovals = "approvals" // a new approval: the expiry loop
	TopicSync      = "sync"      // subjects to read now: the sync scheduler
)

// subscribers maps a topic to the functions Announce calls. A function must not block: they
// are workers' non-blocking wakes.
type subscribers struct {
	mu sync.RWMutex
	m  map[string][]func(payload string)
}

// Subscribe calls fn after each commit announced on topic, by this process or, on
// PostgreSQL, by any replica (LISTEN/NOTIFY), and once after a lost listening connection is
// back (an announcement may have been missed meanwhile; payload is then empty).
func (db *DB) Subscribe(topic string, fn func(payload string)) {
	db.subs.mu.Lock()
	defer db.subs.mu.Unlock()
	if db.subs.m == nil {
		db.subs.m = map[string][]func(string){}
	}
	db.subs.m[topic] = append(db.subs.m[topic], fn)
}

// Announce tells topic's subscribers that a commit they follow has happened: here at once,
// and on PostgreSQL on every other replica too. Call it after the commit. Announcements made
// while one is being sent are folded into the next.
func (db *DB) Announce(topic string) {
	db.wakeLocal(topic, "")
	if db.pg != nil {
		db.pg.announce(topic, "")
	}
}

// AnnounceWith is Announce with a payload for the subscribers (at most maxPayload bytes; a
// longer one is cut to an empty one, which subscribers treat as "look at everything").
// Announcements with a payload are each sent, not folded.
func (db *DB) AnnounceWith(topic, payload string) {
	if len(payload) > maxPayload {
		payload = ""
	}
	db.wakeLocal(topic, payload)
	if db.pg != nil {
		db.pg.announce(topic, payload)
	}
}

// maxPayload keeps a notification inside PostgreSQL's 8000-byte limit with room for the
// topic and the holder.
const maxPayload = 7000

func (db *DB) wakeLocal(topic, payload string) {
	db.subs.mu.RLock()
	fns := db.subs.m[topic]
	db.subs.mu.RUnlock()
	for _, fn := range fns {
		fn(payload)
	}
}

func (db *DB) wakeAll() {
	db.subs.mu.RLock()
	var all []func(string)
	for _, fns := range db.subs.m {
		all = append(all, fns...)
	}
	db.subs.mu.RUnlock()
	for _, fn := range all {
		fn("")
	}
}
