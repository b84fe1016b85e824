package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/initiative"
)

// burnChart is an initiative's burn-up as inline SVG: services meeting the target over time,
// the line of all covered services, and the deadline. Every coordinate is computed here.
type burnChart struct {
	Width, Height int
	PlotLeft      int
	PlotRight     int
	PlotTop       int
	PlotBottom    int
	Empty         bool
	Path          string // services done, as a step line
	Dots          []chartDot
	Goal          *chartLine // all covered services
	Deadline      *chartTick // the deadline's x, always in the span
	XTicks        []chartTick
	YTicks        []chartTick
	Summary       string
}

// burnUpChart draws points (oldest first) from the first point's day to the later of the last
// point and the deadline, so the remaining time is visible.
func burnUpChart(points []initiative.Point, due time.Time) burnChart {
	c := burnChart{Width: chartW, Height: chartH, PlotLeft: chartLeft, PlotRight: chartRight, PlotTop: chartTop, PlotBottom: chartBottom}
	if len(points) == 0 {
		c.Empty = true
		c.Summary = "No burn-up yet."
		return c
	}
	start := points[0].At.UTC().Truncate(24 * time.Hour)
	end := points[len(points)-1].At
	if due.After(end) {
		end = due
	}
	span := end.Sub(start)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return chartRight
		}
		f := float64(t.Sub(start)) / float64(span)
		return chartLeft + min(max(f, 0), 1)*(chartRight-chartLeft)
	}
	top := 1
	for _, p := range points {
		top = max(top, p.Total)
	}
	y := func(n int) float64 { return chartBottom - float64(n)/float64(top)*(chartBottom-chartTop) }

	for _, n := range []int{0, top / 2, top} {
		c.YTicks = append(c.YTicks, chartTick{X: f1(chartLeft - 6), Y: f1(y(n)), Label: fmt.Sprint(n)})
	}
	const ticks = 4
	for i := 0; i <= ticks; i++ {
		t := start.Add(span * time.Duration(i) / ticks)
		c.XTicks = append(c.XTicks, chartTick{X: f1(x(t)), Y: f1(chartBottom + 18), Label: t.UTC().Format("Jan 2")})
	}
	last := points[len(points)-1]
	c.Goal = &chartLine{Y: f1(y(last.Total)), Label: fmt.Sprintf("all %d", last.Total), Class: "line-healthy"}
	c.Deadline = &chartTick{X: f1(x(due)), Y: f1(chartTop + 10), Label: "deadline"}

	var path strings.Builder
	fmt.Fprintf(&path, "M%s %s", f1(x(points[0].At)), f1(y(points[0].Done)))
	for _, p := range points[1:] {
		fmt.Fprintf(&path, " H%s V%s", f1(x(p.At)), f1(y(p.Done)))
	}
	c.Path = path.String()
	if len(points) <= maxDots {
		for _, p := range points {
			c.Dots = append(c.Dots, chartDot{X: f1(x(p.At)), Y: f1(y(p.Done)), Title: fmt.Sprintf("%s: %d of %d", p.Day, p.Done, p.Total)})
		}
	}
	first := points[0]
	c.Summary = fmt.Sprintf("From %d of %d services on %s to %d of %d on %s; the deadline is %s.",
		first.Done, first.Total, first.Day, last.Done, last.Total, last.Day, due.Add(-24*time.Hour).Format("2006-01-02"))
	return c
}
