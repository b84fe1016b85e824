package scoring

import (
	"math"
	"time"
)

// Trend directions.
const (
	TrendUp   = "up"
	TrendDown = "down"
	TrendFlat = "flat"
)

// trendDeadBand is the change, in points, within which the trend is flat.
const trendDeadBand = 1.0

// ComputeTrend compares the current composite with the composite at the start of the window:
// the latest snapshot at or before now-window, or, when the history is younger than the
// window, its oldest snapshot. Without history the trend is flat with delta 0. The direction
// is flat within ±1 point (inclusive).
func ComputeTrend(history []Point, current float64, now time.Time, window time.Duration) Trend {
	t := Trend{WindowDays: int(math.Round(window.Hours() / 24)), Direction: TrendFlat}
	start := now.Add(-window)
	var base *Point
	var oldest *Point
	for i := range history {
		p := &history[i]
		if p.At.After(now) {
			continue
		}
		if !p.At.After(start) && (base == nil || p.At.After(base.At)) {
			base = p
		}
		if oldest == nil || p.At.Before(oldest.At) {
			oldest = p
		}
	}
	if base == nil {
		base = oldest
	}
	if base == nil {
		return t
	}
	t.Delta = round(current-base.Score, compositeDecimals)
	switch {
	case t.Delta > trendDeadBand:
		t.Direction = TrendUp
	case t.Delta < -trendDeadBand:
		t.Direction = TrendDown
	}
	return t
}

// DetectRegression compares two scorecards of a service: a drop of at least alertPoints, or a
// fall into a lower band, is a regression. It lists the dimensions whose score dropped and,
// in each, the signals that got worse with their reasons, evidence and playbook. Nil when
// there is no previous card or no regression.
func DetectRegression(prev, cur *Scorecard, alertPoints float64) *Regression {
	if prev == nil || cur == nil {
		return nil
	}
	drop := round(prev.Score-cur.Score, compositeDecimals)
	bandFell := BandRank(cur.Band) >= 0 && BandRank(prev.Band) >= 0 && BandRank(cur.Band) < BandRank(prev.Band)
	if !bandFell && (alertPoints <= 0 || drop < alertPoints) {
		return nil
	}
	reg := &Regression{Service: cur.Service, From: prev.Score, To: cur.Score, Drop: drop,
		FromBand: prev.Band, ToBand: cur.Band, BandFell: bandFell, At: cur.UpdatedAt, Dimensions: []DimensionDrop{}}
	for _, d := range cur.Dimensions {
		pd := prev.Dimension(d.ID)
		if pd == nil || !d.Applicable || d.Score >= pd.Score && pd.Applicable {
			continue
		}
		from := pd.Score
		if !pd.Applicable {
			continue // a dimension that became applicable is a change of denominator, not a drop
		}
		dd := DimensionDrop{ID: d.ID, Name: d.Name, From: from, To: d.Score, Playbook: d.Playbook, Signals: []SignalDrop{}}
		for _, s := range d.Signals {
			var before float64
			found := false
			for _, ps := range pd.Signals {
				if ps.ID == s.ID {
					before, found = ps.Score, true
					break
				}
			}
			if !found || s.Score >= before {
				continue
			}
			dd.Signals = append(dd.Signals, SignalDrop{ID: s.ID, Name: s.Name, From: before, To: s.Score,
				Outcome: s.Outcome, Reason: s.Reason, Playbook: d.Playbook, Evidence: s.Evidence})
		}
		reg.Dimensions = append(reg.Dimensions, dd)
	}
	return reg
}
