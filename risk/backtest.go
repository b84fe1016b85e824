package risk

import (
	"sort"
	"time"
)

// BacktestMaxDeploys caps the earlier deploys one replayed assessment sees, as the gate reads
// at most the service's last 500 deploy facts: the replay rates each deploy as the gate would
// have, and the work per deploy stays bounded (O(n·k) over the history, k ≤ 500).
const BacktestMaxDeploys = 500

// BacktestDeploy is one stored production deploy and what the risk would have known of it at
// its time, beyond the service's earlier deploys and incidents (which the replay derives
// from the history itself, so they cannot look ahead).
type BacktestDeploy struct {
	Service string
	ID      string
	At      time.Time
	// Failed: failed or rolled back — the outcome the risk is meant to predict.
	Failed bool
	// Band is the readiness band at the time ("" unknown).
	Band string
	// Change is the change size, when it was recorded; nil: unknown, for ChangeUnknownWhy.
	Change           *Change
	ChangeUnknownWhy string
	// OnCall is the last on-call read before the deploy, as of the deploy; nil: unknown.
	OnCall *OnCall
	// Release and ReleaseServices as the gate saw them, when recorded.
	Release         string
	ReleaseServices []string
}

// BacktestIncident is an incident on a service, open from Opened until Resolved (zero: never
// resolved in the history).
type BacktestIncident struct {
	Service  string
	ID       string
	Title    string
	Priority string
	URL      string
	Opened   time.Time
	Resolved time.Time
}

// BacktestInput is a stored history to replay.
type BacktestInput struct {
	// Deploys in time order (sorted, stably, if they are not).
	Deploys   []BacktestDeploy
	Incidents []BacktestIncident
	// From is where rating starts: earlier deploys only feed the failure rate and the batch
	// age of the later ones, so the first rated deploys are not all "unknown". Zero: all.
	From time.Time
}

// CalibrationRow is what happened to the deploys the model put at one level.
type CalibrationRow struct {
	Level       Level   `json:"level"`
	Deploys     int     `json:"deploys"`
	Failed      int     `json:"failed"`
	FailureRate float64 `json:"failure_rate"`
	MeanScore   float64 `json:"mean_score"`
}

// Calibration is the backtest's answer: a model worth its friction fails more often at each
// level up, and rates many of the failed deploys high.
type Calibration struct {
	// From and To are the first and last rated deploys (zero when none was).
	From     time.Time        `json:"from"`
	To       time.Time        `json:"to"`
	Services int              `json:"services"`
	Deploys  int              `json:"deploys"`
	Failed   int              `json:"failed"`
	Levels   []CalibrationRow `json:"levels"` // low, medium, high
	// FailedRatedHigh is how many of the failed deploys the model rated high: the ones the
	// gate would have stopped for a human.
	FailedRatedHigh int `json:"failed_rated_high"`
}

// Replay assesses each deploy of in as of its own time, from what came before it only, and
// hands each rated deploy (at or after in.From) with its assessment to each, in time order.
func (m *Model) Replay(in BacktestInput, each func(d *BacktestDeploy, a Assessment)) {
	ds := in.Deploys
	if !sort.SliceIsSorted(ds, func(i, j int) bool { return ds[i].At.Before(ds[j].At) }) {
		ds = append([]BacktestDeploy(nil), ds...)
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].At.Before(ds[j].At) })
	}
	states := map[string]*replayState{}
	state := func(svc string) *replayState {
		st, ok := states[svc]
		if !ok {
			st = &replayState{}
			states[svc] = st
		}
		return st
	}
	for i := range in.Incidents {
		st := state(in.Incidents[i].Service)
		st.incidents = append(st.incidents, &in.Incidents[i])
	}
	for _, st := range states {
		sort.SliceStable(st.incidents, func(i, j int) bool {
			a, b := st.incidents[i], st.incidents[j]
			if !a.Opened.Equal(b.Opened) {
				return a.Opened.Before(b.Opened)
			}
			return a.ID < b.ID
		})
	}
	window := time.Duration(m.cfg.FailureRateDays) * 24 * time.Hour
	for i := range ds {
		d := &ds[i]
		st := state(d.Service)
		since := d.At.Add(-window)
		for st.lo < len(st.deploys) && st.deploys[st.lo].At.Before(since) {
			st.lo++
		}
		st.advance(d.At)
		if !d.At.Before(in.From) {
			earlier := st.deploys[max(st.lo, len(st.deploys)-BacktestMaxDeploys):]
			ri := Input{Service: d.Service, Environment: "production", Now: d.At, Change: d.Change, ChangeUnknownWhy: d.ChangeUnknownWhy,
				Release: d.Release, ReleaseServices: d.ReleaseServices, OnCall: d.OnCall, Incidents: st.open, Deploys: earlier, Band: d.Band}
			if n := len(st.deploys); n > 0 {
				ri.LastProductionDeploy = st.deploys[n-1].At
			}
			if ri.Change == nil && ri.ChangeUnknownWhy == "" {
				ri.ChangeUnknownWhy = "the change size was not recorded"
			}
			each(d, m.Assess(ri))
		}
		// Appended after the assessment: a deploy is never part of its own history.
		st.deploys = append(st.deploys, Deploy{ID: d.ID, At: d.At, Failed: d.Failed})
	}
}

// replayState is one service's history as the replay has walked it so far.
type replayState struct {
	deploys   []Deploy // every earlier deploy, oldest first
	lo        int      // the first one inside the failure-rate window
	incidents []*BacktestIncident
	next      int         // the first incident not opened yet
	open      []Incident  // open at the current time, oldest first
	resolved  []time.Time // when each of open resolves (zero: never)
}

// advance opens the incidents opened before t and drops those resolved by t.
func (st *replayState) advance(t time.Time) {
	for st.next < len(st.incidents) && st.incidents[st.next].Opened.Before(t) {
		bi := st.incidents[st.next]
		st.next++
		if !bi.Resolved.IsZero() && !bi.Resolved.After(t) {
			continue
		}
		st.open = append(st.open, Incident{ID: bi.ID, Title: bi.Title, Priority: bi.Priority, URL: bi.URL, Since: bi.Opened})
		st.resolved = append(st.resolved, bi.Resolved)
	}
	keep := 0
	for j := range st.open {
		if r := st.resolved[j]; !r.IsZero() && !r.After(t) {
			continue
		}
		st.open[keep], st.resolved[keep] = st.open[j], st.resolved[j]
		keep++
	}
	// In place: Assess keeps nothing of its input, so no earlier assessment sees the change.
	st.open, st.resolved = st.open[:keep], st.resolved[:keep]
}

// Backtest replays in and tallies the calibration table.
func (m *Model) Backtest(in BacktestInput) Calibration {
	var c Calibration
	rows := map[Level]*CalibrationRow{Low: {Level: Low}, Medium: {Level: Medium}, High: {Level: High}}
	sums := map[Level]float64{}
	services := map[string]bool{}
	m.Replay(in, func(d *BacktestDeploy, a Assessment) {
		if c.Deploys == 0 {
			c.From = d.At
		}
		c.To = d.At
		c.Deploys++
		services[d.Service] = true
		r := rows[a.Level]
		r.Deploys++
		sums[a.Level] += a.Score
		if d.Failed {
			c.Failed++
			r.Failed++
			if a.Level == High {
				c.FailedRatedHigh++
			}
		}
	})
	c.Services = len(services)
	for _, l := range []Level{Low, Medium, High} {
		r := rows[l]
		if r.Deploys > 0 {
			r.FailureRate = round(float64(r.Failed)/float64(r.Deploys), 4)
			r.MeanScore = round(sums[l]/float64(r.Deploys), 1)
		}
		c.Levels = append(c.Levels, *r)
	}
	return c
}
