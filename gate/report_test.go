package gate_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// The same cause with different numbers counts as one reason; the newest wording is shown;
// services that enforcement would block most come first.
func TestBuildReportGroupsReasons(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	obs := func(key, svc, would string, minutes int, reasons ...gate.Reason) storage.Observation {
		raw, _ := json.Marshal(reasons)
		return storage.Observation{OriginKey: key, At: at.Add(time.Duration(minutes) * time.Minute), Service: svc, Environment: "production",
			ModeFrom: "gate.mode", WouldDecision: would, Band: "blocked", Reasons: raw}
	}
	band := func(score string) gate.Reason {
		return gate.Reason{Kind: "band", Text: "score " + score + " is in the blocked band for production (below 60)"}
	}
	obsDim := func(score string) gate.Reason {
		return gate.Reason{Kind: "dimension", Dimension: "observability", Name: "Observability", Text: "Observability " + score}
	}
	rows := []storage.Observation{
		obs("a", "checkout", gate.NeedsApproval, 0, gate.Reason{Kind: "window", Text: "outside"}, gate.Reason{Kind: "risk_factors", Text: "risk 40"}),
		obs("b", "ledger", gate.Block, 1, band("41.0"), obsDim("0.20"), obsDim("0.20")),
		obs("c", "ledger", gate.Block, 2, band("39.5"), obsDim("0.10")),
		obs("d", "ledger", gate.Allow, 3),
	}
	r, err := gate.BuildReport(rows, 30, at.Add(-30*24*time.Hour), at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Services) != 2 || r.Services[0].Service != "ledger" || r.Services[0].WouldBlock != 2 || r.Services[0].Allowed != 1 || r.Services[0].Requests != 3 {
		t.Fatalf("services %+v", r.Services)
	}
	l := r.Services[0]
	if !l.FirstSeen.Equal(at.Add(time.Minute)) || !l.LastSeen.Equal(at.Add(3*time.Minute)) || len(l.Decisions) != 2 || l.Decisions[0].Decision != gate.Block {
		t.Fatalf("ledger %+v", l)
	}
	top := l.Decisions[0].TopReasons
	if len(top) != 2 || top[0].Reason != "score in the blocked band for production" || top[0].Count != 2 ||
		top[0].Example != "score 39.5 is in the blocked band for production (below 60)" || top[1].Reason != "weak dimension: Observability" || top[1].Count != 2 {
		t.Fatalf("top reasons %+v", top)
	}
	c := r.Services[1].Decisions[0].TopReasons
	if len(c) != 1 || c[0].Reason != "outside the release windows" {
		t.Errorf("risk factors counted as a reason of their own: %+v", c)
	}
	if r.Totals != (gate.ReportCounts{Requests: 4, WouldBlock: 2, WouldNeedApproval: 1, Allowed: 1}) {
		t.Errorf("totals %+v", r.Totals)
	}
}
