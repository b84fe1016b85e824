package storage

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/pgtest"
)

// seedGateService stores checkout's deploys (some failed), incidents (one open, one
// resolved), an on-call rota older than any window, an old pull request, score history
// before and inside the windows, a sync, release members and a GitHub delivery; billing's
// deploys beside it. Half is indexed, half left in the tail. It returns the GitHub
// delivery's row id, the one a protection rule request would exclude.
func seedGateService(t *testing.T, db *DB, now time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: "checkout"}
	fact := func(kind releaseops.FactKind, at time.Time) releaseops.Fact {
		return releaseops.Fact{Kind: kind, Service: "checkout", Subject: subj, At: at}
	}
	var ds []*NewDelivery
	for i := range 8 {
		at := now.Add(-time.Duration(40-5*i) * 24 * time.Hour).Add(time.Duration(i) * 1500 * time.Microsecond) // sub-millisecond times
		d := deployAt(fmt.Sprintf("deploy-%d", i), "checkout", at)
		d.Facts[0].Deploy.CommitSHA = fmt.Sprintf("sha%d", i)
		if i%3 == 2 {
			d.Facts[0].Deploy.Status = "failed"
		}
		ds = append(ds, d, deployAt(fmt.Sprintf("billing-%d", i), "billing", at))
	}
	other := func(id string, f releaseops.Fact) *NewDelivery {
		d := delivery(id)
		d.Source, d.ReceivedAt, d.Facts = releaseops.SourcePagerDuty, f.At, []releaseops.Fact{f}
		return d
	}
	inc := fact(releaseops.FactIncident, now.Add(-3*24*time.Hour))
	inc.Incident = &releaseops.Incident{ID: "P1", Status: "triggered", Title: "checkout down", CreatedAt: inc.At}
	resolved := fact(releaseops.FactIncident, now.Add(-20*24*time.Hour))
	resolved.Incident = &releaseops.Incident{ID: "P0", Status: "resolved"}
	oncall := fact(releaseops.FactOnCall, now.Add(-200*24*time.Hour))
	oncall.OnCall = &releaseops.OnCall{ServiceID: "PSVC", Levels: []releaseops.OnCallLevel{{Level: 1, User: "Dana"}}}
	pr := fact(releaseops.FactPullRequest, now.Add(-200*24*time.Hour))
	pr.PullRequest = &releaseops.PullRequest{Number: 7}
	ds = append(ds, other("inc-1", inc), other("inc-0", resolved), other("oncall", oncall), other("pr", pr))
	store(t, db, ds[:len(ds)/2]...)
	if err := db.IndexNow(ctx); err != nil {
		t.Fatal(err)
	}
	store(t, db, ds[len(ds)/2:]...)
	var ghRow int64
	gh := delivery("gh-1")
	gh.Source, gh.ReceivedAt, gh.Facts = releaseops.SourceGitHub, now.Add(-time.Minute), nil
	write(t, db, func(tx *Tx) error {
		var err error
		ghRow, _, err = InsertDelivery(tx, gh)
		return err
	})
	for i := range 12 {
		write(t, db, func(tx *Tx) error {
			return PutScore(tx, ScoreRow{Service: "checkout", Score: float64(50 + 3*i), Band: "watch", Level: "bronze", Card: []byte(`{"score":1}`),
				UpdatedAt: now.Add(-time.Duration(80-7*i) * 24 * time.Hour)}, true)
		})
	}
	write(t, db, func(tx *Tx) error {
		if err := PutSyncSuccess(tx, "github", "acme/checkout", "checkout", now.Add(-2*time.Hour), []byte(`{}`)); err != nil {
			return err
		}
		for svc, at := range map[string]time.Time{"checkout": now.Add(-time.Hour), "billing": now.Add(-2 * time.Hour), "search": now.Add(-9 * 24 * time.Hour)} {
			if err := NoteRelease(tx, "rel-1", svc, at); err != nil {
				return err
			}
		}
		return nil
	})
	return ghRow
}

// GateInputs returns what the step-by-step reads return, on both drivers: with the timing
// model or without, a release or none, the staleness check's excluded row or none, the
// history window set by the oldest deploy read (a limit below the deploys stored), and a
// service with nothing stored.
func TestGateInputsEqualStepByStep(t *testing.T) {
	eachDriver(t, func(t *testing.T, open opener) {
		db := open(manualIndex())
		ctx := context.Background()
		now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		ghRow := seedGateService(t, db, now)
		timing := GateQuery{Service: "checkout", Timing: true, FactsSince: now.Add(-30 * 24 * time.Hour),
			DeploysBefore: now.Add(time.Second), DeployLimit: 500, HistoryMargin: 30 * 24 * time.Hour}
		with := func(q GateQuery, mod func(*GateQuery)) GateQuery { mod(&q); return q }
		cases := map[string]GateQuery{
			"timing":            timing,
			"readiness only":    {Service: "checkout"},
			"excluded delivery": with(timing, func(q *GateQuery) { q.Exclude = ghRow }),
			"release":           with(timing, func(q *GateQuery) { q.Release, q.ReleaseSince = "rel-1", now.Add(-7*24*time.Hour) }),
			"oldest of five":    with(timing, func(q *GateQuery) { q.DeployLimit = 5 }),
			"nothing stored": with(timing, func(q *GateQuery) {
				q.Service, q.Release, q.ReleaseSince = "newborn", "rel-1", now.Add(-7*24*time.Hour)
			}),
		}
		for name, q := range cases {
			want, err := db.gateInputsOneByOne(ctx, q)
			if err != nil {
				t.Fatalf("%s: step by step: %v", name, err)
			}
			got, err := db.GateInputs(ctx, q)
			if err != nil {
				t.Fatalf("%s: GateInputs: %v", name, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: GateInputs =\n%+v\nstep by step =\n%+v", name, got, want)
			}
		}
		// The seed reaches every part, so equal is not equal by being empty.
		got, _ := db.GateInputs(ctx, cases["release"])
		if !got.HasScore || !got.HasLastEvent || !got.HasLastSync || len(got.Deploys) != 8 || len(got.History) == 0 ||
			len(got.Facts) < 6 || !reflect.DeepEqual(got.ReleaseServices, []string{"billing"}) {
			t.Errorf("seeded inputs missing: score %v, last event %v, sync %v, %d deploys, %d history, %d facts, release %v",
				got.HasScore, got.HasLastEvent, got.HasLastSync, len(got.Deploys), len(got.History), len(got.Facts), got.ReleaseServices)
		}
		five, _ := db.GateInputs(ctx, cases["oldest of five"])
		if len(five.History) >= len(got.History) {
			t.Errorf("the history window does not follow the oldest deploy read: %d points with 5 deploys, %d with 8", len(five.History), len(got.History))
		}
	})
}

// On PostgreSQL the gate's reads are one round trip, counted at a proxy in front of the
// server: the trips that ran any of the gate's statements, once their statements are
// prepared (the first call also prepares them).
func TestGateInputsIsOneRoundTripOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	proxy, purl := pgtest.NewProxy(t, url+"&sslmode=disable")
	db, err := OpenPostgres(context.Background(), purl, manualIndex())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	seedGateService(t, db, now)
	q := GateQuery{Service: "checkout", Timing: true, FactsSince: now.Add(-30 * 24 * time.Hour), DeploysBefore: now.Add(time.Second),
		DeployLimit: 500, HistoryMargin: 30 * 24 * time.Hour, Release: "rel-1", ReleaseSince: now.Add(-7 * 24 * time.Hour)}
	ctx := context.Background()
	if _, err := db.GateInputs(ctx, q); err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"step by step", "GateInputs"} {
		tally := proxy.Count()
		if how == "GateInputs" {
			_, err = db.GateInputs(ctx, q)
		} else {
			_, err = db.gateInputsOneByOne(ctx, q)
		}
		tally.Stop()
		if err != nil {
			t.Fatal(err)
		}
		var trips [][]string
		for _, tr := range tally.Trips() {
			if strings.Contains(strings.Join(tr, "\n"), "updated_at FROM scores") || strings.Contains(strings.Join(tr, "\n"), "FROM score_history") {
				trips = append(trips, tr)
			}
		}
		t.Logf("%s: %d round trips: %q", how, tally.RoundTrips(), tally.Trips())
		if how == "GateInputs" && (len(trips) != 1 || len(trips[0]) != 9) {
			t.Errorf("GateInputs took %d round trips with the gate's statements, want 1 of 9 statements: %q", len(trips), trips)
		}
	}
}
