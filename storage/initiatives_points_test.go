package storage

import (
	"context"
	"testing"
	"time"
)

// A day's point is written once per fingerprint: a second writer leaves the first one's point
// and teams; another fingerprint replaces both; deleting the initiative removes its points.
func TestInitiativeDaysWrittenOncePerFingerprint(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		ctx := context.Background()
		put := func(r InitiativeDayRow) bool {
			t.Helper()
			var ok bool
			write(t, db, func(tx *Tx) error {
				var err error
				ok, err = PutInitiativeDay(tx, r)
				return err
			})
			return ok
		}
		first := InitiativeDayRow{Initiative: "json-logs", Day: "2026-11-19", Fingerprint: "fp1", Source: "recorded", Done: 3, Total: 5, At: t0,
			Teams: []InitiativeTeamCount{{Owner: "team-a", Done: 1, Total: 2}, {Owner: "", Done: 2, Total: 3}}}
		if !put(first) {
			t.Fatal("first point not written")
		}
		again := first
		again.Source, again.Done, again.Teams = "replayed", 0, []InitiativeTeamCount{{Owner: "team-b", Done: 0, Total: 5}}
		if put(again) {
			t.Fatal("a second point of the same fingerprint was written")
		}
		put(InitiativeDayRow{Initiative: "json-logs", Day: "2026-11-18", Fingerprint: "fp1", Source: "replayed", Done: 2, Total: 5, At: t0.Add(-24 * time.Hour)})
		put(InitiativeDayRow{Initiative: "other", Day: "2026-11-19", Fingerprint: "x", Source: "recorded", Done: 1, Total: 1, At: t0})

		days, err := db.InitiativeDays(ctx, "json-logs", "2026-11-18", "2026-11-19")
		if err != nil || len(days) != 2 || days[0].Day != "2026-11-18" || days[1].Source != "recorded" || days[1].Done != 3 || !days[1].At.Equal(t0) {
			t.Fatalf("days = %+v, %v", days, err)
		}
		if days, _ := db.InitiativeDays(ctx, "json-logs", "2026-11-19", "2026-11-30"); len(days) != 1 {
			t.Errorf("range from 2026-11-19: %+v", days)
		}
		teams, err := db.InitiativeDayTeams(ctx, "json-logs", "2026-11-19")
		if err != nil || len(teams) != 2 || teams[0].Owner != "" || teams[1] != (InitiativeTeamCount{Owner: "team-a", Done: 1, Total: 2}) {
			t.Fatalf("teams = %+v, %v", teams, err)
		}
		fps, err := db.InitiativeFingerprintsOn(ctx, "2026-11-19")
		if err != nil || len(fps) != 2 || fps["json-logs"] != "fp1" || fps["other"] != "x" {
			t.Fatalf("fingerprints = %v, %v", fps, err)
		}

		edited := again
		edited.Fingerprint = "fp2"
		if !put(edited) {
			t.Fatal("a point of another fingerprint was not replaced")
		}
		days, _ = db.InitiativeDays(ctx, "json-logs", "2026-11-19", "2026-11-19")
		teams, _ = db.InitiativeDayTeams(ctx, "json-logs", "2026-11-19")
		if len(days) != 1 || days[0].Fingerprint != "fp2" || days[0].Source != "replayed" || days[0].Done != 0 || len(teams) != 1 || teams[0].Owner != "team-b" {
			t.Fatalf("after the edit: %+v teams %+v", days, teams)
		}

		write(t, db, func(tx *Tx) error { return DeleteInitiativeDays(tx, "json-logs") })
		if days, _ := db.InitiativeDays(ctx, "json-logs", "2026-01-01", "2027-01-01"); len(days) != 0 {
			t.Errorf("points after delete: %+v", days)
		}
		if teams, _ := db.InitiativeDayTeams(ctx, "json-logs", "2026-11-19"); len(teams) != 0 {
			t.Errorf("teams after delete: %+v", teams)
		}
		if days, _ := db.InitiativeDays(ctx, "other", "2026-11-19", "2026-11-19"); len(days) != 1 {
			t.Errorf("another initiative's points went too: %+v", days)
		}
	})
}

func TestScoreStamps(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(DefaultOptions())
		for i, s := range []string{"checkout", "ledger", "checkout"} {
			write(t, db, func(tx *Tx) error {
				return PutScore(tx, ScoreRow{Service: s, Score: 50, Band: "watch", Level: "bronze", Card: []byte(`{}`), UpdatedAt: t0.Add(time.Duration(i) * time.Second)}, false)
			})
		}
		got, err := db.ScoreStamps(context.Background(), 0)
		if err != nil || len(got) != 2 || got["checkout"] != t0.Add(2*time.Second).UnixMilli() || got["ledger"] != t0.Add(time.Second).UnixMilli() {
			t.Fatalf("stamps = %v, %v", got, err)
		}
		if got, err := db.ScoreStamps(context.Background(), t0.Add(2*time.Second).UnixMilli()); err != nil || len(got) != 1 || got["checkout"] == 0 {
			t.Fatalf("stamps since the last write = %v, %v", got, err)
		}
	})
}
