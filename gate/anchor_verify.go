package gate

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// ReadCheckpoints reads checkpoints, one JSON object per line, as the anchor file holds them
// or as copied from the Slack posts (anything before the first "{" of a line, and lines with
// none, such as code fences, are skipped).
func ReadCheckpoints(r io.Reader) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		i := strings.IndexByte(line, '{')
		if i < 0 {
			continue
		}
		var c Checkpoint
		if err := json.Unmarshal([]byte(strings.TrimRight(line[i:], "` \t")), &c); err != nil {
			return nil, fmt.Errorf("line %d: not a checkpoint: %w", n, err)
		}
		if c.Seq <= 0 || c.Head == "" || c.Signature == "" {
			return nil, fmt.Errorf("line %d: a checkpoint needs seq, head and signature", n)
		}
		out = append(out, c)
	}
	return out, sc.Err()
}

// AnchorCheck is the outcome of checking checkpoints against the log.
type AnchorCheck struct {
	Checked int         `json:"checked"`
	Latest  *Checkpoint `json:"latest,omitempty"`
	// Problem says what the first failing checkpoint shows, empty when all hold.
	Problem string `json:"problem,omitempty"`
}

// CheckAnchors checks each checkpoint's signature with pub and that the log still holds the
// entry it names with the hash it signed; v is the log's chain verification (Verify). A
// checkpoint past the log's end means the newest entries were deleted; a different hash at its
// entry means the log was rewritten from there.
func CheckAnchors(ctx context.Context, db *storage.DB, v Verification, cps []Checkpoint, pub ed25519.PublicKey) (AnchorCheck, error) {
	var res AnchorCheck
	if pub == nil {
		return res, errors.New("checking checkpoints needs the public key (--public-key, or audit.signing_key in the config)")
	}
	sort.Slice(cps, func(i, j int) bool { return cps[i].Seq < cps[j].Seq })
	last := v.Entries
	for i := range cps {
		c := cps[i]
		if err := c.Check(pub); err != nil {
			res.Problem = err.Error()
			return res, nil
		}
		if c.Seq > last {
			res.Problem = fmt.Sprintf("the log ends at %s but checkpoint %s was published at %s: the entries after %s were deleted",
				thousands(last), thousands(c.Seq), c.At.Format(time.RFC3339), thousands(last))
			return res, nil
		}
		rows, err := db.ListAudit(ctx, "", c.Seq+1, 1)
		if err != nil {
			return res, err
		}
		if len(rows) == 0 || rows[0].Seq != c.Seq || rows[0].Hash != c.Head {
			res.Problem = fmt.Sprintf("entry %s is not the one checkpoint %s signed at %s: the log was rewritten from there",
				thousands(c.Seq), thousands(c.Seq), c.At.Format(time.RFC3339))
			return res, nil
		}
		res.Checked++
		res.Latest = &cps[i]
	}
	return res, nil
}

// LogCheckpoints returns the checkpoints written into the log itself.
func LogCheckpoints(ctx context.Context, db *storage.DB) ([]Checkpoint, error) {
	var out []Checkpoint
	err := db.EachAudit(ctx, func(r storage.AuditRow) error {
		if r.Kind != AuditAnchor {
			return nil
		}
		var c Checkpoint
		if err := json.Unmarshal(r.Detail, &c); err != nil {
			return fmt.Errorf("audit entry %d: checkpoint unreadable: %w", r.Seq, err)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// thousands writes n with commas: 1,204.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
