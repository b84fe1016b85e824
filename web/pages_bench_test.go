package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/releaseops/releaseops/storage"
)

// scaleRows is the log and approval count the page benchmarks are measured at.
const scaleRows = 10_000

// gateAtScale is the gate fixture with scaleRows more audit entries, and scaleRows more
// approvals (all but 150 decided, each with a vote) spread over the fixture's services.
func gateAtScale(b *testing.B) *gateFixture {
	b.Helper()
	f := newGateFixture(b)
	services := []string{"checkout", "ledger", "search", "payments-api"}
	for batch := 0; batch < scaleRows/1000; batch++ {
		var entries []storage.AuditRow
		var approvals []seedApproval
		for i := 0; i < 1000; i++ {
			n := batch*1000 + i
			svc := services[n%len(services)]
			at := before(time.Duration(scaleRows-n) * time.Minute)
			entries = append(entries, storage.AuditRow{At: at, Kind: "gate.decision", Service: svc, Actor: "token:ci",
				Detail: []byte(`{"decision":"needs_approval","environment":"production","reasons":["score 66.4 is in the watch band"]}`)})
			id := fmt.Sprintf("apr_scale%05d", n)
			a := seedApproval{row: storage.ApprovalRow{ID: id, Service: svc, Environment: "production", Version: "v1", RequestedBy: "token:ci",
				Origin: "api", OriginKey: id, Reasons: reasons("band", "score 66.4 is in the watch band"), CreatedAt: at,
				ExpiresAt: at.Add(time.Hour), Quorum: 1}, votes: map[string]time.Duration{"U0ALICE": time.Duration(scaleRows-n) * time.Minute}}
			if n >= 150 {
				a.decided, a.by, a.at = "approved", "U0ALICE", time.Duration(scaleRows-n)*time.Minute
			} else {
				a.row.ExpiresAt = now.Add(time.Duration(n+1) * time.Minute)
			}
			approvals = append(approvals, a)
		}
		storeGate(b, f.DB, approvals, entries)
	}
	return f
}

func benchPage(b *testing.B, f *gateFixture, path string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	f.Echo.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s = %d\n%s", path, rec.Code, rec.Body.String())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		f.Echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s = %d", path, rec.Code)
		}
	}
	b.ReportMetric(float64(rec.Body.Len()), "bytes/page")
}

// BenchmarkPagesAtScale serves the approvals, audit and team pages over 10,000 audit entries
// and 10,000 approvals in SQLite, through the router. /audit includes the chain's look: with
// nothing appended since the last view, the re-check of 2,000 entries (gate.ChainCheck).
func BenchmarkPagesAtScale(b *testing.B) {
	f := gateAtScale(b)
	for _, path := range []string{"/approvals", "/approvals?before=" + fmt.Sprint(before(5000*time.Minute).UnixMilli()) + ".apr_scale05000",
		"/audit", "/audit?before=5000", "/audit?service=checkout&before=5000", "/teams", "/teams/team-payments"} {
		b.Run(path, func(b *testing.B) { benchPage(b, f, path) })
	}
}
