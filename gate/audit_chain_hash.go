package gate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/releaseops/releaseops/storage"
)

// canonicalDetail is an audit detail already in canonical form (canonicalJSON's output), so
// that appendAudit, which runs inside the writer's transaction and on PostgreSQL under the
// exclusive writer lock, need not encode it there: the gate encodes its decision's detail
// before it asks for the writer.
type canonicalDetail []byte

// chainHash is contentHash for a row whose detail is canonicalJSON's output, as every row
// chainAudit makes is. contentHash re-encodes the whole entry through a generic value, which
// costs as much as encoding the detail again (0.16 ms a gate decision, measured, inside the
// lock); here the canonical bytes are written directly: the same keys in sorted order, each
// value as canonicalJSON would leave it. Verification keeps contentHash, which takes any
// stored detail; a test checks that the two agree.
func chainHash(r storage.AuditRow) (string, error) {
	b := make([]byte, 0, 160+len(r.Detail))
	var err error
	add := func(key string, s string) {
		if err != nil {
			return
		}
		b = append(b, key...)
		var v []byte
		if v, err = canonicalString(s); err == nil {
			b = append(b, v...)
		}
	}
	add(`{"actor":`, r.Actor)
	add(`,"approval_id":`, r.ApprovalID)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, r.At.UTC().UnixMilli(), 10)
	b = append(b, `,"detail":`...)
	if len(r.Detail) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, r.Detail...)
	}
	add(`,"kind":`, r.Kind)
	add(`,"prev_hash":`, r.PrevHash)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, r.Seq, 10)
	add(`,"service":`, r.Service)
	if err != nil {
		return "", fmt.Errorf("canonical audit entry %d: %w", r.Seq, err)
	}
	b = append(b, '}')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonicalString is s as canonicalJSON writes a string: encoding/json's encoding, which for
// invalid UTF-8 writes \ufffd escapes that canonicalJSON's second pass turns into the
// character itself.
func canonicalString(s string) ([]byte, error) {
	v, err := json.Marshal(s)
	if err != nil || utf8.ValidString(s) {
		return v, err
	}
	var back string
	if err := json.Unmarshal(v, &back); err != nil {
		return nil, err
	}
	return json.Marshal(back)
}
