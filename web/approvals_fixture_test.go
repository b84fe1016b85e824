package web

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// chainAdapter is what the app wires: gate.ChainCheck behind the pages' AuditChain.
type chainAdapter struct{ c *gate.ChainCheck }

func (a chainAdapter) ChainStatus(ctx context.Context) (ChainStatus, error) {
	st, err := a.c.Status(ctx)
	return ChainStatus{VerifiedUpTo: st.VerifiedUpTo, Last: st.Last, FirstBad: st.FirstBad, Problem: st.Problem,
		CheckedAt: st.CheckedAt, SweptAt: st.SweptAt}, err
}

// fakeTeamInitiatives stands in for the initiatives package on the team page.
type fakeTeamInitiatives map[string][]TeamInitiative

func (f fakeTeamInitiatives) ForOwner(_ context.Context, owner string) ([]TeamInitiative, error) {
	return f[owner], nil
}

// gateFixture is the fixture with the gate's records: approvals pending and decided, with
// votes, and an audit log chained the way the gate chains it.
type gateFixture struct {
	*fixture
	Chain *gate.ChainCheck
}

type seedApproval struct {
	row     storage.ApprovalRow
	votes   map[string]time.Duration // approver → before now
	decided string                   // state, "" while pending
	by      string
	at      time.Duration // before now
}

func reasons(texts ...string) []byte {
	var out []map[string]string
	for i := 0; i+1 < len(texts); i += 2 {
		out = append(out, map[string]string{"kind": texts[i], "text": texts[i+1]})
	}
	b, _ := json.Marshal(out)
	return b
}

func gateApprovals() []seedApproval {
	score := func(f float64) *float64 { return &f }
	return []seedApproval{
		{row: storage.ApprovalRow{ID: "apr_checkout1", Service: "checkout", Environment: "production", Version: "v2.14.0", CommitSHA: "c0ffee1",
			RequestedBy: "deploy-bot", Origin: "api", OriginKey: "gr_1", Channel: "C0STAKE", Score: score(66.4), Band: "watch",
			Reasons:   reasons("band", "score 66.4 is in the watch band (60–80): an approver must agree", "dimension", "Branch governance is 0.50, below 0.60"),
			CreatedAt: before(40 * time.Minute), ExpiresAt: now.Add(20 * time.Minute), Quorum: 2},
			votes: map[string]time.Duration{"U0ALICE": 25 * time.Minute}},
		{row: storage.ApprovalRow{ID: "apr_ledger1", Service: "ledger", Environment: "production", Version: "v9.1.3",
			RequestedBy: "carol", Origin: "github", OriginKey: "gh_1", Channel: "C0FIN", Score: score(72.0), Band: "watch",
			Reasons:   reasons("band", "score 72.0 is in the watch band (60–80): an approver must agree"),
			CreatedAt: before(10 * time.Minute), ExpiresAt: now.Add(50 * time.Minute), Quorum: 1}},
		{row: storage.ApprovalRow{ID: "apr_pay1", Service: "payments-api", Environment: "production", Version: "v5.0.0",
			RequestedBy: "dave", Origin: "api", OriginKey: "gr_2", Score: score(78.2), Band: "watch",
			Reasons:   reasons("band", "score 78.2 is in the watch band (60–80): an approver must agree"),
			CreatedAt: before(26 * time.Hour), ExpiresAt: before(25 * time.Hour), Quorum: 2},
			votes:   map[string]time.Duration{"U0ALICE": 25*time.Hour + 40*time.Minute, "U0BOB": 25*time.Hour + 30*time.Minute},
			decided: "approved", by: "U0BOB", at: 25*time.Hour + 30*time.Minute},
		{row: storage.ApprovalRow{ID: "apr_checkout0", Service: "checkout", Environment: "production", Version: "v2.13.9",
			RequestedBy: "erin", Origin: "api", OriginKey: "gr_3", Score: score(64.0), Band: "watch",
			Reasons:   reasons("band", "score 64.0 is in the watch band (60–80): an approver must agree", "stale", "no event for 3 days"),
			CreatedAt: before(3 * day), ExpiresAt: before(3*day - time.Hour), Quorum: 1},
			decided: "denied", by: "U0ALICE", at: 3*day - 20*time.Minute},
		{row: storage.ApprovalRow{ID: "apr_search1", Service: "search", Environment: "staging", Version: "v0.9.0",
			RequestedBy: "token:ci", Origin: "api", OriginKey: "gr_4", Band: "blocked",
			Reasons:   reasons("unknown", "search has no score yet"),
			CreatedAt: before(5 * day), ExpiresAt: before(5*day - time.Hour), Quorum: 1},
			decided: "expired", at: 5*day - time.Hour},
	}
}

// gateAudit is the log the approvals above leave, oldest first.
func gateAudit() []storage.AuditRow {
	return []storage.AuditRow{
		{At: before(5 * day), Kind: "gate.decision", Service: "search", Actor: "token:ci", ApprovalID: "apr_search1", Detail: []byte(`{"decision":"needs_approval","environment":"staging"}`)},
		{At: before(5*day - time.Hour), Kind: "approval.expired", Service: "search", ApprovalID: "apr_search1", Detail: []byte(`{"state":"expired"}`)},
		{At: before(3 * day), Kind: "gate.decision", Service: "checkout", Actor: "token:deploy", ApprovalID: "apr_checkout0", Detail: []byte(`{"decision":"needs_approval","environment":"production"}`)},
		{At: before(3*day - 20*time.Minute), Kind: "approval.click", Service: "checkout", Actor: "U0ALICE", ApprovalID: "apr_checkout0", Detail: []byte(`{"accepted":true,"approve":false}`)},
		{At: before(2 * day), Kind: "gate.break_glass", Service: "ledger", Actor: "carol", Detail: []byte(`{"reason":"hotfix for the FX rounding incident INC-2231","environment":"production"}`)},
		{At: before(26 * time.Hour), Kind: "gate.decision", Service: "payments-api", Actor: "token:deploy", ApprovalID: "apr_pay1", Detail: []byte(`{"decision":"needs_approval","environment":"production"}`)},
		{At: before(25*time.Hour + 40*time.Minute), Kind: "approval.click", Service: "payments-api", Actor: "U0ALICE", ApprovalID: "apr_pay1", Detail: []byte(`{"accepted":true,"approve":true,"quorum":2,"votes":1}`)},
		{At: before(25*time.Hour + 30*time.Minute), Kind: "approval.click", Service: "payments-api", Actor: "U0BOB", ApprovalID: "apr_pay1", Detail: []byte(`{"accepted":true,"approve":true,"quorum":2,"votes":2}`)},
		{At: before(40 * time.Minute), Kind: "gate.decision", Service: "checkout", Actor: "token:deploy", ApprovalID: "apr_checkout1", Detail: []byte(`{"decision":"needs_approval","environment":"production"}`)},
		{At: before(25 * time.Minute), Kind: "approval.click", Service: "checkout", Actor: "U0ALICE", ApprovalID: "apr_checkout1", Detail: []byte(`{"accepted":true,"approve":true,"quorum":2,"votes":1}`)},
		{At: before(10 * time.Minute), Kind: "gate.decision", Service: "ledger", Actor: "github", ApprovalID: "apr_ledger1", Detail: []byte(`{"decision":"needs_approval","environment":"production"}`)},
	}
}

// storeGate writes approvals, votes and audit entries in one transaction, chaining the
// entries after whatever the log holds with the gate's own hash.
func storeGate(t testing.TB, db *storage.DB, approvals []seedApproval, entries []storage.AuditRow) {
	t.Helper()
	err := db.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		for _, a := range approvals {
			if _, err := storage.InsertApproval(tx, a.row); err != nil {
				return err
			}
			for who, ago := range a.votes {
				if _, err := storage.AddVote(tx, a.row.ID, who, before(ago)); err != nil {
					return err
				}
			}
			if a.decided != "" {
				if _, err := storage.DecideApproval(tx, a.row.ID, a.decided, a.by, before(a.at)); err != nil {
					return err
				}
			}
		}
		seq, prev, err := storage.LastAudit(tx)
		if err != nil {
			return err
		}
		if prev == "" {
			prev = "0000000000000000000000000000000000000000000000000000000000000000"
		}
		for _, e := range entries {
			seq++
			e.Seq, e.PrevHash = seq, prev
			if e.Hash, err = gate.EntryHash(e); err != nil {
				return err
			}
			if err := storage.InsertAudit(tx, e); err != nil {
				return err
			}
			prev = e.Hash
		}
		return nil
	})
	if err != nil {
		t.Fatalf("store gate records: %v", err)
	}
}

func newGateFixture(t testing.TB) *gateFixture {
	t.Helper()
	f := newFixture(t)
	f.Catalog.AddDiscovered("billing", releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/billing"})
	storeGate(t, f.DB, gateApprovals(), gateAudit())
	g := &gateFixture{fixture: f, Chain: &gate.ChainCheck{DB: f.DB, Now: func() time.Time { return now }}}
	g.register(newGateFixtureInitiatives())
	return g
}

// newGateFixtureInitiatives are the initiatives team-payments is in: one under way, one
// overdue but done, one due within the week.
func newGateFixtureInitiatives() fakeTeamInitiatives {
	return fakeTeamInitiatives{"team-payments": {
		{ID: "codeowners-2027", Name: "CODEOWNERS everywhere", Deadline: "2026-12-02", DaysLeft: 12, Done: 1, Total: 2},
		{ID: "pagerduty-escalation", Name: "Two-level escalation", Deadline: "2026-11-17", Overdue: true, Done: 2, Total: 2},
		{ID: "rollback-drills", Name: "Rollback drills", Deadline: "2026-11-25", DaysLeft: 5, Done: 0, Total: 2},
	}}
}

// allDeps are the fixture's pages with every optional source wired, as the app wires them:
// each page the product has is mounted.
func (g *gateFixture) allDeps(t *testing.T) Deps {
	d := g.deps()
	d.Gate, d.Chain, d.TeamInitiatives = g.DB, chainAdapter{g.Chain}, newGateFixtureInitiatives()
	d.Initiatives = &fakeInitiatives{initiativeReports(t, "Structured logs everywhere", "team-discovery", "search",
		"structured logging not declared; emit JSON logs and set structured_logging: true")}
	d.GateReport = fakeReporter{sampleReport()}
	d.Exemptions = exemptionRows("checkout", "")
	return d
}

func (g *gateFixture) register(initiatives TeamInitiatives) {
	d := g.deps()
	d.Gate, d.Chain, d.TeamInitiatives = g.DB, chainAdapter{g.Chain}, initiatives
	g.Echo = echo.New()
	Register(g.Echo, d)
}
