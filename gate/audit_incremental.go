package gate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// ChainCheck verifies the audit log's hash chain in steps and remembers how far it got, so a
// page showing the chain's status hashes a bounded number of entries per view however long the
// log is. The checks are Verify's, entry for entry.
//
// Each look checks the entries appended since the last one (up to Step), then walks on with a
// re-check of the log from the start (Sweep entries a look), so an edit to an entry checked
// before is found too, within (log length / Sweep) looks. The entry the last look stopped at
// is re-hashed every time, so a rewrite of the log's tail is seen at once. With the defaults a
// look with nothing new hashes 2,000 entries (BenchmarkChainCheckLook: 60–100 ms on a shared,
// busy 2-core machine); a look after a burst of appends hashes up to Step more.
type ChainCheck struct {
	DB *storage.DB
	// Step is the most new entries one look hashes (default 20,000).
	Step int
	// Sweep is how many entries checked before one look re-checks (default 2,000).
	Sweep int
	Now   func() time.Time

	mu sync.Mutex
	// head is the last entry found sound; every entry from 1 to it linked and hashed.
	head link
	// sweep is how far the current re-walk of 1..head has got; sweptAt, when the last one
	// finished.
	sweep   link
	sweptAt time.Time
}

type link struct {
	seq  int64
	hash string
}

// ChainStatus is what a look at the chain found.
type ChainStatus struct {
	// VerifiedUpTo is the last entry found sound: every entry from 1 to it links and hashes.
	VerifiedUpTo int64
	// Last is the newest entry of the log (0: empty).
	Last int64
	// FirstBad and Problem name the first entry that fails, in Verify's words; 0 and "" when
	// none failed.
	FirstBad int64
	Problem  string
	// CheckedAt is when this look was made; SweptAt, when a walk of the whole log checked
	// before last finished (zero: not yet since the process started).
	CheckedAt time.Time
	SweptAt   time.Time
}

// OK reports whether nothing failed. The chain is verified to its end when also
// VerifiedUpTo == Last.
func (s ChainStatus) OK() bool { return s.FirstBad == 0 }

const chainBatch = 2000

// Status checks the new entries and the next stretch of the re-check, and says how far the
// chain is verified.
func (c *ChainCheck) Status(ctx context.Context) (ChainStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	budget, sweep := c.Step, c.Sweep
	if budget <= 0 {
		budget = 20000
	}
	if sweep <= 0 {
		sweep = 2000
	}
	if err := c.recheckHead(ctx); err != nil {
		return ChainStatus{}, err
	}
	var st ChainStatus
	// New entries first: they are what a reader of the page has not seen checked.
	w, err := c.walk(ctx, c.head, budget, 0)
	if err != nil {
		return ChainStatus{}, err
	}
	c.head = w.last
	st.FirstBad, st.Problem = w.bad, w.problem
	// The re-check runs even when a new entry failed: Verify names the first bad entry of the
	// whole log, and an edit to an older one must replace a later failure, not hide behind it.
	if c.head.seq > 0 {
		s, err := c.walk(ctx, c.sweep, sweep, c.head.seq)
		if err != nil {
			return ChainStatus{}, err
		}
		switch {
		case s.bad != 0:
			// An entry checked before fails now: the chain holds only up to the one before it.
			c.head, c.sweep = s.last, link{}
			st.FirstBad, st.Problem = s.bad, s.problem
		case s.last.seq >= c.head.seq:
			c.sweep, c.sweptAt = link{}, now().UTC()
		default:
			c.sweep = s.last
		}
	}
	last, err := c.DB.ListAudit(ctx, "", 0, 1)
	if err != nil {
		return ChainStatus{}, fmt.Errorf("read audit head: %w", err)
	}
	if len(last) > 0 {
		st.Last = last[0].Seq
	}
	st.VerifiedUpTo, st.CheckedAt, st.SweptAt = c.head.seq, now().UTC(), c.sweptAt
	return st, nil
}

// recheckHead re-reads and re-hashes the entry the last look stopped at; if it is gone or
// changed, nothing checked before counts and the walk starts over.
func (c *ChainCheck) recheckHead(ctx context.Context) error {
	if c.head.seq == 0 {
		return nil
	}
	rows, err := c.DB.ListAudit(ctx, "", c.head.seq+1, 1)
	if err != nil {
		return fmt.Errorf("re-read audit entry %d: %w", c.head.seq, err)
	}
	if len(rows) == 1 && rows[0].Seq == c.head.seq && rows[0].Hash == c.head.hash {
		if h, err := contentHash(rows[0]); err == nil && h == rows[0].Hash {
			return nil
		}
	}
	c.head, c.sweep = link{}, link{}
	return nil
}

// walked is how far a walk got: the last sound entry, how many entries it hashed, and the
// first failing one if any.
type walked struct {
	last    link
	checked int
	bad     int64
	problem string
}

// walk checks up to budget entries after from, up to and including entry upTo (0: to the end).
func (c *ChainCheck) walk(ctx context.Context, from link, budget int, upTo int64) (walked, error) {
	w := walked{last: from}
	if w.last.seq == 0 {
		w.last.hash = genesisHash
	}
	for w.checked < budget {
		n := min(chainBatch, budget-w.checked)
		if upTo > 0 {
			n = int(min(int64(n), upTo-w.last.seq))
		}
		if n <= 0 {
			break
		}
		rows, err := c.DB.AuditAfter(ctx, w.last.seq, n)
		if err != nil {
			return w, fmt.Errorf("verify audit chain: %w", err)
		}
		for _, r := range rows {
			w.checked++
			if problem := checkLink(r, w.last.seq, w.last.hash); problem != "" {
				w.bad, w.problem = r.Seq, problem
				return w.done(), nil
			}
			w.last = link{seq: r.Seq, hash: r.Hash}
		}
		if len(rows) < n {
			break
		}
	}
	return w.done(), nil
}

// done forgets the genesis hash of a walk that found nothing sound, so the zero link means
// "from the start" everywhere.
func (w walked) done() walked {
	if w.last.seq == 0 {
		w.last = link{}
	}
	return w
}

// checkLink is Verify's check of one entry against the one before it; "" when it holds.
func checkLink(r storage.AuditRow, prevSeq int64, prevHash string) string {
	if r.Seq != prevSeq+1 {
		return fmt.Sprintf("entry %d follows entry %d: entries between them were deleted", r.Seq, prevSeq)
	}
	if r.PrevHash != prevHash {
		if prevSeq == 0 {
			return fmt.Sprintf("entry %d is first but does not start the chain: earlier entries were deleted or its prev_hash was edited", r.Seq)
		}
		return fmt.Sprintf("entry %d does not carry the hash of entry %d: one of them was edited", r.Seq, prevSeq)
	}
	h, err := contentHash(r)
	if err != nil {
		return fmt.Sprintf("entry %d cannot be read: %v", r.Seq, err)
	}
	if h != r.Hash {
		return fmt.Sprintf("entry %d was edited: its content no longer matches its hash", r.Seq)
	}
	return ""
}

// EntryHash is the hash an audit entry must carry to extend the chain: r with its PrevHash set
// and Hash ignored. Tools that build a log elsewhere (test data, an import) chain entries with
// it exactly as the gate does.
func EntryHash(r storage.AuditRow) (string, error) { return contentHash(r) }
