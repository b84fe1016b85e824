package app

import (
	"context"

	"github.com/releaseops/releaseops/web"
)

// teamInitiatives gives a team's page the initiatives its services are in, with the team's
// part of each, from the same reports the initiative pages and the API show.
type teamInitiatives struct{ a *App }

func (t teamInitiatives) ForOwner(ctx context.Context, owner string) ([]web.TeamInitiative, error) {
	reports, err := t.a.InitiativeReports(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.TeamInitiative
	for i := range reports {
		r := &reports[i]
		tp, ok := r.Team(owner)
		if !ok {
			continue
		}
		out = append(out, web.TeamInitiative{ID: r.ID, Name: r.Name, Deadline: r.Deadline, DaysLeft: r.DaysLeft, Overdue: r.Overdue,
			Done: tp.Done, Total: tp.Total})
	}
	return out, nil
}
