package scoring

import (
	"time"

	"github.com/releaseops/releaseops"
)

// Thresholds are the band limits of one environment (config `gate.thresholds.<env>`).
type Thresholds struct {
	BlockBelow    float64 `yaml:"block_below"`
	ApprovalBelow float64 `yaml:"approval_below"`
	MatureAt      float64 `yaml:"mature_at"`
}

// DefaultThresholds applies when the config names no thresholds for an environment and no
// "default" entry either.
var DefaultThresholds = Thresholds{BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85}

// Config is the `scoring:` section of the YAML config. It holds plain values only: the config
// loader walks these yaml tags reflectively to report unknown keys with their path. Zero
// values mean "use the default"; Compile validates and fills them.
type Config struct {
	// TrendWindow is the span of the trend arrow (default 720h, 30 days).
	TrendWindow releaseops.Duration `yaml:"trend_window"`
	// RegressionAlertPoints is the composite drop that counts as a regression (default 5).
	RegressionAlertPoints float64 `yaml:"regression_alert_points"`
	// RescoreInterval is how often every service is rescored for signals that decay with time
	// (a runbook ageing past 30 days with no event). Default 1h.
	RescoreInterval releaseops.Duration `yaml:"rescore_interval"`
	// Signals overrides the shipped weight, target and windows of built-in signals, by id.
	Signals map[string]SignalConfig `yaml:"signals"`
	// Floors are optional hard floors per dimension id.
	Floors map[string]Floor `yaml:"floors"`
	// Levels replaces the rule set of a level (bronze, silver, gold). A level not named keeps
	// its shipped rules.
	Levels map[string]LevelConfig `yaml:"levels"`
	// Rules are custom CEL rules that join a dimension (as an extra signal) or a level.
	Rules []Rule `yaml:"rules"`
	// Waivers let a signal pass for a service until the waiver expires.
	Waivers []Waiver `yaml:"waivers"`
	// SyncStaleAfter is sync.stale_after, set by the app from the sync section (hence no yaml
	// key here): a branch state resting on an API read older than this does not count as
	// passing, since nothing would tell a failing sync from an unchanged setting. 0: 72h.
	SyncStaleAfter time.Duration `yaml:"-"`
}

// SignalConfig overrides the parameters of one built-in signal. A zero field keeps the shipped
// default. What Target and Within mean depends on the signal (see Registry and docs/scoring.md).
type SignalConfig struct {
	// Weight of the signal inside its dimension (default 1; use Disabled to switch it off).
	Weight float64 `yaml:"weight"`
	// Target is the level the signal wants: a share (0–1), a count, seconds or a rate.
	Target float64 `yaml:"target"`
	// Window is how far back the signal looks (e.g. 720h for "merged PRs in 30 days").
	Window releaseops.Duration `yaml:"window"`
	// Within is the signal's time tolerance (e.g. drift triaged within 12h).
	Within releaseops.Duration `yaml:"within"`
	// Disabled takes the signal out of its dimension; it is shown as not_applicable.
	Disabled bool `yaml:"disabled"`
}

// Floor is a hard floor: when the dimension scores below Min, the band is capped at Cap
// (watch or blocked) whatever the composite.
type Floor struct {
	Min float64 `yaml:"min"`
	Cap string  `yaml:"cap"`
}

// LevelConfig is the rule set of one level. Every rule must pass for the level to be reached.
type LevelConfig struct {
	Rules []LevelRule `yaml:"rules"`
}

// LevelRule is one rule of a level: a CEL expression that must evaluate to true.
type LevelRule struct {
	ID          string `yaml:"id"`
	Description string `yaml:"description"`
	Expr        string `yaml:"expr"`
	// EnforceFrom (a date, 2027-01-15, or an RFC 3339 time): until then the rule is shown as
	// upcoming and does not count.
	EnforceFrom string `yaml:"enforce_from"`
}

// Rule is a custom rule written in CEL. Exactly one of Dimension or Level is set: a dimension
// rule is an extra signal of that dimension (a bool gives 1 or 0, a double between 0 and 1 is
// a graded score), a level rule is an extra rule of that level (it must be a bool).
type Rule struct {
	ID          string  `yaml:"id"`
	Description string  `yaml:"description"`
	Expr        string  `yaml:"expr"`
	Dimension   string  `yaml:"dimension"`
	Level       string  `yaml:"level"`
	Weight      float64 `yaml:"weight"` // dimension rules only; default 1
	// EnforceFrom: until this date the rule is shown as upcoming and does not count.
	EnforceFrom string `yaml:"enforce_from"`
}

// Waiver lets a signal count as passing for one service until Expires (RFC 3339, or a date
// 2006-01-02 meaning the end of that day in UTC).
type Waiver struct {
	Service string `yaml:"service"`
	Signal  string `yaml:"signal"`
	Reason  string `yaml:"reason"`
	Author  string `yaml:"author"`
	Expires string `yaml:"expires"`
}

// Levels, from lowest to highest. LevelNone is the level of a service that misses bronze.
const (
	LevelNone   = "none"
	LevelBronze = "bronze"
	LevelSilver = "silver"
	LevelGold   = "gold"
)

// LevelOrder lists the levels from lowest to highest.
var LevelOrder = []string{LevelBronze, LevelSilver, LevelGold}

// Defaults of the scalar settings.
const (
	DefaultTrendWindow           = 720 * time.Hour
	DefaultRegressionAlertPoints = 5.0
	DefaultRescoreInterval       = time.Hour
	DefaultSyncStaleAfter        = 72 * time.Hour
)

// DefaultConfig returns the shipped scoring config: default windows and the default level
// rules. Signal parameters default in the registry, so Signals is empty.
func DefaultConfig() Config {
	return Config{
		TrendWindow:           releaseops.Duration(DefaultTrendWindow),
		RegressionAlertPoints: DefaultRegressionAlertPoints,
		RescoreInterval:       releaseops.Duration(DefaultRescoreInterval),
		Signals:               map[string]SignalConfig{},
		Floors:                map[string]Floor{},
		Levels:                DefaultLevels(),
	}
}

// DefaultLevels returns the shipped level rules. Rules read the variables described in
// docs/scoring.md: signals (id → score), outcomes (id → outcome), dimensions (applicable
// dimension id → score), score (the composite), dora, service.
func DefaultLevels() map[string]LevelConfig {
	return map[string]LevelConfig{
		LevelBronze: {Rules: []LevelRule{
			{ID: "owner", Description: "one owning team is named in the catalog", Expr: `outcomes.owner_defined == "pass" || outcomes.owner_defined == "waived"`},
			{ID: "protected", Description: "the default branch is protected", Expr: `signals.default_branch_protected == 1.0`},
			{ID: "runbook", Description: "a runbook is linked", Expr: `service.runbook_url != ""`},
			{ID: "composite", Description: "composite score at least 50", Expr: `score >= 50.0`},
		}},
		LevelSilver: {Rules: []LevelRule{
			{ID: "reviews", Description: "branch governance at least 0.7", Expr: `dimensions.branch_governance >= 0.7`},
			{ID: "rollback", Description: "rollback readiness at least 0.6", Expr: `!("rollback_readiness" in dimensions) || dimensions.rollback_readiness >= 0.6`},
			{ID: "observability", Description: "observability at least 0.75", Expr: `dimensions.observability >= 0.75`},
			{ID: "composite", Description: "composite score at least 70", Expr: `score >= 70.0`},
		}},
		LevelGold: {Rules: []LevelRule{
			{ID: "every_dimension", Description: "every applicable dimension at least 0.6", Expr: `dimensions.all(d, dimensions[d] >= 0.6)`},
			{ID: "change_failure_rate", Description: "change failure rate measured and at most 15%", Expr: `dora.deploys > 0 && dora.change_failure_rate <= 0.15`},
			{ID: "composite", Description: "composite score at least 85", Expr: `score >= 85.0`},
		}},
	}
}
