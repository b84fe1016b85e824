package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// Chart geometry, in SVG user units. The SVG scales to the page width (viewBox), so these
// only fix the proportions and the room left for the axis labels.
const (
	chartW      = 760
	chartH      = 240
	chartLeft   = 36
	chartRight  = chartW - 96 // room for the band labels on the right
	chartTop    = 10
	chartBottom = chartH - 26
	maxDots     = 90 // beyond this many snapshots the dots hide the line
)

// chart is a server-rendered history chart: every coordinate is computed here, so the
// template only places elements and the page needs no script.
type chart struct {
	Width, Height int
	Empty         bool
	Path          string // the score as a step line: it holds until the next snapshot
	Dots          []chartDot
	Bands         []chartBand
	Lines         []chartLine
	XTicks        []chartTick
	YTicks        []chartTick
	PlotLeft      int
	PlotRight     int
	PlotTop       int
	PlotBottom    int
	Summary       string // the chart in words, for screen readers and the figure caption
}

type chartDot struct {
	X, Y  string
	Title string
}

type chartBand struct {
	Y, H  string
	Class string
}

type chartLine struct {
	Y     string
	Label string
	Class string
}

type chartTick struct {
	X, Y  string
	Label string
}

// historyChart draws the composite from start to now. before is the last snapshot at or
// before start (the score the window opens with), if any; points are the snapshots in the
// window, oldest first.
func historyChart(points []storage.HistoryPoint, before *storage.HistoryPoint, start, now time.Time, th scoring.Thresholds) chart {
	c := chart{Width: chartW, Height: chartH, PlotLeft: chartLeft, PlotRight: chartRight, PlotTop: chartTop, PlotBottom: chartBottom}
	span := now.Sub(start)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return chartRight
		}
		f := float64(t.Sub(start)) / float64(span)
		return chartLeft + min(max(f, 0), 1)*(chartRight-chartLeft)
	}

	var series []storage.HistoryPoint
	if before != nil {
		series = append(series, storage.HistoryPoint{At: start, Score: before.Score, Band: before.Band, Level: before.Level})
	}
	for _, p := range points {
		if !p.At.Before(start) && !p.At.After(now) {
			series = append(series, p)
		}
	}

	// The axis starts 10 points below the lowest score or the watch line, whichever is lower,
	// so a service moving between 85 and 95 shows its moves, and the band lines stay in view.
	lo := th.BlockBelow
	for _, p := range series {
		lo = min(lo, p.Score)
	}
	lo = max(0, math.Floor((lo-10)/10)*10)
	y := func(score float64) float64 {
		return chartTop + (100-min(max(score, lo), 100))/(100-lo)*(chartBottom-chartTop)
	}

	// Band regions and threshold lines, lowest band first.
	edges := []struct {
		from, to float64
		band     string
	}{
		{0, th.BlockBelow, scoring.BandBlocked},
		{th.BlockBelow, th.ApprovalBelow, scoring.BandWatch},
		{th.ApprovalBelow, th.MatureAt, scoring.BandHealthy},
		{th.MatureAt, 100, scoring.BandMature},
	}
	for _, e := range edges {
		e.from = max(e.from, lo)
		if e.to > e.from {
			c.Bands = append(c.Bands, chartBand{Y: f1(y(e.to)), H: f1(y(e.from) - y(e.to)), Class: "fill-" + e.band})
		}
		if e.from > lo {
			c.Lines = append(c.Lines, chartLine{Y: f1(y(e.from)), Label: e.band + " ≥ " + num(e.from), Class: "line-" + e.band})
		}
	}
	for _, s := range []float64{lo, (lo + 100) / 2, 100} {
		c.YTicks = append(c.YTicks, chartTick{X: f1(chartLeft - 6), Y: f1(y(s)), Label: num(s)})
	}
	const ticks = 4
	for i := 0; i <= ticks; i++ {
		t := start.Add(span * time.Duration(i) / ticks)
		c.XTicks = append(c.XTicks, chartTick{X: f1(x(t)), Y: f1(chartBottom + 18), Label: t.UTC().Format("Jan 2")})
	}

	if len(series) == 0 {
		c.Empty = true
		c.Summary = "No score history in the window."
		return c
	}

	var path strings.Builder
	fmt.Fprintf(&path, "M%s %s", f1(x(series[0].At)), f1(y(series[0].Score)))
	for _, p := range series[1:] {
		fmt.Fprintf(&path, " H%s V%s", f1(x(p.At)), f1(y(p.Score)))
	}
	fmt.Fprintf(&path, " H%s", f1(x(now)))
	c.Path = path.String()

	snapshots := series
	if before != nil {
		snapshots = series[1:] // the carried-in score is not a snapshot of this window
	}
	if len(snapshots) <= maxDots {
		for _, p := range snapshots {
			c.Dots = append(c.Dots, chartDot{X: f1(x(p.At)), Y: f1(y(p.Score)),
				Title: fmt.Sprintf("%s: %s (%s, %s)", timestamp(p.At), composite(p.Score), p.Band, p.Level)})
		}
	}
	first, last := series[0], series[len(series)-1]
	c.Summary = fmt.Sprintf("From %s (%s) to %s (%s) over %d days; %s.",
		composite(first.Score), first.Band, composite(last.Score), last.Band, int(span.Hours()/24+0.5), plural(len(snapshots), "snapshot"))
	return c
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// plural is "1 snapshot", "3 snapshots".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
