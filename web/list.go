package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// bands lists the bands from lowest to highest, for filters and the legend.
var bands = []string{scoring.BandBlocked, scoring.BandWatch, scoring.BandHealthy, scoring.BandMature}

// listQuery is the validated query of the list and heat map: ?sort=score|name|band,
// ?dir=asc|desc, ?band=<band>.
type listQuery struct {
	Sort, Dir, Band string
}

func parseListQuery(c echo.Context) (listQuery, error) {
	q := listQuery{Sort: c.QueryParam("sort"), Dir: c.QueryParam("dir"), Band: c.QueryParam("band")}
	if q.Sort == "" {
		q.Sort = "name"
	}
	if q.Dir == "" {
		q.Dir = "asc"
	}
	switch {
	case !slices.Contains([]string{"name", "score", "band"}, q.Sort):
		return q, fmt.Errorf("sort must be score, name or band, not %q", q.Sort)
	case q.Dir != "asc" && q.Dir != "desc":
		return q, fmt.Errorf("dir must be asc or desc, not %q", q.Dir)
	case q.Band != "" && !slices.Contains(bands, q.Band):
		return q, fmt.Errorf("band must be one of %s, not %q", strings.Join(bands, ", "), q.Band)
	}
	return q, nil
}

// href is the page's URL with the query changed; empty and default values are left out so
// links stay short and canonical.
func (q listQuery) href(path string) string {
	v := url.Values{}
	if q.Sort != "name" {
		v.Set("sort", q.Sort)
	}
	if q.Dir != "asc" {
		v.Set("dir", q.Dir)
	}
	if q.Band != "" {
		v.Set("band", q.Band)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// sortLink is a column header: clicking the sorted column flips its direction, clicking
// another sorts by it ascending (lowest score, worst band, A first).
type sortLink struct {
	Href   string
	Active bool
	Aria   string // aria-sort value
	Mark   string // ▲ or ▼ on the sorted column
}

func (q listQuery) sortLink(path, by string) sortLink {
	next := q
	next.Sort, next.Dir = by, "asc"
	l := sortLink{Aria: "none"}
	if q.Sort == by {
		l.Active = true
		l.Aria, l.Mark = "ascending", "▲"
		if q.Dir == "asc" {
			next.Dir = "desc"
		} else {
			l.Aria, l.Mark = "descending", "▼"
		}
	}
	l.Href = next.href(path)
	return l
}

// bandFilter is one of the band filter links above the list.
type bandFilter struct {
	Band   string
	Label  string
	Count  int
	Href   string
	Active bool
}

func (q listQuery) bandFilters(path string, counts map[string]int, total int) []bandFilter {
	all := q
	all.Band = ""
	out := []bandFilter{{Label: "all", Count: total, Href: all.href(path), Active: q.Band == ""}}
	for _, b := range bands {
		f := q
		f.Band = b
		out = append(out, bandFilter{Band: b, Label: b, Count: counts[b], Href: f.href(path), Active: q.Band == b})
	}
	return out
}

// sortRows orders rows by the query; ties fall back to the name so the order is stable.
func sortRows[T any](rows []T, q listQuery, key func(T) (name string, score float64, band string)) {
	slices.SortStableFunc(rows, func(a, b T) int {
		an, as, ab := key(a)
		bn, bs, bb := key(b)
		c := 0
		switch q.Sort {
		case "score":
			c = cmp.Compare(as, bs)
		case "band":
			c = cmp.Or(cmp.Compare(scoring.BandRank(ab), scoring.BandRank(bb)), cmp.Compare(as, bs))
		}
		c = cmp.Or(c, cmp.Compare(an, bn))
		if q.Dir == "desc" {
			return -c
		}
		return c
	})
}

type listRow struct {
	Service   string
	Score     float64
	Band      string
	Level     string
	Trend     scoring.Trend
	UpdatedAt time.Time
	Updated   string // "2 h ago"
}

type listView struct {
	page
	Query     listQuery
	Rows      []listRow
	Total     int
	Filters   []bandFilter
	ByName    sortLink
	ByScore   sortLink
	ByBand    sortLink
	Generated string
}

func (h *handler) list(c echo.Context) error {
	q, err := parseListQuery(c)
	if err != nil {
		return h.badRequest(c, err)
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	scores, err := h.d.DB.ListScores(ctx)
	if err != nil {
		return h.serverError(c, "list", err)
	}
	now := h.d.Now()
	v := listView{page: page{Title: "Services", Nav: "services"}, Query: q, Total: len(scores), Generated: timestamp(now)}
	counts := map[string]int{}
	for _, s := range scores {
		counts[s.Band]++
		if q.Band != "" && s.Band != q.Band {
			continue
		}
		trend, err := trendOf(s)
		if err != nil {
			return h.serverError(c, "list", err)
		}
		v.Rows = append(v.Rows, listRow{Service: s.Service, Score: s.Score, Band: s.Band, Level: s.Level, Trend: trend,
			UpdatedAt: s.UpdatedAt, Updated: ago(now, s.UpdatedAt)})
	}
	sortRows(v.Rows, q, func(r listRow) (string, float64, string) { return r.Service, r.Score, r.Band })
	v.Filters = q.bandFilters("/", counts, len(scores))
	v.ByName, v.ByScore, v.ByBand = q.sortLink("/", "name"), q.sortLink("/", "score"), q.sortLink("/", "band")
	return h.render(c, http.StatusOK, "list", v)
}

// trendOf reads the trend stored beside the score, so the list needs no scorecard decode.
func trendOf(s storage.ScoreRow) (scoring.Trend, error) {
	var t scoring.Trend
	if len(s.Trend) == 0 || string(s.Trend) == "null" {
		return t, nil
	}
	if err := json.Unmarshal(s.Trend, &t); err != nil {
		return t, fmt.Errorf("trend of %s: %w", s.Service, err)
	}
	return t, nil
}
