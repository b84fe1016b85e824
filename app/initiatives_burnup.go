package app

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const (
	// leaseBurnUp is the lease the burn-up recorder and its backfill run under: one replica
	// writes the points, and each (initiative, day) is written once whoever comes second.
	leaseBurnUp = "initiative-burnup"
	// recordGrace is how long after a day's end its point is still recorded from the stored
	// cards. Later (no replica ran) the cards know more than the day did, and the day is
	// replayed from the facts instead.
	recordGrace = time.Hour
	// burnUpEvery is how often the recorder and the backfill look for work.
	burnUpEvery = time.Minute
	// backfillTimeout bounds one backfill pass; an unfinished pass stores nothing and the next
	// one starts again.
	backfillTimeout = 30 * time.Minute
)

// backfillWorkers bounds the replay's concurrency: half the cores, so that scoring the live
// events and serving keep the rest.
var backfillWorkers = max(1, runtime.GOMAXPROCS(0)/2)

// runBurnUp records yesterday's points just after midnight and backfills the missing past
// days in the background, until ctx ends (the lease is lost or the process stops). The replay
// runs beside the recorder so that a long backfill never delays a day's recording.
func (a *App) runBurnUp(ctx context.Context) {
	log := a.Log.With("component", "initiatives")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		every(ctx, burnUpEvery, func() {
			start := time.Now()
			n, err := a.BackfillRound(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("backfill initiative burn-ups", "err", err)
			case n > 0:
				log.Info("initiative burn-up days replayed", "points", n, "took", time.Since(start).Round(time.Millisecond))
			}
		})
	}()
	every(ctx, burnUpEvery, func() {
		if n, err := a.RecordRound(ctx); err != nil && ctx.Err() == nil {
			log.Error("record initiative burn-ups", "err", err)
		} else if n > 0 {
			log.Info("initiative burn-up points recorded", "points", n)
		}
	})
	wg.Wait()
}

// every runs fn now and then every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	for {
		fn()
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// RecordRound stores, for each initiative, the point of the day that ended less than
// recordGrace ago (initiative.RecordDay), judged from the stored cards now, with each owning
// team's done of total. A day already stored with the initiative's fingerprint is left as it
// is, so rounds, restarts and replicas record it once. It returns how many points it stored.
func (a *App) RecordRound(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	now := a.Now().UTC()
	ins, err := a.allInitiatives(ctx)
	if err != nil {
		return 0, err
	}
	var due []*initiative.Initiative
	var stored map[string]string
	for _, in := range ins {
		end, ok := in.RecordDay(now, recordGrace)
		if !ok {
			continue
		}
		if stored == nil {
			if stored, err = a.DB.InitiativeFingerprintsOn(ctx, initiative.Day(end)); err != nil {
				return 0, err
			}
		}
		if stored[in.ID] != in.Fingerprint() {
			due = append(due, in)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	reps, _, err := a.progress(ctx, due)
	if err != nil {
		return 0, err
	}
	rows := make([]storage.InitiativeDayRow, len(due))
	for i, in := range due {
		end, _ := in.RecordDay(now, recordGrace)
		rows[i] = dayRow(in, end, now, initiative.SourceRecorded, reps[i].Done, reps[i].Total, reps[i].TeamCounts())
	}
	return a.putDays(ctx, rows)
}

func dayRow(in *initiative.Initiative, day, at time.Time, source string, done, total int, teams []initiative.TeamCount) storage.InitiativeDayRow {
	r := storage.InitiativeDayRow{Initiative: in.ID, Day: initiative.Day(day), Fingerprint: in.Fingerprint(), Source: source,
		Done: done, Total: total, At: at.UTC(), Teams: make([]storage.InitiativeTeamCount, len(teams))}
	for i, t := range teams {
		r.Teams[i] = storage.InitiativeTeamCount{Owner: t.Owner, Done: t.Done, Total: t.Total}
	}
	return r
}

// putDays stores points in one transaction and says how many were new.
func (a *App) putDays(ctx context.Context, rows []storage.InitiativeDayRow) (int, error) {
	written := 0
	err := a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		written = 0 // the writer may run fn again after a rollback
		for _, r := range rows {
			ok, err := storage.PutInitiativeDay(t, r)
			if err != nil {
				return err
			}
			if ok {
				written++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store initiative burn-up points: %w", err)
	}
	return written, nil
}

// backfillJob is one initiative's past days with no point of its fingerprint.
type backfillJob struct {
	in      *initiative.Initiative
	days    []time.Time // ends of the missing days, ascending
	covered []releaseops.Service
	// counts[day index][owner] is filled by the replay.
	counts []map[string]*initiative.TeamCount
}

// BackfillRound replays the stored facts of the covered services through the engine at the
// end of each past day of a burn-up that has no point of the initiative's fingerprint (an
// initiative older than the deployment, a spec edited since, a day no replica ran), and stores
// those points as replayed. Each service is replayed once for every initiative that covers it,
// backfillWorkers at a time. The day still within recordGrace is the recorder's. It returns how
// many points it stored.
func (a *App) BackfillRound(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, backfillTimeout)
	defer cancel()
	now := a.Now().UTC()
	ins, err := a.allInitiatives(ctx)
	if err != nil {
		return 0, err
	}
	services := a.catalogServices()
	var jobs []*backfillJob
	for _, in := range ins {
		past := in.PastDays(now)
		if len(past) == 0 {
			continue
		}
		stored, err := a.storedPoints(ctx, in, now)
		if err != nil {
			return 0, err
		}
		recording, _ := in.RecordDay(now, recordGrace)
		j := &backfillJob{in: in, covered: in.Covered(services)}
		for _, t := range past {
			if _, ok := stored[initiative.Day(t)]; !ok && !t.Equal(recording) {
				j.days = append(j.days, t)
				j.counts = append(j.counts, map[string]*initiative.TeamCount{})
			}
		}
		if len(j.days) > 0 {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	first := jobs[0].days[0]
	for _, j := range jobs {
		if j.days[0].Before(first) {
			first = j.days[0]
		}
	}
	grants, err := a.grantsSince(ctx, first)
	if err != nil {
		return 0, err
	}
	if err := a.replayJobs(ctx, jobs, grants); err != nil {
		return 0, err
	}
	stored := 0
	for _, j := range jobs {
		rows := make([]storage.InitiativeDayRow, len(j.days))
		for d, t := range j.days {
			teams := make([]initiative.TeamCount, 0, len(j.counts[d]))
			done, total := 0, 0
			for _, tc := range j.counts[d] {
				teams = append(teams, *tc)
				done += tc.Done
				total += tc.Total
			}
			slices.SortFunc(teams, func(a, b initiative.TeamCount) int { return strings.Compare(a.Owner, b.Owner) })
			rows[d] = dayRow(j.in, t, t, initiative.SourceReplayed, done, total, teams)
		}
		n, err := a.putDays(ctx, rows)
		if err != nil {
			return stored, err
		}
		stored += n
	}
	return stored, nil
}

// replayJobs replays each service covered by a job at the union of its jobs' days and adds
// its judgement to each job's counts.
func (a *App) replayJobs(ctx context.Context, jobs []*backfillJob, grants map[string][]initiative.Grant) error {
	type work struct {
		svc  releaseops.Service
		jobs []*backfillJob
	}
	byName := map[string]*work{}
	var names []string
	for _, j := range jobs {
		for _, s := range j.covered {
			w := byName[s.Name]
			if w == nil {
				w = &work{svc: s}
				byName[s.Name] = w
				names = append(names, s.Name)
			}
			w.jobs = append(w.jobs, j)
		}
	}
	slices.Sort(names)
	var mu sync.Mutex // guards the jobs' counts
	queue := make(chan *work)
	errs := make(chan error, backfillWorkers)
	var wg sync.WaitGroup
	for range backfillWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w := range queue {
				if err := a.replayService(ctx, w.svc, grants[w.svc.Name], w.jobs, &mu); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, n := range names {
		select {
		case queue <- byName[n]:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(queue)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// grantsSince returns, by service, the exemptions approved in Slack that had not ended before
// from, each from its approval: the live cards count them (the rescoring worker passes them
// as Waivers), so the replayed days must too, or a burn-up drops on the days it replays.
func (a *App) grantsSince(ctx context.Context, from time.Time) (map[string][]initiative.Grant, error) {
	rows, err := a.DB.ExemptionsEndingAfter(ctx, from.Add(-expiredShown))
	if err != nil {
		return nil, fmt.Errorf("exemptions for the burn-up replay: %w", err)
	}
	out := map[string][]initiative.Grant{}
	for _, r := range rows {
		out[r.Service] = append(out[r.Service], initiative.Grant{From: r.DecidedAt, GrantedWaiver: scoring.GrantedWaiver{
			Signal: r.Signal, Reason: r.Reason, Author: r.RequestedBy, Approver: r.DecidedBy, Ref: r.ID, Expires: r.ExpiresAt}})
	}
	return out, nil
}

// replayService scores svc at the end of every day its jobs miss, once, and counts the cards.
func (a *App) replayService(ctx context.Context, svc releaseops.Service, grants []initiative.Grant, jobs []*backfillJob, mu *sync.Mutex) error {
	var at []time.Time
	for _, j := range jobs {
		at = append(at, j.days...)
	}
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	at = slices.Compact(at)
	qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	stored, err := a.DB.FactsForService(qctx, svc.Name, at[0].Add(-a.Engine.Lookback()))
	cancel()
	if err != nil {
		return err
	}
	facts := make([]releaseops.Fact, len(stored))
	for i := range stored {
		facts[i] = stored[i].Fact
		facts[i].Service = svc.Name
	}
	cards := initiative.Replay(a.Engine, svc, facts, grants, at)
	mu.Lock()
	defer mu.Unlock()
	for _, j := range jobs {
		for d, t := range j.days {
			i, _ := slices.BinarySearchFunc(at, t, func(a, b time.Time) int { return a.Compare(b) })
			state, _ := j.in.Evaluate(cards[i])
			if state == initiative.StateNotApplicable {
				continue
			}
			tc := j.counts[d][svc.Owner]
			if tc == nil {
				tc = &initiative.TeamCount{Owner: svc.Owner}
				j.counts[d][svc.Owner] = tc
			}
			tc.Total++
			if state == initiative.StateDone {
				tc.Done++
			}
		}
	}
	return nil
}
