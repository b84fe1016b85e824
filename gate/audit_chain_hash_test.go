package gate

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// oddStrings are strings whose JSON encodings differ from their bytes: HTML characters,
// line and paragraph separators, control characters, invalid UTF-8, quotes, non-ASCII.
var oddStrings = []string{"", "plain", "<script>&amp;</script>", "line\u2028para\u2029", "tab\tnl\nnul\x00",
	"bad\xffutf8\xfe\xfd", "\xc3", `quote"back\slash`, "日本語 ünïcode 🚀", strings.Repeat("x", 300)}

func randomValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(9); {
	case depth > 3 || k == 0:
		return oddStrings[r.IntN(len(oddStrings))]
	case k == 1:
		return r.Int64() - r.Int64()
	case k == 2:
		return r.Float64() * 1e12
	case k == 3:
		return r.IntN(2) == 0
	case k == 4:
		return nil
	case k == 5 || k == 6:
		m := map[string]any{}
		for range r.IntN(5) {
			m[oddStrings[r.IntN(len(oddStrings))]+string(rune('a'+r.IntN(26)))] = randomValue(r, depth+1)
		}
		return m
	default:
		a := make([]any, r.IntN(4))
		for i := range a {
			a[i] = randomValue(r, depth+1)
		}
		return a
	}
}

// chainHash, which appends use, must give contentHash's answer (which verification uses) for
// every detail canonicalJSON produces and any text in the other columns.
func TestChainHashIsContentHash(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2026, 12, 2, 10, 0, 0, 123_000_000, time.UTC)
	pick := func() string { return oddStrings[r.IntN(len(oddStrings))] }
	for i := range 2000 {
		row := storage.AuditRow{Seq: r.Int64N(1 << 50), At: at.Add(time.Duration(i) * time.Millisecond), Kind: pick(), Service: pick(),
			Actor: pick(), ApprovalID: pick(), PrevHash: pick()}
		if i%50 != 0 { // now and then no detail at all
			d, err := canonicalJSON(randomValue(r, 0))
			if err != nil {
				t.Fatal(err)
			}
			row.Detail = d
		}
		want, err := contentHash(row)
		if err != nil {
			t.Fatal(err)
		}
		got, err := chainHash(row)
		if err != nil || got != want {
			t.Fatalf("entry %d: chainHash = %s, %v; contentHash = %s\nrow %+v\ndetail %s", i, got, err, want, row, row.Detail)
		}
	}
}

// A detail handed in already canonical is stored as given, and chains as the same detail
// encoded inside appendAudit would.
func TestCanonicalDetailChainsLikeItsValue(t *testing.T) {
	v := map[string]any{"b": []any{1, "<x>"}, "a": map[string]any{"z": nil, "y": 2.5}}
	pre, err := canonicalJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	a, err := chainAudit(4, "prev", at, []audit{{Kind: AuditGateDecision, Service: "svc", Detail: v}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := chainAudit(4, "prev", at, []audit{{Kind: AuditGateDecision, Service: "svc", Detail: canonicalDetail(pre)}})
	if err != nil {
		t.Fatal(err)
	}
	if string(a[0].Detail) != string(b[0].Detail) || a[0].Hash != b[0].Hash {
		t.Fatalf("encoded in the chain: %s %s; handed in: %s %s", a[0].Detail, a[0].Hash, b[0].Detail, b[0].Hash)
	}
}
