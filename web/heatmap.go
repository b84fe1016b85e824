package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// heatCard is the part of a stored scorecard the heat map reads; the signals and evidence of
// every service are skipped.
type heatCard struct {
	Dimensions []struct {
		ID         string  `json:"id"`
		Score      float64 `json:"score"`
		Applicable bool    `json:"applicable"`
		NoData     bool    `json:"no_data"`
	} `json:"dimensions"`
}

type heatCell struct {
	ID         string
	Name       string
	Score      float64
	Applicable bool
	NoData     bool
	Missing    bool // the stored card predates the dimension
}

type heatRow struct {
	Service string
	Score   float64
	Band    string
	Cells   []heatCell
}

// heatMean is a dimension's mean over the services it applies to: the fleet's weak spot.
type heatMean struct {
	Score float64
	N     int
}

type heatView struct {
	page
	Query   listQuery
	Dims    []scoring.DimensionDef
	Rows    []heatRow
	Means   []heatMean
	Total   int
	Filters []bandFilter
	ByName  sortLink
	ByScore sortLink
	ByBand  sortLink
}

func (h *handler) heatmap(c echo.Context) error {
	q, err := parseListQuery(c)
	if err != nil {
		return h.badRequest(c, err)
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	scores, err := h.d.DB.ListScores(ctx)
	if err != nil {
		return h.serverError(c, "heatmap", err)
	}
	v := heatView{page: page{Title: "Heat map", Nav: "heatmap"}, Query: q, Dims: scoring.Dimensions, Total: len(scores)}
	counts := map[string]int{}
	sums := make([]heatMean, len(scoring.Dimensions))
	for _, s := range scores {
		counts[s.Band]++
		if q.Band != "" && s.Band != q.Band {
			continue
		}
		var card heatCard
		if _, err := h.card(ctx, s.Service, &card); errors.Is(err, storage.ErrNotFound) {
			continue // removed since the list was read
		} else if err != nil {
			return h.serverError(c, "heatmap", err)
		}
		row := heatRow{Service: s.Service, Score: s.Score, Band: s.Band, Cells: make([]heatCell, len(scoring.Dimensions))}
		for i, d := range scoring.Dimensions {
			row.Cells[i] = heatCell{ID: d.ID, Name: d.Name, Missing: true}
		}
		for _, d := range card.Dimensions {
			for i := range row.Cells {
				if row.Cells[i].ID == d.ID {
					row.Cells[i] = heatCell{ID: d.ID, Name: row.Cells[i].Name, Score: d.Score, Applicable: d.Applicable, NoData: d.NoData}
					if d.Applicable {
						sums[i].Score += d.Score
						sums[i].N++
					}
				}
			}
		}
		v.Rows = append(v.Rows, row)
	}
	for i := range sums {
		if sums[i].N > 0 {
			sums[i].Score /= float64(sums[i].N)
		}
	}
	v.Means = sums
	sortRows(v.Rows, q, func(r heatRow) (string, float64, string) { return r.Service, r.Score, r.Band })
	v.Filters = q.bandFilters("/heatmap", counts, len(scores))
	v.ByName, v.ByScore, v.ByBand = q.sortLink("/heatmap", "name"), q.sortLink("/heatmap", "score"), q.sortLink("/heatmap", "band")
	return h.render(c, http.StatusOK, "heatmap", v)
}
