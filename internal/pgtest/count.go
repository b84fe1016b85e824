package pgtest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Tally is what clients asked the server through a Proxy since Proxy.Count: the round trips
// (each Sync or simple Query message ends one: the client then waits for ReadyForQuery, so
// a pipelined batch is one however many statements it holds) and, per round trip, the
// statements it ran. Only unencrypted connections can be read: use sslmode=disable.
type Tally struct {
	mu    sync.Mutex
	on    bool
	trips [][]string
}

// Count starts counting afresh and returns the tally, which keeps counting until the next
// Count or Stop.
func (p *Proxy) Count() *Tally {
	t := &Tally{on: true}
	p.mu.Lock()
	if p.tally != nil {
		p.tally.Stop()
	}
	p.tally = t
	p.mu.Unlock()
	return t
}

// Stop ends the counting; what was counted stays readable.
func (t *Tally) Stop() {
	t.mu.Lock()
	t.on = false
	t.mu.Unlock()
}

// RoundTrips returns how many round trips the clients made.
func (t *Tally) RoundTrips() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.trips)
}

// Trips returns each round trip's statements, shortened to their first words ("prepare"
// when a round trip only prepared statements).
func (t *Tally) Trips() [][]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([][]string, len(t.trips))
	for i, tr := range t.trips {
		out[i] = append([]string(nil), tr...)
	}
	return out
}

// Summary returns "N× statement" lines, most frequent first.
func (t *Tally) Summary() []string {
	n := map[string]int{}
	for _, tr := range t.Trips() {
		n[strings.Join(tr, " + ")]++
	}
	var out []string
	for k, v := range n {
		out = append(out, fmt.Sprintf("%4d× %s", v, k))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] > out[j] })
	return out
}

func (t *Tally) add(trip []string) {
	t.mu.Lock()
	if t.on {
		t.trips = append(t.trips, trip)
	}
	t.mu.Unlock()
}

// frontend reads one connection's client-to-server stream: the startup packets (no type
// byte), then typed messages: Parse names a statement, Bind runs one, Sync and Query end a
// round trip.
type frontend struct {
	p       *Proxy
	buf     []byte
	started bool
	stmts   map[string]string // prepared statement name → its SQL
	pending []string
	bad     bool // encrypted or unreadable: stop reading
}

func (f *frontend) Write(b []byte) (int, error) {
	if f.bad {
		return len(b), nil
	}
	f.buf = append(f.buf, b...)
	for {
		if !f.started {
			if len(f.buf) < 8 {
				return len(b), nil
			}
			n := int(binary.BigEndian.Uint32(f.buf))
			if n < 8 || len(f.buf) < n {
				return len(b), nil
			}
			code := binary.BigEndian.Uint32(f.buf[4:])
			f.buf = f.buf[n:]
			switch code {
			case 80877103, 80877104: // SSLRequest, GSSENCRequest: the startup packet follows, unless accepted
			default:
				f.started = true
			}
			continue
		}
		if len(f.buf) < 5 {
			return len(b), nil
		}
		n := int(binary.BigEndian.Uint32(f.buf[1:]))
		if n < 4 {
			f.bad = true
			return len(b), nil
		}
		if len(f.buf) < 1+n {
			return len(b), nil
		}
		f.message(f.buf[0], f.buf[5:1+n])
		f.buf = f.buf[1+n:]
	}
}

func (f *frontend) message(typ byte, body []byte) {
	cstr := func(b []byte) (string, []byte) {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return string(b), nil
		}
		return string(b[:i]), b[i+1:]
	}
	switch typ {
	case 'P':
		name, rest := cstr(body)
		q, _ := cstr(rest)
		f.stmts[name] = q
	case 'B':
		_, rest := cstr(body)
		name, _ := cstr(rest)
		f.pending = append(f.pending, short(f.stmts[name]))
	case 'Q':
		q, _ := cstr(body)
		f.end(short(q))
	case 'S':
		f.end("")
	}
}

func (f *frontend) end(q string) {
	trip := f.pending
	if q != "" {
		trip = append(trip, q)
	}
	if len(trip) == 0 {
		trip = []string{"prepare"}
	}
	f.pending = nil
	f.p.mu.Lock()
	t := f.p.tally
	f.p.mu.Unlock()
	if t != nil {
		t.add(trip)
	}
}

// short is a statement's first words, enough to tell which one it is.
func short(q string) string {
	w := strings.Fields(q)
	if len(w) > 8 {
		w = w[:8]
	}
	return strings.Join(w, " ")
}
