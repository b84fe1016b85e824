package initiative

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
)

// TeamProgress is one owning team's part of an initiative.
type TeamProgress struct {
	Owner string `json:"owner"` // "" for services whose catalog entry names no owner
	Total int    `json:"total"`
	Done  int    `json:"done"`
	// Remaining are the team's services that do not meet the target yet, by name, each with
	// what to do and the playbook to follow.
	Remaining []Status `json:"remaining"`
}

// Report is an initiative's progress at one moment.
type Report struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Target   string    `json:"target"` // in words
	Spec     Spec      `json:"spec"`
	Deadline string    `json:"deadline"`
	Due      time.Time `json:"due"` // the end of the deadline day
	DaysLeft int       `json:"days_left"`
	Overdue  bool      `json:"overdue"`
	// Total counts the covered services the target applies to; NotApplicable the others.
	Total         int     `json:"total"`
	Done          int     `json:"done"`
	Percent       float64 `json:"percent"`
	NotApplicable int     `json:"not_applicable"`
	// Teams are sorted by owner; a team with nothing left has an empty Remaining.
	Teams  []TeamProgress `json:"teams"`
	BurnUp []Point        `json:"burn_up,omitempty"`
	At     time.Time      `json:"at"`
}

// Progress evaluates every covered service's card (card returns nil for a service not
// scored yet) at now.
func (in *Initiative) Progress(services []releaseops.Service, card func(name string) *scoring.Scorecard, now time.Time) Report {
	r := Report{ID: in.ID, Name: in.Name, Target: in.TargetText(), Spec: in.Spec, Deadline: in.Spec.Deadline, Due: in.Due,
		Overdue: in.Overdue(now), DaysLeft: DaysLeft(in.Due, now), Teams: []TeamProgress{}, At: now.UTC()}
	teams := map[string]*TeamProgress{}
	for _, svc := range in.Covered(services) {
		state, steps := in.Evaluate(card(svc.Name))
		if state == StateNotApplicable {
			r.NotApplicable++
			continue
		}
		tp := teams[svc.Owner]
		if tp == nil {
			tp = &TeamProgress{Owner: svc.Owner, Remaining: []Status{}}
			teams[svc.Owner] = tp
		}
		tp.Total++
		r.Total++
		if state == StateDone {
			tp.Done++
			r.Done++
			continue
		}
		tp.Remaining = append(tp.Remaining, Status{Service: svc.Name, Owner: svc.Owner, State: state, Steps: steps})
	}
	for _, tp := range teams {
		r.Teams = append(r.Teams, *tp)
	}
	slices.SortFunc(r.Teams, func(a, b TeamProgress) int { return strings.Compare(a.Owner, b.Owner) })
	r.Percent = percent(r.Done, r.Total)
	return r
}

// Team returns the team's part, or false when the initiative covers none of its services.
func (r *Report) Team(owner string) (TeamProgress, bool) {
	for _, t := range r.Teams {
		if t.Owner == owner {
			return t, true
		}
	}
	return TeamProgress{}, false
}

// DaysLeft is the number of whole days from now to due, rounded up; negative once overdue.
func DaysLeft(due, now time.Time) int {
	return int(math.Ceil(due.Sub(now).Hours() / 24))
}

func percent(done, total int) float64 {
	if total == 0 {
		return 100
	}
	return math.Round(float64(done)/float64(total)*1000) / 10
}

// OwnerDue is an initiative whose deadline falls in a period, as one team sees it.
type OwnerDue struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Target   string       `json:"target"`
	Deadline string       `json:"deadline"`
	Due      time.Time    `json:"due"`
	Team     TeamProgress `json:"team"`
}

// DueFor lists, for one owner, the initiatives whose deadline day lies in [from, to) and
// that cover at least one of the owner's services, with what that team still has to do
// (Team.Remaining is empty when the team is done), by deadline then id. The digests read it.
func DueFor(reports []Report, owner string, from, to time.Time) []OwnerDue {
	out := []OwnerDue{}
	for _, r := range reports {
		day := r.Due.Add(-24 * time.Hour)
		if day.Before(from) || !day.Before(to) {
			continue
		}
		tp, ok := r.Team(owner)
		if !ok {
			continue
		}
		out = append(out, OwnerDue{ID: r.ID, Name: r.Name, Target: r.Target, Deadline: r.Deadline, Due: r.Due, Team: tp})
	}
	slices.SortStableFunc(out, func(a, b OwnerDue) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Summary is an initiative's organisation-wide progress.
type Summary struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Target    string  `json:"target"`
	Deadline  string  `json:"deadline"`
	DaysLeft  int     `json:"days_left"`
	Overdue   bool    `json:"overdue"`
	Total     int     `json:"total"`
	Done      int     `json:"done"`
	Percent   float64 `json:"percent"`
	TeamsLeft int     `json:"teams_left"` // teams with work left
}

// OrgProgress summarises every report, by deadline then id: the organisation digest and the
// initiatives list read it.
func OrgProgress(reports []Report) []Summary {
	out := make([]Summary, 0, len(reports))
	for _, r := range reports {
		s := Summary{ID: r.ID, Name: r.Name, Target: r.Target, Deadline: r.Deadline, DaysLeft: r.DaysLeft, Overdue: r.Overdue,
			Total: r.Total, Done: r.Done, Percent: r.Percent}
		for _, t := range r.Teams {
			if len(t.Remaining) > 0 {
				s.TeamsLeft++
			}
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Summary) int {
		if c := strings.Compare(a.Deadline, b.Deadline); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
