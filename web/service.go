package web

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

type serviceView struct {
	page
	Card       *scoring.Scorecard
	Catalogued bool
	Info       releaseops.Service
	Updated    string // "2 h ago"
	Weakest    []scoring.DimensionScore
	Dimensions []dimView
	Floors     []floorView
	Chart      chart
	Window     int // days the chart spans
	// Sync is the card's sync coverage; Failing, the records whose latest attempt failed,
	// shown at the top since a failing sync can make branch settings stop counting.
	Sync    []syncView
	Failing []syncView
	// Deploy is what the gate would answer a production deploy now; nil leaves it out.
	Deploy *deployView
}

// syncView is a sync coverage record with its one-line summary and the age of its last read.
type syncView struct {
	releaseops.SyncCoverage
	Title   string // the source as people write it
	Summary string
	Age     string // "26 h ago"; "" when never read
}

// dimView is a dimension with what the page says about it at a glance.
type dimView struct {
	scoring.DimensionScore
	Weak    bool // applicable and below 1: its signals start unfolded
	Passing int  // signals that pass or are waived
	Counted int  // signals that count (not n/a)
}

// floorView is a hard floor with the dimension's name instead of its id.
type floorView struct {
	scoring.FloorApplied
	Name string
}

func (h *handler) service(c echo.Context) error {
	name := param(c, "name")
	ctx, cancel := h.ctx(c)
	defer cancel()
	var card scoring.Scorecard
	row, err := h.card(ctx, name, &card)
	if errors.Is(err, storage.ErrNotFound) {
		return h.unknownService(c, name)
	}
	if err != nil {
		return h.serverError(c, "service", err)
	}
	now := h.d.Now()
	start := now.Add(-h.d.HistoryWindow)
	points, err := h.d.DB.History(ctx, name, start)
	if err != nil {
		return h.serverError(c, "service", err)
	}
	var before *storage.HistoryPoint
	if p, ok, err := h.d.DB.ScoreAt(ctx, name, start); err != nil {
		return h.serverError(c, "service", err)
	} else if ok {
		before = &p
	}
	if card.UpdatedAt.IsZero() {
		card.UpdatedAt = row.UpdatedAt
	}
	info, catalogued := h.d.Catalog.Get(name)
	v := h.serviceView(&card, info, catalogued, points, before, start, now)
	v.Deploy = h.deploy(ctx, name)
	return h.render(c, http.StatusOK, "service", v)
}

// unknownService is the 404 of a service page: it names the closest services, and says so
// when the service is catalogued but has no score yet.
func (h *handler) unknownService(c echo.Context, name string) error {
	if _, ok := h.d.Catalog.Get(name); ok {
		return h.notFound(c, "Not scored yet",
			fmt.Sprintf("%s is in the catalog but has no score yet: it is scored after its first event or the next periodic rescore.", name),
			nil, link{Href: "/", Label: "All services"})
	}
	return h.notFound(c, "Unknown service",
		fmt.Sprintf("No service is called %q.", name),
		h.d.Catalog.Closest(name, 3), link{Href: "/", Label: "All services"})
}

// serviceView arranges a scorecard for the page: no I/O, so the benchmark can time it.
func (h *handler) serviceView(card *scoring.Scorecard, info releaseops.Service, catalogued bool, points []storage.HistoryPoint, before *storage.HistoryPoint, start, now time.Time) serviceView {
	v := serviceView{
		page:       page{Title: card.Service, Nav: "services"},
		Card:       card,
		Catalogued: catalogued,
		Info:       info,
		Updated:    ago(now, card.UpdatedAt),
		Weakest:    card.Weakest(3),
		Chart:      historyChart(points, before, start, now, h.d.Thresholds),
		Window:     int(now.Sub(start) / (24 * time.Hour)),
	}
	for _, d := range card.Dimensions {
		dv := dimView{DimensionScore: d, Weak: d.Applicable && d.Score < 1}
		for _, s := range d.Signals {
			if s.Outcome == scoring.OutcomeNotApplicable || s.Outcome == scoring.OutcomeUpcoming {
				continue
			}
			dv.Counted++
			if s.Outcome == scoring.OutcomePass || s.Waived {
				dv.Passing++
			}
		}
		v.Dimensions = append(v.Dimensions, dv)
	}
	for _, c := range card.Sync {
		sv := syncView{SyncCoverage: c, Title: releaseops.SourceTitle(c.Source), Summary: scoring.SyncSummary(c), Age: ago(now, c.LastSuccess)}
		v.Sync = append(v.Sync, sv)
		if c.Failing() {
			v.Failing = append(v.Failing, sv)
		}
	}
	for _, f := range card.FloorsApplied {
		fv := floorView{FloorApplied: f, Name: f.Dimension}
		if d := card.Dimension(f.Dimension); d != nil {
			fv.Name = d.Name
		}
		v.Floors = append(v.Floors, fv)
	}
	return v
}
