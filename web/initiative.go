package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
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
}

type teamView struct {
	initiative.TeamProgress
	Name string // the owner, or a phrase for services with none
}

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
	v := initiativeView{page: page{Title: rep.Name, Nav: "initiatives"}, Report: rep, Covers: covers(rep.Spec.Filter),
		Chart: burnUpChart(rep.BurnUp, rep.Due)}
	for _, t := range rep.Teams {
		tv := teamView{TeamProgress: t, Name: t.Owner}
		if tv.Name == "" {
			tv.Name = "Services with no owner"
		}
		for i := range tv.Remaining {
			for j := range tv.Remaining[i].Steps {
				tv.Remaining[i].Steps[j].Playbook = localPlaybook(tv.Remaining[i].Steps[j].Playbook)
			}
		}
		v.Teams = append(v.Teams, tv)
	}
	return h.render(c, http.StatusOK, "initiative", v)
}

// initiativeCtx allows a burn-up's replay more time than a plain page read.
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
