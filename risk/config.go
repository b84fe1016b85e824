package risk

import (
	"fmt"
	"sort"
	"time"

	"github.com/releaseops/releaseops"
)

// Factor ids, as config and responses name them.
const (
	FactorChangeSize    = "change_size"
	FactorReleaseSize   = "release_size"
	FactorDeployTime    = "deploy_time"
	FactorOnCall        = "on_call"
	FactorIncidents     = "open_incidents"
	FactorFailureRate   = "change_failure_rate"
	FactorBatchAge      = "batch_age"
	FactorReadinessBand = "readiness_band"
)

// Config is the `risk:` section: how much each factor weighs and where the levels start.
// Every field has a documented default (DefaultConfig); a zero weight leaves a factor out.
type Config struct {
	// Weights per factor id; the score is the weighted mean of the factors' values, 0–100.
	Weights map[string]float64 `yaml:"weights" json:"weights"`
	// MediumAt and HighAt are the scores where the levels medium and high start.
	MediumAt float64 `yaml:"medium_at" json:"medium_at"`
	HighAt   float64 `yaml:"high_at" json:"high_at"`
	// Unknown is the value (0–1) a factor takes when its data is missing: not knowing is a
	// risk, but not the worst one.
	Unknown float64 `yaml:"unknown" json:"unknown"`
	// Change: lines (added + deleted) and files between the last production commit and this
	// one; at or below the low mark the factor is 0, at or above the high mark 1.
	LinesLow  int `yaml:"lines_low" json:"lines_low"`
	LinesHigh int `yaml:"lines_high" json:"lines_high"`
	FilesLow  int `yaml:"files_low" json:"files_low"`
	FilesHigh int `yaml:"files_high" json:"files_high"`
	// ReleaseWindow: deploy events and gate requests carrying the same release id within it
	// are one release; ReleaseServicesHigh other services in it make the factor 1.
	ReleaseWindow       releaseops.Duration `yaml:"release_window" json:"release_window"`
	ReleaseServicesHigh int                 `yaml:"release_services_high" json:"release_services_high"`
	// OnCallHorizon is how far ahead on-call must be covered.
	OnCallHorizon releaseops.Duration `yaml:"on_call_horizon" json:"on_call_horizon"`
	// FailureRateDays of production deploys; fewer than FailureRateMinDeploys is "unknown";
	// a rate at or above FailureRateHigh makes the factor 1.
	FailureRateDays       int     `yaml:"failure_rate_days" json:"failure_rate_days"`
	FailureRateMinDeploys int     `yaml:"failure_rate_min_deploys" json:"failure_rate_min_deploys"`
	FailureRateHigh       float64 `yaml:"failure_rate_high" json:"failure_rate_high"`
	// BatchAgeLow and BatchAgeHigh: time since the last production deploy (a big batch
	// waiting) from which the factor starts to rise, and where it is 1.
	BatchAgeLow  releaseops.Duration `yaml:"batch_age_low" json:"batch_age_low"`
	BatchAgeHigh releaseops.Duration `yaml:"batch_age_high" json:"batch_age_high"`
	// DeployTime values per kind of moment (0–1).
	OffHours        float64 `yaml:"off_hours" json:"off_hours"`
	Weekend         float64 `yaml:"weekend" json:"weekend"`
	Holiday         float64 `yaml:"holiday" json:"holiday"`
	FridayAfternoon float64 `yaml:"friday_afternoon" json:"friday_afternoon"`
	// Bands maps a readiness band to the factor's value.
	Bands map[string]float64 `yaml:"bands" json:"bands"`
	// Calendar is the business calendar.
	Calendar CalendarConfig `yaml:"calendar" json:"calendar"`
}

// DefaultConfig is what applies where `risk:` says nothing.
func DefaultConfig() Config {
	return Config{
		Weights: map[string]float64{FactorChangeSize: 20, FactorReleaseSize: 10, FactorDeployTime: 15, FactorOnCall: 15,
			FactorIncidents: 15, FactorFailureRate: 10, FactorBatchAge: 5, FactorReadinessBand: 10},
		MediumAt: 35, HighAt: 65, Unknown: 0.5,
		LinesLow: 50, LinesHigh: 1000, FilesLow: 5, FilesHigh: 50,
		ReleaseWindow: releaseops.Duration(2 * time.Hour), ReleaseServicesHigh: 4,
		OnCallHorizon:   releaseops.Duration(4 * time.Hour),
		FailureRateDays: 30, FailureRateMinDeploys: 5, FailureRateHigh: 0.3,
		BatchAgeLow: releaseops.Duration(7 * 24 * time.Hour), BatchAgeHigh: releaseops.Duration(30 * 24 * time.Hour),
		OffHours: 0.7, Weekend: 1, Holiday: 1, FridayAfternoon: 0.6,
		Bands:    map[string]float64{"mature": 0, "healthy": 0.2, "watch": 0.6, "blocked": 1},
		Calendar: CalendarConfig{FridayAfternoonFrom: "14:00"},
	}
}

// Model is a checked Config, ready to assess.
type Model struct {
	cfg Config
	cal *Calendar
}

// Compile checks c (every problem as "risk.<key>: why") and returns the model.
func Compile(c Config) (*Model, []string) {
	var p []string
	add := func(key, format string, args ...any) { p = append(p, "risk."+key+": "+fmt.Sprintf(format, args...)) }
	known := map[string]bool{FactorChangeSize: true, FactorReleaseSize: true, FactorDeployTime: true, FactorOnCall: true,
		FactorIncidents: true, FactorFailureRate: true, FactorBatchAge: true, FactorReadinessBand: true}
	total := 0.0
	keys := make([]string, 0, len(c.Weights))
	for k := range c.Weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w := c.Weights[k]
		if !known[k] {
			add("weights."+k, "unknown factor (factors: change_size, release_size, deploy_time, on_call, open_incidents, change_failure_rate, batch_age, readiness_band)")
		}
		if w < 0 {
			add("weights."+k, "must not be negative, got %v", w)
		}
		total += w
	}
	if total <= 0 {
		add("weights", "at least one factor needs a positive weight")
	}
	if !(c.MediumAt > 0 && c.MediumAt < c.HighAt && c.HighAt <= 100) {
		add("medium_at", "want 0 < medium_at < high_at <= 100, got %v and %v", c.MediumAt, c.HighAt)
	}
	for _, kv := range []struct {
		key string
		v   float64
	}{{"unknown", c.Unknown}, {"off_hours", c.OffHours}, {"weekend", c.Weekend}, {"holiday", c.Holiday},
		{"friday_afternoon", c.FridayAfternoon}, {"failure_rate_high", c.FailureRateHigh}} {
		if kv.v < 0 || kv.v > 1 {
			add(kv.key, "must be between 0 and 1, got %v", kv.v)
		}
	}
	if c.FailureRateHigh <= 0 {
		add("failure_rate_high", "must be above 0")
	}
	if c.LinesLow < 0 || c.LinesHigh <= c.LinesLow {
		add("lines_high", "want 0 <= lines_low < lines_high, got %d and %d", c.LinesLow, c.LinesHigh)
	}
	if c.FilesLow < 0 || c.FilesHigh <= c.FilesLow {
		add("files_high", "want 0 <= files_low < files_high, got %d and %d", c.FilesLow, c.FilesHigh)
	}
	if c.BatchAgeLow < 0 || c.BatchAgeHigh <= c.BatchAgeLow {
		add("batch_age_high", "want 0 <= batch_age_low < batch_age_high, got %s and %s", c.BatchAgeLow, c.BatchAgeHigh)
	}
	if c.ReleaseWindow <= 0 {
		add("release_window", "must be positive, got %s", c.ReleaseWindow)
	}
	if c.ReleaseServicesHigh < 1 {
		add("release_services_high", "must be at least 1, got %d", c.ReleaseServicesHigh)
	}
	if c.OnCallHorizon < 0 {
		add("on_call_horizon", "must not be negative, got %s", c.OnCallHorizon)
	}
	if c.FailureRateDays < 1 {
		add("failure_rate_days", "must be at least 1, got %d", c.FailureRateDays)
	}
	if c.FailureRateMinDeploys < 1 {
		add("failure_rate_min_deploys", "must be at least 1, got %d", c.FailureRateMinDeploys)
	}
	bands := make([]string, 0, len(c.Bands))
	for band := range c.Bands {
		bands = append(bands, band)
	}
	sort.Strings(bands)
	for _, band := range bands {
		if v := c.Bands[band]; v < 0 || v > 1 {
			add("bands."+band, "must be between 0 and 1, got %v", v)
		}
	}
	cal, err := CompileCalendar(c.Calendar)
	if err != nil {
		p = append(p, "risk.calendar."+err.Error())
	}
	if len(p) > 0 {
		return nil, p
	}
	return &Model{cfg: c, cal: cal}, nil
}

// Config returns the model's configuration.
func (m *Model) Config() Config { return m.cfg }

// Calendar returns the model's business calendar.
func (m *Model) Calendar() *Calendar { return m.cal }
