package app

import (
	"context"
	"time"

	"github.com/releaseops/releaseops/digest"
	"github.com/releaseops/releaseops/initiative"
)

// initiativeDigests reads the initiatives for the digests: their progress now (App.
// InitiativeReports) and a week ago (the burn-up). A digest posted late, within
// digests.catch_up, shows progress at the time of posting rather than at its slot: the
// reports are computed from the current scorecards.
type initiativeDigests struct{ a *App }

// Deadlines returns, by owner, the initiatives not yet overdue at from whose deadline is
// before to, with each team's services still short of the target; a team with nothing left
// is not listed.
func (s initiativeDigests) Deadlines(ctx context.Context, from, to time.Time) (map[string][]digest.Deadline, error) {
	reps, err := s.a.InitiativeReports(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string][]digest.Deadline{}
	for _, r := range reps {
		if r.Due.IsZero() || !r.Due.After(from) || !r.Due.Before(to) {
			continue
		}
		for _, tp := range r.Teams {
			if tp.Owner == "" || len(tp.Remaining) == 0 {
				continue
			}
			names := make([]string, len(tp.Remaining))
			for i, st := range tp.Remaining {
				names[i] = st.Service
			}
			out[tp.Owner] = append(out[tp.Owner], digest.Deadline{Initiative: r.Name, ID: r.ID, Deadline: r.Due, Day: r.Deadline, Remaining: names})
		}
	}
	return out, nil
}

// Progress returns each initiative's progress, with how many services were done a week
// before at (from its burn-up; -1 when the burn-up does not reach back that far).
func (s initiativeDigests) Progress(ctx context.Context, at time.Time) ([]digest.Progress, error) {
	reps, err := s.a.InitiativeReports(ctx)
	if err != nil {
		return nil, err
	}
	weekAgo := at.AddDate(0, 0, -7)
	out := make([]digest.Progress, 0, len(reps))
	for _, r := range reps {
		p := digest.Progress{Initiative: r.Name, ID: r.ID, Deadline: r.Due, Day: r.Deadline, Done: r.Done, Total: r.Total, DoneWeekAgo: -1}
		full, ok, err := s.a.InitiativeReport(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			p.DoneWeekAgo = doneAt(full.BurnUp, weekAgo)
		}
		out = append(out, p)
	}
	return out, nil
}

// doneAt is the burn-up's count at the last point at or before t, or -1.
func doneAt(points []initiative.Point, t time.Time) int {
	done := -1
	for _, p := range points {
		if p.At.After(t) {
			break
		}
		done = p.Done
	}
	return done
}
