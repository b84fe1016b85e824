package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/internal/nearest"
	"github.com/releaseops/releaseops/storage"
)

// TeamInitiatives is what a team's page shows of the initiatives: the ones the owner's
// services are in, with how far the team is. The initiatives package implements it; without
// it the page has no initiatives section.
type TeamInitiatives interface {
	ForOwner(ctx context.Context, owner string) ([]TeamInitiative, error)
}

// TeamInitiative is one initiative as a team's page lists it.
type TeamInitiative struct {
	ID   string
	Name string
	// Deadline is the deadline day (2027-01-15); DaysLeft and Overdue are as of now.
	Deadline string
	DaysLeft int
	Overdue  bool
	// Done of Total are the owner's services in the initiative that meet its target.
	Done, Total int
}

// team is an owner and its catalogued services, with the scores of those that have one.
type team struct {
	Owner    string
	Services []string // catalogued, by name
	Scores   []storage.ScoreRow
	Pending  int
}

// bandCount is one band's share of a team's scored services.
type bandCount struct {
	Band  string
	Count int
	// X and Width place the band's segment on the 0–100 distribution bar.
	X, Width string
}

type teamRow struct {
	Owner    string
	Href     string
	Services int
	Scored   int
	Mean     float64
	Bands    []bandCount
	Pending  int
}

type teamsView struct {
	page
	Rows []teamRow
	// Unowned are scored or catalogued services without an owner: no team page lists them.
	Unowned     []string
	HasApproval bool // the gate's records are wired, so pending counts are real
}

// teamURL is the page of an owner; owners are free text, so the name is escaped whole.
func teamURL(owner string) string { return "/teams/" + url.PathEscape(owner) }

// teams groups the catalog and the scores by owner. A scored service the catalog no longer
// holds has no owner.
func (h *handler) teams(ctx context.Context) (map[string]*team, []string, error) {
	scores, err := h.d.DB.ListScores(ctx)
	if err != nil {
		return nil, nil, err
	}
	var counts map[string]int
	if h.d.Gate != nil {
		if counts, err = h.d.Gate.PendingApprovalCounts(ctx); err != nil {
			return nil, nil, err
		}
	}
	byOwner := map[string]*team{}
	var unowned []string
	add := func(name string) *team {
		svc, ok := h.d.Catalog.Get(name)
		if !ok || svc.Owner == "" {
			return nil
		}
		t := byOwner[svc.Owner]
		if t == nil {
			t = &team{Owner: svc.Owner}
			byOwner[svc.Owner] = t
		}
		return t
	}
	seen := map[string]bool{}
	for _, name := range h.d.Catalog.Names() {
		seen[name] = true
		if t := add(name); t != nil {
			t.Services = append(t.Services, name)
			t.Pending += counts[name]
		} else {
			unowned = append(unowned, name)
		}
	}
	for _, s := range scores {
		t := add(s.Service)
		if t == nil {
			if !seen[s.Service] {
				unowned = append(unowned, s.Service)
			}
			continue
		}
		t.Scores = append(t.Scores, s)
	}
	slices.Sort(unowned)
	return byOwner, unowned, nil
}

func (t *team) row() teamRow {
	r := teamRow{Owner: t.Owner, Href: teamURL(t.Owner), Services: len(t.Services), Scored: len(t.Scores), Pending: t.Pending}
	counts := map[string]int{}
	sum := 0.0
	for _, s := range t.Scores {
		sum += s.Score
		counts[s.Band]++
	}
	if len(t.Scores) > 0 {
		r.Mean = sum / float64(len(t.Scores))
	}
	x := 0.0
	for _, b := range bands {
		bc := bandCount{Band: b, Count: counts[b]}
		if len(t.Scores) > 0 && bc.Count > 0 {
			w := 100 * float64(bc.Count) / float64(len(t.Scores))
			bc.X, bc.Width = num(round1(x)), num(round1(w))
			x += w
		}
		r.Bands = append(r.Bands, bc)
	}
	return r
}

func round1(f float64) float64 { return float64(int(f*10+0.5)) / 10 }

func (h *handler) teamList(c echo.Context) error {
	ctx, cancel := h.ctx(c)
	defer cancel()
	byOwner, unowned, err := h.teams(ctx)
	if err != nil {
		return h.serverError(c, "teams", err)
	}
	v := teamsView{page: page{Title: "Teams", Nav: "teams"}, Unowned: unowned, HasApproval: h.d.Gate != nil}
	for _, t := range byOwner {
		v.Rows = append(v.Rows, t.row())
	}
	slices.SortFunc(v.Rows, func(a, b teamRow) int { return cmp.Compare(a.Owner, b.Owner) })
	return h.render(c, http.StatusOK, "teams", v)
}

type ownerView struct {
	page
	teamRow
	Rows []listRow
	// Unscored are the team's catalogued services without a score yet.
	Unscored    []string
	HasApproval bool
	Waiting     []approvalView // the pending approvals of the team's services
	// Unlisted are the team's pending approvals beyond the ListedOfAll that are read, of all
	// teams, soonest expiry first.
	Unlisted, ListedOfAll int
	// ShowInitiatives is set when the initiatives are wired; Initiatives may still be empty.
	ShowInitiatives  bool
	Initiatives      []teamInitiativeView
	InitiativesError bool
}

type teamInitiativeView struct {
	TeamInitiative
	Href     string
	Left     string // "12 days left", "due today"
	Width    string // Done/Total on the 0–100 bar
	Complete bool
}

func (h *handler) team(c echo.Context) error {
	owner := param(c, "owner")
	ctx, cancel := h.ctx(c)
	defer cancel()
	byOwner, _, err := h.teams(ctx)
	if err != nil {
		return h.serverError(c, "team", err)
	}
	t, ok := byOwner[owner]
	if !ok {
		owners := make([]string, 0, len(byOwner))
		for o := range byOwner {
			owners = append(owners, o)
		}
		var links []link
		for _, o := range nearest.Among(owner, owners, 3) {
			links = append(links, link{Href: teamURL(o), Label: o})
		}
		links = append(links, link{Href: "/teams", Label: "All teams"})
		return h.notFound(c, "Unknown team", fmt.Sprintf("No catalogued service is owned by %q.", owner), nil, links...)
	}
	now := h.d.Now()
	v := ownerView{page: page{Title: owner, Nav: "teams"}, teamRow: t.row(), HasApproval: h.d.Gate != nil}
	scored := map[string]bool{}
	for _, s := range t.Scores {
		scored[s.Service] = true
		trend, err := trendOf(s)
		if err != nil {
			return h.serverError(c, "team", err)
		}
		v.Rows = append(v.Rows, listRow{Service: s.Service, Score: s.Score, Band: s.Band, Level: s.Level, Trend: trend,
			UpdatedAt: s.UpdatedAt, Updated: ago(now, s.UpdatedAt)})
	}
	// Worst first: a team's page is read to find what needs work.
	sortRows(v.Rows, listQuery{Sort: "score", Dir: "asc"}, func(r listRow) (string, float64, string) { return r.Service, r.Score, r.Band })
	for _, name := range t.Services {
		if !scored[name] {
			v.Unscored = append(v.Unscored, name)
		}
	}
	if h.d.Gate != nil && t.Pending > 0 {
		ours := map[string]bool{}
		for _, name := range t.Services {
			ours[name] = true
		}
		all, _, err := h.pendingApprovals(ctx, now)
		if err != nil {
			return h.serverError(c, "team", err)
		}
		for _, a := range all {
			if ours[a.Service] {
				v.Waiting = append(v.Waiting, a)
			}
		}
		v.Unlisted, v.ListedOfAll = t.Pending-len(v.Waiting), pendingShown
	}
	if h.d.TeamInitiatives != nil {
		v.ShowInitiatives = true
		list, err := h.d.TeamInitiatives.ForOwner(ctx, owner)
		if err != nil && !errors.Is(err, context.Canceled) {
			// The rest of the page stands without them; the cause is in the log.
			h.d.Log.Error("team page: initiatives", "owner", owner, "err", err)
			v.InitiativesError = true
		}
		for _, in := range list {
			iv := teamInitiativeView{TeamInitiative: in, Href: "/initiatives/" + url.PathEscape(in.ID), Left: daysLeft(in.DaysLeft),
				Complete: in.Total > 0 && in.Done >= in.Total}
			if in.Total > 0 {
				iv.Width = barWidth(float64(in.Done) / float64(in.Total))
			}
			v.Initiatives = append(v.Initiatives, iv)
		}
	}
	return h.render(c, http.StatusOK, "team", v)
}

// daysLeft words the days to a deadline as the initiative pages do.
func daysLeft(n int) string {
	switch {
	case n <= 0:
		return "due today"
	case n == 1:
		return "1 day left"
	}
	return fmt.Sprintf("%d days left", n)
}
