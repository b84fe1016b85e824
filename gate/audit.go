package gate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// Audit entry kinds.
const (
	AuditGateDecision = "gate.decision"    // a gate request and its decision
	AuditRefused      = "gate.refused"     // a gate request refused as malformed, invalid or for an unknown service
	AuditBreakGlass   = "gate.break_glass" // a deploy allowed below threshold
	AuditClick        = "approval.click"   // an Approve or Deny click, accepted or refused
	AuditExpired      = "approval.expired" // no decision before the timeout
	AuditReviewQueued = "github.review"    // the answer queued for a GitHub protection rule
	genesisHash       = "0000000000000000000000000000000000000000000000000000000000000000"
	auditListMax      = 1000
	auditListDefault  = 100
)

// AuditEntry is one entry of the audit log as the API shows it.
type AuditEntry struct {
	Seq        int64           `json:"seq"`
	At         time.Time       `json:"at"`
	Kind       string          `json:"kind"`
	Service    string          `json:"service,omitempty"`
	Actor      string          `json:"actor,omitempty"`
	ApprovalID string          `json:"approval_id,omitempty"`
	Detail     json.RawMessage `json:"detail"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

func entryOf(r storage.AuditRow) AuditEntry {
	return AuditEntry{Seq: r.Seq, At: r.At, Kind: r.Kind, Service: r.Service, Actor: r.Actor, ApprovalID: r.ApprovalID,
		Detail: json.RawMessage(r.Detail), PrevHash: r.PrevHash, Hash: r.Hash}
}

// canonicalJSON re-encodes v with sorted object keys and numbers kept verbatim, so the same
// content always hashes the same however it was produced.
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic) // maps marshal with sorted keys
}

// contentHash is the SHA-256 of an entry's canonical content: every column but the hash
// itself, the previous entry's hash included, so the entries form a chain.
func contentHash(r storage.AuditRow) (string, error) {
	var detail any = json.RawMessage(r.Detail)
	if len(r.Detail) == 0 {
		detail = nil
	}
	b, err := canonicalJSON(map[string]any{
		"seq": r.Seq, "at": r.At.UTC().UnixMilli(), "kind": r.Kind, "service": r.Service, "actor": r.Actor,
		"approval_id": r.ApprovalID, "detail": detail, "prev_hash": r.PrevHash,
	})
	if err != nil {
		return "", fmt.Errorf("canonical audit entry %d: %w", r.Seq, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// audit is an entry to append.
type audit struct {
	Kind       string
	Service    string
	Actor      string
	ApprovalID string
	Detail     any
}

// appendAudit appends entries inside the caller's transaction, chaining each to the newest
// entry, in one statement. All writes go through the one writer (on PostgreSQL under the
// exclusive writer lock), so the head cannot change under it. The head this process's last
// append left is tried first, checked by the append itself: when it still is the head (one
// replica, or the last to append), reading it first would be one more round trip.
func appendAudit(t *storage.Tx, at time.Time, entries ...audit) error {
	// Encoded once, whichever head the entries end up chained to.
	es := make([]audit, len(entries))
	for i, e := range entries {
		d, err := canonicalOf(e)
		if err != nil {
			return err
		}
		e.Detail = canonicalDetail(d)
		es[i] = e
	}
	entries = es
	if seq, prev, ok := storage.AuditHeadHint(t); ok {
		rows, err := chainAudit(seq, prev, at, entries)
		if err != nil {
			return err
		}
		if done, err := storage.InsertAuditsAfter(t, seq, prev, rows...); err != nil || done {
			return err
		}
	}
	seq, prev, err := storage.LastAudit(t)
	if err != nil {
		return err
	}
	rows, err := chainAudit(seq, prev, at, entries)
	if err != nil {
		return err
	}
	return storage.InsertAudits(t, rows...)
}

// canonicalOf is e's detail in canonical form: as given when it is a canonicalDetail.
func canonicalOf(e audit) ([]byte, error) {
	if c, ok := e.Detail.(canonicalDetail); ok {
		return c, nil
	}
	detail, err := canonicalJSON(e.Detail)
	if err != nil {
		return nil, fmt.Errorf("encode audit detail (%s): %w", e.Kind, err)
	}
	return detail, nil
}

// chainAudit makes the rows of entries following the entry (seq, prev); "" is the empty log.
func chainAudit(seq int64, prev string, at time.Time, entries []audit) ([]storage.AuditRow, error) {
	if prev == "" {
		prev = genesisHash
	}
	rows := make([]storage.AuditRow, 0, len(entries))
	for _, e := range entries {
		detail, err := canonicalOf(e)
		if err != nil {
			return nil, err
		}
		seq++
		r := storage.AuditRow{Seq: seq, At: at.UTC().Truncate(time.Millisecond), Kind: e.Kind, Service: e.Service, Actor: e.Actor,
			ApprovalID: e.ApprovalID, Detail: detail, PrevHash: prev}
		if r.Hash, err = chainHash(r); err != nil {
			return nil, err
		}
		rows = append(rows, r)
		prev = r.Hash
	}
	return rows, nil
}

// Verification is the result of checking the audit log's hash chain.
type Verification struct {
	OK      bool   `json:"ok"`
	Entries int64  `json:"entries"` // entries checked (up to and including the first bad one)
	Head    string `json:"head,omitempty"`
	// FirstBad is the sequence number of the first entry that fails, with why.
	FirstBad int64  `json:"first_bad,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

var errStop = errors.New("stop")

// Verify walks the whole audit log in order and checks that each entry's hash matches its
// content and that it names the previous entry's hash. Recording Head elsewhere (a ticket, a
// chat message) lets a later check prove that the log was not rewritten wholesale either.
func Verify(ctx context.Context, db *storage.DB) (Verification, error) {
	v := Verification{OK: true}
	prevHash, prevSeq := genesisHash, int64(0)
	// checkLink is the check ChainCheck makes too, so /audit and this name the same entry in
	// the same words.
	err := db.EachAudit(ctx, func(r storage.AuditRow) error {
		v.Entries++
		if problem := checkLink(r, prevSeq, prevHash); problem != "" {
			v.OK, v.FirstBad, v.Problem = false, r.Seq, problem
			return errStop
		}
		prevHash, prevSeq = r.Hash, r.Seq
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return v, fmt.Errorf("verify audit log: %w", err)
	}
	if v.OK && v.Entries > 0 {
		v.Head = prevHash
	}
	return v, nil
}
