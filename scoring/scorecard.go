package scoring

import (
	"time"

	"github.com/releaseops/releaseops"
)

// Outcome is how a signal came out.
type Outcome string

const (
	OutcomePass          Outcome = "pass"           // fully met (score 1)
	OutcomePartial       Outcome = "partial"        // partly met (0 < score < 1)
	OutcomeFail          Outcome = "fail"           // not met (score 0), with data to show it
	OutcomeNoData        Outcome = "no_data"        // the evidence never arrived (score 0)
	OutcomeNotApplicable Outcome = "not_applicable" // does not apply to this service; left out
	OutcomeWaived        Outcome = "waived"         // a live waiver makes it count as passing
)

// Bands, from lowest to highest.
const (
	BandBlocked = "blocked"
	BandWatch   = "watch"
	BandHealthy = "healthy"
	BandMature  = "mature"
)

// BandRank orders bands: blocked 0, watch 1, healthy 2, mature 3; an unknown band is -1.
func BandRank(band string) int {
	switch band {
	case BandBlocked:
		return 0
	case BandWatch:
		return 1
	case BandHealthy:
		return 2
	case BandMature:
		return 3
	}
	return -1
}

// Scorecard is the readiness of one service at one moment (SPEC §4.5). Trend is filled by
// the caller that holds the history (see ComputeTrend); Score leaves it zero.
type Scorecard struct {
	Service       string           `json:"service"`
	Score         float64          `json:"score"`
	Band          string           `json:"band"`
	Level         string           `json:"level"`
	Trend         Trend            `json:"trend"`
	UpdatedAt     time.Time        `json:"updated_at"`
	Dimensions    []DimensionScore `json:"dimensions"`
	FloorsApplied []FloorApplied   `json:"floors_applied"`
	Levels        []LevelResult    `json:"levels"`
	Rules         []RuleResult     `json:"rules"`
	DORA          DORA             `json:"dora"`
	// Sync lists what the sync framework knows of the subjects the service is read through,
	// sorted by source and subject, so a failing sync shows next to the signals it makes stale.
	Sync []releaseops.SyncCoverage `json:"sync,omitempty"`
}

// Dimension returns the scored dimension with the id, or nil.
func (c *Scorecard) Dimension(id string) *DimensionScore {
	for i := range c.Dimensions {
		if c.Dimensions[i].ID == id {
			return &c.Dimensions[i]
		}
	}
	return nil
}

// Weakest returns up to n applicable dimensions scoring below 1, lowest first (ties in SPEC
// order): what Slack and the gate list as reasons.
func (c *Scorecard) Weakest(n int) []DimensionScore {
	var out []DimensionScore
	for _, d := range c.Dimensions {
		if d.Applicable && d.Score < 1 {
			out = append(out, d)
		}
	}
	// Insertion sort keeps equal scores in SPEC order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Score < out[j-1].Score; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Trend is the change of the composite over the trend window.
type Trend struct {
	WindowDays int     `json:"window_days"`
	Delta      float64 `json:"delta"`
	Direction  string  `json:"direction"` // up, down, flat
}

// DimensionScore is one of the nine dimensions of a scorecard.
type DimensionScore struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Score      float64        `json:"score"`
	Applicable bool           `json:"applicable"`
	NoData     bool           `json:"no_data"`
	Reason     string         `json:"reason,omitempty"` // why not applicable, or what data is missing
	Playbook   string         `json:"playbook"`
	Signals    []SignalResult `json:"signals"`
}

// SignalResult is one evaluated signal.
type SignalResult struct {
	ID       string                `json:"id"`
	Name     string                `json:"name"`
	Score    float64               `json:"score"`
	Weight   float64               `json:"weight"`
	Value    any                   `json:"value"`
	Outcome  Outcome               `json:"outcome"`
	Reason   string                `json:"reason"`
	Waived   bool                  `json:"waived"`
	Waiver   *WaiverInfo           `json:"waiver,omitempty"`
	Custom   bool                  `json:"custom,omitempty"` // a custom CEL rule joined to the dimension
	Evidence []releaseops.Evidence `json:"evidence"`
}

// WaiverInfo is the waiver that made a signal pass.
type WaiverInfo struct {
	Reason  string    `json:"reason"`
	Author  string    `json:"author"`
	Expires time.Time `json:"expires"`
	// Approver and Ref are set when the waiver is an approved exemption request (Ref is its id).
	Approver string `json:"approver,omitempty"`
	Ref      string `json:"ref,omitempty"`
}

// FloorApplied is a hard floor the scorecard is under: the dimension scored below Min, so the
// band can be no better than Cap.
type FloorApplied struct {
	Dimension string  `json:"dimension"`
	Min       float64 `json:"min"`
	Score     float64 `json:"score"`
	Cap       string  `json:"cap"`
}

// LevelResult is one level with the outcome of each of its rules.
type LevelResult struct {
	Level    string       `json:"level"`
	Passed   bool         `json:"passed"`   // all of its own rules pass
	Achieved bool         `json:"achieved"` // passed, and so did every level below
	Rules    []RuleResult `json:"rules"`
}

// RuleResult is the outcome of one level rule or custom rule.
type RuleResult struct {
	ID          string  `json:"id"`
	Description string  `json:"description,omitempty"`
	Expr        string  `json:"expr"`
	Dimension   string  `json:"dimension,omitempty"`
	Level       string  `json:"level,omitempty"`
	Passed      bool    `json:"passed"`
	Value       any     `json:"value"`
	Error       string  `json:"error,omitempty"`
	Custom      bool    `json:"custom,omitempty"`
	Score       float64 `json:"score"`
	// EnforceFrom is set while the rule's enforce_from is ahead: it does not count yet, and
	// Upcoming says what it will do then ("fails from 2027-01-15: …").
	EnforceFrom *time.Time `json:"enforce_from,omitempty"`
	Upcoming    string     `json:"upcoming,omitempty"`
}

// DORA holds the four DORA metrics of the service over the DORA window (the change failure
// rate signal's window, 30 days by default). A metric with no samples is null.
type DORA struct {
	WindowDays        int      `json:"window_days"`
	Deploys           int      `json:"deploys"`            // finished production deploys (kind deploy)
	SuccessfulDeploys int      `json:"successful_deploys"` // of which succeeded
	DeploysPerWeek    float64  `json:"deploys_per_week"`   // successful deploys per 7 days
	LeadTimeHours     *float64 `json:"lead_time_hours"`    // median, merge → first successful production deploy after it
	LeadTimeSamples   int      `json:"lead_time_samples"`
	ChangeFailureRate *float64 `json:"change_failure_rate"` // failed, rolled back, or followed by an incident
	ChangeFailures    int      `json:"change_failures"`
	MTTRHours         *float64 `json:"mttr_hours"` // mean, triggered → resolved, incidents resolved in the window
	MTTRSamples       int      `json:"mttr_samples"`
}

// Point is one snapshot of the composite in the history.
type Point struct {
	At    time.Time `json:"at"`
	Score float64   `json:"score"`
}

// Regression says that a service's readiness dropped enough to tell its channel (SPEC §4.4).
type Regression struct {
	Service    string          `json:"service"`
	From       float64         `json:"from"`
	To         float64         `json:"to"`
	Drop       float64         `json:"drop"`
	FromBand   string          `json:"from_band"`
	ToBand     string          `json:"to_band"`
	BandFell   bool            `json:"band_fell"`
	At         time.Time       `json:"at"`
	Dimensions []DimensionDrop `json:"dimensions"`
}

// DimensionDrop is a dimension whose score fell, with the signals that got worse.
type DimensionDrop struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	From     float64      `json:"from"`
	To       float64      `json:"to"`
	Playbook string       `json:"playbook"`
	Signals  []SignalDrop `json:"signals"`
}

// SignalDrop is a signal that scored lower than before.
type SignalDrop struct {
	ID       string                `json:"id"`
	Name     string                `json:"name"`
	From     float64               `json:"from"`
	To       float64               `json:"to"`
	Outcome  Outcome               `json:"outcome"`
	Reason   string                `json:"reason"`
	Playbook string                `json:"playbook"`
	Evidence []releaseops.Evidence `json:"evidence"`
}
