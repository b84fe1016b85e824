package web

import (
	"context"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/storage"
)

// ExemptionLister lists exemptions for the /exemptions page: the requests made in Slack and
// the config's waivers, in the order to show them. The app's Exemptions implements it.
type ExemptionLister interface {
	List(ctx context.Context) ([]storage.ExemptionRow, error)
}

// The exemptions page registers its template itself, so the list of pages in render.go is
// left to the pages that were there.
func init() {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html"))
	t := template.Must(base.Clone()).Funcs(template.FuncMap{"exemptionClass": exemptionClass})
	pages["exemptions"] = template.Must(t.ParseFS(templateFiles, "templates/exemptions.html"))
}

type exemptionsView struct {
	page
	Rows []exemptionRow
	// Counts are the rows by state, in the order of exemptionStates.
	Counts []stateCount
}

type stateCount struct {
	State string
	N     int
}

type exemptionRow struct {
	storage.ExemptionRow
	Status string
}

var exemptionStates = []string{storage.ExemptionPending, storage.ExemptionApproved, storage.ExemptionExpired, storage.ExemptionDenied}

// exemptions serves /exemptions: every request and waiver with its state.
func (h *handler) exemptions(c echo.Context) error {
	ctx, cancel := h.ctx(c)
	defer cancel()
	v := exemptionsView{page: page{Title: "Exemptions", Nav: "exemptions"}}
	if h.d.Exemptions != nil {
		rows, err := h.d.Exemptions.List(ctx)
		if err != nil {
			return h.serverError(c, "exemptions", err)
		}
		now := h.d.Now()
		counts := map[string]int{}
		for _, r := range rows {
			s := r.Status(now)
			counts[s]++
			v.Rows = append(v.Rows, exemptionRow{ExemptionRow: r, Status: s})
		}
		for _, s := range exemptionStates {
			v.Counts = append(v.Counts, stateCount{State: s, N: counts[s]})
		}
	}
	return h.render(c, http.StatusOK, "exemptions", v)
}

// exemptionClass is the badge colour of a state.
func exemptionClass(state string) string {
	switch state {
	case storage.ExemptionPending:
		return "band-watch"
	case storage.ExemptionApproved:
		return "band-healthy"
	case storage.ExemptionDenied:
		return "band-blocked"
	}
	return "band-unknown"
}
