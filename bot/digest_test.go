package bot

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/releaseops/releaseops/digest"
)

func digestSlot(t *testing.T) digest.Slot {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	return digest.Schedule{Day: time.Monday, Hour: 9, Loc: loc}.Latest(time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC))
}

func pt(score float64, band string) *digest.Point { return &digest.Point{Score: score, Band: band} }

// testTeamDigest has every section, and the hostile strings a catalog or a request could
// carry in service names, initiative names and reasons.
func testTeamDigest(t *testing.T) digest.Team {
	slot := digestSlot(t)
	d, ok := digest.ComposeTeam(digest.TeamInput{Owner: "team-payments <!channel>", Channel: "C0PAY", Slot: slot,
		Services: []digest.ServiceWeek{
			{Service: "checkout", Before: pt(82, "healthy"), After: pt(64.5, "watch")},
			{Service: "payouts", Before: pt(50, "blocked"), After: pt(61, "watch")},
			{Service: "refunds", After: pt(70, "watch")},
			{Service: "ledger", Before: pt(80, "healthy"), After: pt(80, "healthy")},
			{Service: "fraud<@U0MALLORY>"},
		},
		Regressions: []digest.Regression{{Service: "checkout", At: slot.At.Add(-70 * time.Hour), From: 82, To: 64.5, FromBand: "healthy", ToBand: "watch"}},
		Deadlines: []digest.Deadline{{Initiative: "Runbooks for tier 1 <!here>", ID: "runbooks", Deadline: time.Date(2026, 12, 11, 0, 0, 0, 0, time.UTC),
			Day: "2026-12-10", Remaining: []string{"payouts", "checkout"}}},
		Exemptions: []digest.Exemption{{Service: "checkout", Signal: "rollback_recent", Expires: slot.At.Add(5*24*time.Hour + 3*time.Hour),
			Reason: "migration <https://evil.example|see ticket> & freeze"}},
	})
	if !ok {
		t.Fatal("no team digest")
	}
	return d
}

func testOrgDigest(t *testing.T, initiatives bool) digest.Org {
	slot := digestSlot(t)
	in := digest.OrgInput{Channel: "C0ORG", Slot: slot, Services: []digest.ServiceWeek{
		{Service: "checkout", Before: pt(82, "healthy"), After: pt(64.5, "watch")},
		{Service: "payouts", Before: pt(50, "blocked"), After: pt(61, "watch")},
		{Service: "search", Before: pt(88, "mature"), After: pt(91.2, "mature")},
		{Service: "ledger", Before: pt(80, "healthy"), After: pt(80, "healthy")},
		{Service: "refunds", After: pt(70, "watch")},
		{Service: "fraud"},
	}}
	if initiatives {
		in.Initiatives = []digest.Progress{
			{Initiative: "Runbooks for tier 1 <!here>", ID: "runbooks", Deadline: slot.At.Add(10 * 24 * time.Hour), Done: 12, Total: 20, DoneWeekAgo: 9},
			{Initiative: "SLOs everywhere", ID: "slos", Deadline: slot.At.Add(40 * 24 * time.Hour), Done: 3, Total: 40, DoneWeekAgo: 3},
		}
	}
	d, ok := digest.ComposeOrg(in)
	if !ok {
		t.Fatal("no org digest")
	}
	return d
}

func TestDigestGoldenMessages(t *testing.T) {
	team := testTeamDigest(t)
	// A week where nothing moved, in an installation with initiatives but none due.
	quiet, _ := digest.ComposeTeam(digest.TeamInput{Owner: "team-ledger", Channel: "C0LEDGER", Slot: digestSlot(t),
		Services: []digest.ServiceWeek{{Service: "ledger", Before: pt(80, "healthy"), After: pt(80, "healthy")}}, Deadlines: []digest.Deadline{}})
	messages := map[string]Message{
		"digest_team":               TeamDigestMessage(team, testPublicURL),
		"digest_team_quiet":         TeamDigestMessage(quiet, testPublicURL),
		"digest_org":                OrgDigestMessage(testOrgDigest(t, true), testPublicURL),
		"digest_org_no_initiatives": OrgDigestMessage(testOrgDigest(t, false), testPublicURL),
	}
	for name, m := range messages {
		t.Run(name, func(t *testing.T) {
			if err := m.Validate(); err != nil {
				t.Fatalf("over Slack's limits: %v", err)
			}
			got, err := json.MarshalIndent(m, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			assertNoInjection(t, got)
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot -run TestDigestGoldenMessages -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file; if the change is intended, run go test ./bot -run TestDigestGoldenMessages -update and review the diff\n%s", name, got)
			}
		})
	}
}

// A team with more services than a digest lists still gets a digest within Slack's limits.
func TestDigestOfALargeTeamFits(t *testing.T) {
	slot := digestSlot(t)
	in := digest.TeamInput{Owner: "team-big", Channel: "C0BIG", Slot: slot}
	for i := range 400 {
		name := "service-with-a-long-name-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		in.Services = append(in.Services, digest.ServiceWeek{Service: name, Before: pt(50, "blocked"), After: pt(50+float64(i%7), "watch")})
		in.Regressions = append(in.Regressions, digest.Regression{Service: name, At: slot.At.Add(-time.Hour), From: 60, To: 50})
		in.Exemptions = append(in.Exemptions, digest.Exemption{Service: name, Signal: "s", Expires: slot.At.Add(time.Hour)})
	}
	in.Deadlines = []digest.Deadline{{Initiative: "x", Deadline: slot.At.Add(time.Hour), Remaining: []string{"a", "b"}}}
	d, _ := digest.ComposeTeam(in)
	if err := TeamDigestMessage(d, testPublicURL).Validate(); err != nil {
		t.Fatal(err)
	}
}
