package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/initiative"
)

// InitiativeSource gives the initiatives pages their reports; *app.App implements it.
type InitiativeSource interface {
	InitiativeReports(ctx context.Context) ([]initiative.Report, error)
	InitiativeReport(ctx context.Context, id string) (initiative.Report, bool, error)
}

// The initiative pages join the page set here, so the list in render.go stays as it is.
func init() {
	base := template.Must(template.New("layout.html").Funcs(funcs).Funcs(initiativeFuncs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html", "templates/initiative_parts.html"))
	for _, name := range []string{"initiatives", "initiative"} {
		t := template.Must(base.Clone())
		pages[name] = template.Must(t.ParseFS(templateFiles, "templates/"+name+".html"))
	}
}

var initiativeFuncs = template.FuncMap{
	"initiativeURL": func(id string) string { return "/initiatives/" + url.PathEscape(id) },
	// ratio is done/total as a 0–1 bar; an initiative covering nothing is complete.
	"ratio": func(done, total int) float64 {
		if total == 0 {
			return 1
		}
		return float64(done) / float64(total)
	},
	"days": func(n int) string {
		switch {
		case n <= 0:
			return "due today"
		case n == 1:
			return "1 day left"
		}
		return fmt.Sprintf("%d days left", n)
	},
}

type initiativesView struct {
	page
	Rows []initiativeRow
}

type initiativeRow struct {
	initiative.Report
	TeamsLeft int
}

// initiativeView is one initiative: its progress, burn-up and each team's remaining work.
type initiativeView struct {
	page
	initiative.Report
	Covers string // the filter in words
	Chart  burnChart
	Teams  []teamView
	Only   string // the team asked for with ?team=, by its name on the page
}

type teamView struct {
	initiative.TeamProgress
	Name string // the owner, or a phrase for services with none
	// All is every remaining service; Remaining the first teamRows of them on the page of all
	// teams, More the others, listed at AllURL.
	All    []initiative.Status
	More   int
	AllURL string
}

// teamRows is how many remaining services of each team the page of all teams lists: an
// initiative over thousands of services would otherwise be a page of thousands of rows that
// no browser shows well. ?team=<owner> lists all of one team's.
const teamRows = 5

func (h *handler) initiatives(c echo.Context) error {
	ctx, cancel := h.initiativeCtx(c)
	defer cancel()
	reps, err := h.d.Initiatives.InitiativeReports(ctx)
	if err != nil {
		return h.serverError(c, "initiatives", err)
	}
	v := initiativesView{page: page{Title: "Initiatives", Nav: "initiatives"}}
	for _, r := range reps {
		row := initiativeRow{Report: r}
		for _, t := range r.Teams {
			if len(t.Remaining) > 0 {
				row.TeamsLeft++
			}
		}
		v.Rows = append(v.Rows, row)
	}
	return h.render(c, http.StatusOK, "initiatives", v)
}

func (h *handler) initiative(c echo.Context) error {
	id := param(c, "id")
	ctx, cancel := h.initiativeCtx(c)
	defer cancel()
	rep, ok, err := h.d.Initiatives.InitiativeReport(ctx, id)
	if err != nil {
		return h.serverError(c, "initiative", err)
	}
	if !ok {
		return h.notFound(c, "Unknown initiative", fmt.Sprintf("No initiative is called %q.", id), nil, link{Href: "/initiatives", Label: "All initiatives"})
	}
	only, one := c.QueryParams()["team"]
	v := initiativeView{page: page{Title: rep.Name, Nav: "initiatives"}, Report: rep, Covers: covers(rep.Spec.Filter),
		Chart: burnUpChart(rep.BurnUp, rep.Due)}
	for _, t := range rep.Teams {
		if one && t.Owner != only[0] {
			continue
		}
		tv := teamView{TeamProgress: t, Name: t.Owner, All: t.Remaining}
		if tv.Name == "" {
			tv.Name = "Services with no owner"
		}
		if one {
			v.Only = tv.Name
		} else if len(tv.Remaining) > teamRows {
			tv.Remaining, tv.More = tv.Remaining[:teamRows], len(tv.Remaining)-teamRows
			tv.AllURL = "/initiatives/" + url.PathEscape(rep.ID) + "?team=" + url.QueryEscape(t.Owner)
		}
		// The links are rewritten on copies: the source may hand the same report to every
		// request.
		tv.Remaining = slices.Clone(tv.Remaining)
		for i := range tv.Remaining {
			tv.Remaining[i].Steps = slices.Clone(tv.Remaining[i].Steps)
			for j := range tv.Remaining[i].Steps {
				tv.Remaining[i].Steps[j].Playbook = localPlaybook(tv.Remaining[i].Steps[j].Playbook)
			}
		}
		v.Teams = append(v.Teams, tv)
	}
	if one && v.Only == "" {
		v.Only = only[0]
		if v.Only == "" {
			v.Only = "Services with no owner"
		}
	}
	return h.render(c, http.StatusOK, "initiative", v)
}

// initiativeCtx allows more than a plain page read: a replica's first look at thousands of
// cards decodes them all.
func (h *handler) initiativeCtx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), max(h.d.Timeout, 20*time.Second))
}

// localPlaybook turns the card's absolute playbook link into this site's page for it, so the
// page works whatever public_url says.
func localPlaybook(u string) string {
	if i := strings.LastIndex(u, "/playbooks/"); i >= 0 {
		return playbookURL(u[i+len("/playbooks/"):])
	}
	return ""
}

// covers says the filter in words: "owner team-payments, tier 1, services a, b".
func covers(f initiative.Filter) string {
	var parts []string
	if f.Owner != "" {
		parts = append(parts, "owner "+f.Owner)
	}
	if f.Tier != nil {
		parts = append(parts, fmt.Sprintf("tier %d", *f.Tier))
	}
	if len(f.Services) > 0 {
		parts = append(parts, "services "+strings.Join(f.Services, ", "))
	}
	if len(parts) == 0 {
		return "every service"
	}
	return strings.Join(parts, ", ")
}
