package digest

import (
	"testing"
	"time"
)

var week = Schedule{Day: time.Monday, Hour: 9, Loc: time.UTC}.Latest(time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC))

func pt(score float64, band string) *Point { return &Point{Score: score, Band: band} }

func TestNoTeamDigestWithoutServices(t *testing.T) {
	if _, ok := ComposeTeam(TeamInput{Owner: "team-empty", Channel: "C1", Slot: week}); ok {
		t.Error("a team with no services got a digest")
	}
	if _, ok := ComposeOrg(OrgInput{Channel: "C1", Slot: week}); ok {
		t.Error("an organisation with no services got a digest")
	}
}

func TestTeamDigestSortsAndFilters(t *testing.T) {
	in := TeamInput{Owner: "team-payments", Channel: "C0PAY", Slot: week,
		Services: []ServiceWeek{
			{Service: "ledger", Before: pt(80, "healthy"), After: pt(80.02, "healthy")}, // rounds to no move
			{Service: "checkout", Before: pt(82, "healthy"), After: pt(64.5, "watch")},
			{Service: "refunds", After: pt(70, "watch")}, // first scored this week
			{Service: "payouts", Before: pt(50, "blocked"), After: pt(61, "watch")},
			{Service: "fraud"}, // never scored
		},
		Regressions: []Regression{
			{Service: "checkout", At: week.At.Add(-time.Hour), From: 82, To: 64.5, FromBand: "healthy", ToBand: "watch"},
			{Service: "checkout", At: week.From.Add(-time.Minute), From: 90, To: 82}, // the week before
			{Service: "checkout", At: week.At, From: 64.5, To: 50},                   // after the slot: next week's
		},
		Deadlines: []Deadline{
			{Initiative: "Runbooks", ID: "runbooks", Deadline: week.At.Add(10 * 24 * time.Hour), Remaining: []string{"payouts", "checkout"}},
			{Initiative: "SLOs", ID: "slos", Deadline: week.At.Add(3 * 24 * time.Hour), Remaining: []string{"ledger"}},
			{Initiative: "Done already", ID: "done", Deadline: week.At.Add(24 * time.Hour)},
			{Initiative: "Far away", ID: "far", Deadline: week.At.Add(60 * 24 * time.Hour), Remaining: []string{"ledger"}},
			{Initiative: "Missed", ID: "missed", Deadline: week.At.Add(-24 * time.Hour), Remaining: []string{"ledger"}},
		},
		Exemptions: []Exemption{
			{Service: "checkout", Signal: "rollback_tested", Expires: week.At.Add(5 * 24 * time.Hour)},
			{Service: "ledger", Signal: "slo_defined", Expires: week.At.Add(30 * 24 * time.Hour)},
		},
	}
	d, ok := ComposeTeam(in)
	if !ok {
		t.Fatal("no digest")
	}
	var moved []string
	for _, c := range d.Moved {
		moved = append(moved, c.Service)
	}
	if got := join(moved); got != "checkout,refunds,payouts" {
		t.Errorf("moved = %s, want the biggest fall first, the new one (no delta) next, the rise last", got)
	}
	if len(d.Steady) != 1 || d.Steady[0].Service != "ledger" || len(d.Unscored) != 1 || d.Unscored[0] != "fraud" {
		t.Errorf("steady %+v unscored %v", d.Steady, d.Unscored)
	}
	if !d.Moved[0].BandChanged() || d.Moved[0].Delta != -17.5 {
		t.Errorf("checkout change = %+v", d.Moved[0])
	}
	if len(d.Regressions) != 1 || d.Regressions[0].To != 64.5 {
		t.Errorf("regressions = %+v, want only the week's one", d.Regressions)
	}
	if len(d.Deadlines) != 2 || d.Deadlines[0].ID != "slos" || join(d.Deadlines[1].Remaining) != "checkout,payouts" {
		t.Errorf("deadlines = %+v", d.Deadlines)
	}
	if len(d.Exemptions) != 1 || d.Exemptions[0].Signal != "rollback_tested" {
		t.Errorf("exemptions = %+v", d.Exemptions)
	}
	if d.MeanBefore == nil || *d.MeanBefore != 70.7 || d.MeanAfter == nil || *d.MeanAfter != 68.9 {
		t.Errorf("means = %v %v", deref(d.MeanBefore), deref(d.MeanAfter))
	}
	in.Deadlines, in.Exemptions = nil, nil
	if d, _ := ComposeTeam(in); d.Deadlines != nil || d.Exemptions != nil {
		t.Error("sections of features that are not there must stay absent (nil), not empty")
	}
}

func TestOrgDigestBandsAndMovers(t *testing.T) {
	var ws []ServiceWeek
	for i := range 8 {
		ws = append(ws, ServiceWeek{Service: string(rune('a' + i)), Before: pt(60, "watch"), After: pt(60+float64(i-3)*5, "watch")})
	}
	ws = append(ws, ServiceWeek{Service: "new", After: pt(90, "mature")}, ServiceWeek{Service: "gone", Before: pt(10, "blocked")})
	d, ok := ComposeOrg(OrgInput{Channel: "C0ORG", Slot: week, Services: ws})
	if !ok {
		t.Fatal("no digest")
	}
	if len(d.Up) != 4 || d.Up[0].Service != "h" || len(d.Down) != 3 || d.Down[0].Service != "a" {
		t.Errorf("up %+v down %+v", d.Up, d.Down)
	}
	want := []BandCount{{"blocked", 1, 0}, {"watch", 8, 8}, {"healthy", 0, 0}, {"mature", 0, 1}}
	for i, w := range want {
		if d.Bands[i] != w {
			t.Errorf("band %d = %+v, want %+v", i, d.Bands[i], w)
		}
	}
	if d.Services != 10 || d.Unscored != 1 || d.Initiatives != nil {
		t.Errorf("services %d unscored %d initiatives %v", d.Services, d.Unscored, d.Initiatives)
	}
}

func join(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
