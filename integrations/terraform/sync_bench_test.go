package terraform

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// BenchmarkSyncWorkspaces reads 500 workspaces from a fake HCP Terraform answering every call
// in 50 ms, four at a time as sync.concurrency does, through the framework's Runner into a
// real database; then reads them all again unchanged. The workspaces are a third each of the
// recorded kinds: checkout-prod (drifted assessment, three runs), search-prod (clean
// assessment, two runs) and legacy-infra (assessments off, two runs).
//
// "hcp" answers the ping as HCP Terraform does (X-RateLimit-Limit: 30), and go-tfe then paces
// its calls below 20 a second: that, not the latency, bounds a real sync. "unpaced" leaves
// the header out, to show the latency-bound cost.
//
// Run with: go test ./integrations/terraform -run '^$' -bench SyncWorkspaces -benchtime 1x
func BenchmarkSyncWorkspaces(b *testing.B) {
	for _, tc := range []struct {
		name      string
		unlimited bool
	}{{"hcp", false}, {"unpaced", true}} {
		b.Run(tc.name, func(b *testing.B) { benchSync(b, tc.unlimited) })
	}
}

func benchSync(b *testing.B, unlimited bool) {
	const workspaces, latency, concurrency = 500, 50 * time.Millisecond, 4
	kinds := []struct{ name, id string }{{"checkout-prod", checkoutID}, {"search-prod", searchID}, {"legacy-infra", legacyID}}
	for range b.N {
		f := newFakeTFE(b)
		f.delay, f.unlimited = latency, unlimited
		var subjects []syncer.Subject
		for i := range workspaces {
			k := kinds[i%len(kinds)]
			w := f.addRecorded(k.name, k.id)
			name, id := fmt.Sprintf("ws-%03d", i), fmt.Sprintf("ws-Bench%012d", i)
			rename := func(body []byte) []byte {
				body = bytes.ReplaceAll(body, []byte(k.id), []byte(id))
				body = bytes.ReplaceAll(body, []byte("/"+k.name), []byte("/"+name))
				body = bytes.ReplaceAll(body, []byte(`"`+k.name+`"`), []byte(`"`+name+`"`))
				// Run and assessment ids are unique across workspaces, as HCP Terraform's are.
				body = bytes.ReplaceAll(body, []byte("run-"), []byte(fmt.Sprintf("run-%03d", i)))
				return bytes.ReplaceAll(body, []byte("asmtres-"), []byte(fmt.Sprintf("asmtres-%03d", i)))
			}
			f.mu.Lock()
			delete(f.byName, "acme/"+k.name)
			delete(f.byID, k.id)
			f.mu.Unlock()
			nw := &fakeWorkspace{id: id, org: "acme", name: name, workspace: rename(w.workspace), runs: rename(w.runs)}
			if w.assessment != nil {
				nw.assessment = rename(w.assessment)
			}
			f.add(nw)
			subjects = append(subjects, subject("acme/"+name, "svc"))
		}
		h := newHarness(b, f, subjects)
		h.runner.Concurrency = concurrency
		h.runner.Timeout = 2 * time.Minute

		report := func(label string) {
			before := h.factRows(b)
			start := time.Now()
			sum := h.run(b)
			el := time.Since(start)
			if len(sum.Failures) != 0 {
				b.Fatalf("%s: %d failures, the first %+v", label, len(sum.Failures), sum.Failures[0])
			}
			rows := h.factRows(b) - before
			b.ReportMetric(el.Seconds(), label+"-s")
			b.ReportMetric(float64(sum.Requests)/workspaces, label+"-requests/ws")
			b.ReportMetric(float64(rows), label+"-fact-rows")
			b.Logf("%s: %d workspaces in %v, %d requests (%.1f a workspace), %d rate-limit waits, %d observations, %d fact rows written",
				label, workspaces, el.Round(time.Millisecond), sum.Requests, float64(sum.Requests)/workspaces, sum.RateWaits, sum.Observations, rows)
		}
		report("first")
		h.clock.Sleep(b.Context(), 6*time.Hour)
		report("unchanged")
		if rows := h.factRows(b); rows == 0 {
			b.Fatal("the first read stored nothing")
		}
	}
}
