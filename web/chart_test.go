package web

import (
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

func TestHistoryChart(t *testing.T) {
	start := now.Add(-30 * day)
	th := scoring.DefaultThresholds
	t.Run("no history", func(t *testing.T) {
		c := historyChart(nil, nil, start, now, th)
		if !c.Empty || c.Path != "" || len(c.Lines) != 3 {
			t.Fatalf("empty chart = %+v", c)
		}
	})
	t.Run("carried-in score only", func(t *testing.T) {
		// A score set before the window and unchanged since is a flat line across it, with no
		// dot. The axis starts 10 points below it: 40 to 100.
		c := historyChart(nil, &storage.HistoryPoint{At: start.Add(-5 * day), Score: 50, Band: "blocked"}, start, now, th)
		if c.Empty || c.Path != "M36.0 180.0 H664.0" || len(c.Dots) != 0 {
			t.Fatalf("chart = %q, %d dots", c.Path, len(c.Dots))
		}
		if c.YTicks[0].Label != "40" || c.YTicks[1].Label != "70" || c.YTicks[2].Label != "100" {
			t.Errorf("y ticks = %+v", c.YTicks)
		}
	})
	t.Run("steps and clamps", func(t *testing.T) {
		pts := []storage.HistoryPoint{
			{At: start.Add(-time.Hour), Score: 10}, // before the window: History would not return it; ignored
			{At: start, Score: 0, Band: "blocked"},
			{At: start.Add(15 * day), Score: 100, Band: "mature"},
			{At: now.Add(time.Hour), Score: 50}, // after now: ignored
		}
		c := historyChart(pts, nil, start, now, th)
		if c.Path != "M36.0 214.0 H350.0 V10.0 H664.0" || len(c.Dots) != 2 {
			t.Fatalf("chart = %q, %d dots", c.Path, len(c.Dots))
		}
		if !strings.Contains(c.Summary, "From 0.0 (blocked) to 100.0 (mature) over 30 days; 2 snapshots.") {
			t.Errorf("summary = %q", c.Summary)
		}
	})
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{delta(6.1), "+6.1"}, {delta(-3), "-3.0"}, {delta(-0.04), "0.0"}, {delta(0), "0.0"},
		{dimScore(0.625), "0.63"}, {dimScore(1), "1.00"},
		{heatClass(0), "h0"}, {heatClass(0.2), "h1"}, {heatClass(0.79), "h3"}, {heatClass(0.999), "h4"}, {heatClass(1), "h5"},
		{ago(now, now.Add(-90*time.Second)), "1 min ago"}, {ago(now, now.Add(-47*time.Hour)), "47 h ago"}, {ago(now, now.Add(-72*time.Hour)), "3 days ago"},
		{bandClass("watch"), "band-watch"}, {bandClass(`x" onmouseover="`), "band-unknown"},
		{serviceURL("a/b c"), "/services/a%2Fb%20c"},
		{barWidth(1.7), "100"}, {barWidth(0.847), "84.7"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
