package scoring

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/releaseops/releaseops/internal/nearest"
)

// Engine scores services with one compiled config. It is immutable and safe for concurrent use.
type Engine struct {
	publicURL   string
	thresholds  map[string]Thresholds
	trendWindow time.Duration
	alertPoints float64
	rescore     time.Duration
	lookback    time.Duration
	syncStale   time.Duration

	defs     []SignalDef
	params   map[string]Params
	disabled map[string]bool
	floors   []floorRule
	levels   []compiledLevel // bronze, silver, gold
	dimRules []*compiledRule // custom rules joining a dimension, in config order
	custom   []*compiledRule // every custom rule, in config order
	waivers  map[string][]compiledWaiver
	adapter  types.Adapter // converts rule variables to CEL values
}

type floorRule struct {
	dim string
	min float64
	cap string
}

type compiledLevel struct {
	name  string
	rules []*compiledRule
}

type compiledRule struct {
	id, desc, expr   string
	dimension, level string
	weight           float64
	custom           bool
	isBool           bool
	prg              cel.Program
	enforceFrom      time.Time // zero: counts always; else from then on (see enforce.go)
}

type compiledWaiver struct {
	w       Waiver
	expires time.Time
	// approver and ref are set on granted waivers (GrantedWaiver) only.
	approver, ref string
}

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// Compile validates the scoring config, the environment thresholds and the CEL rules, and
// returns an engine. The error joins every problem found, each starting with its YAML path.
func Compile(cfg Config, thresholds map[string]Thresholds, publicURL string) (*Engine, error) {
	var errs []error
	problem := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	e := &Engine{
		publicURL:   strings.TrimRight(publicURL, "/"),
		thresholds:  map[string]Thresholds{},
		trendWindow: cfg.TrendWindow.Std(),
		alertPoints: cfg.RegressionAlertPoints,
		rescore:     cfg.RescoreInterval.Std(),
		syncStale:   cfg.SyncStaleAfter,
		defs:        Registry(),
		params:      map[string]Params{},
		disabled:    map[string]bool{},
		waivers:     map[string][]compiledWaiver{},
	}

	switch {
	case e.trendWindow < 0:
		problem("scoring.trend_window", "must not be negative")
	case e.trendWindow == 0:
		e.trendWindow = DefaultTrendWindow
	case e.trendWindow < time.Hour:
		problem("scoring.trend_window", "%s is too short; use at least 1h (the default is 720h)", e.trendWindow)
	}
	switch {
	case e.alertPoints < 0 || e.alertPoints > 100:
		problem("scoring.regression_alert_points", "want a number of points between 0 and 100, got %s", num(e.alertPoints))
	case e.alertPoints == 0:
		e.alertPoints = DefaultRegressionAlertPoints
	}
	switch {
	case e.rescore < 0:
		problem("scoring.rescore_interval", "must not be negative")
	case e.rescore == 0:
		e.rescore = DefaultRescoreInterval
	case e.rescore < time.Minute:
		problem("scoring.rescore_interval", "%s is too short; use at least 1m", e.rescore)
	}
	switch {
	case e.syncStale < 0:
		problem("sync.stale_after", "must not be negative")
	case e.syncStale == 0:
		e.syncStale = DefaultSyncStaleAfter
	}

	// Signal overrides.
	ids := make([]string, len(e.defs))
	byID := map[string]*SignalDef{}
	for i := range e.defs {
		ids[i] = e.defs[i].ID
		byID[e.defs[i].ID] = &e.defs[i]
		e.params[e.defs[i].ID] = e.defs[i].Defaults
	}
	for _, id := range sortedKeys(cfg.Signals) {
		path := "scoring.signals." + id
		def := byID[id]
		if def == nil {
			problem(path, "unknown signal id %q%s", id, didYouMean(id, ids))
			continue
		}
		sc, p := cfg.Signals[id], def.Defaults
		switch {
		case sc.Weight < 0:
			problem(path+".weight", "must not be negative")
		case sc.Weight > 0:
			p.Weight = sc.Weight
		}
		switch {
		case sc.Target < 0:
			problem(path+".target", "must not be negative")
		case sc.Target > 0 && def.TargetUnit == "":
			problem(path+".target", "signal %s has no target", id)
		case sc.Target > 1 && (def.TargetUnit == "share" || def.TargetUnit == "rate"):
			problem(path+".target", "a %s is between 0 and 1, got %s", def.TargetUnit, num(sc.Target))
		case sc.Target > 0:
			p.Target = sc.Target
		}
		switch {
		case sc.Window < 0:
			problem(path+".window", "must not be negative")
		case sc.Window > 0 && def.WindowMeaning == "":
			problem(path+".window", "signal %s has no window", id)
		case sc.Window > 0 && sc.Window.Std() < time.Hour:
			problem(path+".window", "%s is too short; use at least 1h", sc.Window)
		case sc.Window > 0:
			p.Window = sc.Window.Std()
		}
		switch {
		case sc.Within < 0:
			problem(path+".within", "must not be negative")
		case sc.Within > 0 && def.WithinMeaning == "":
			problem(path+".within", "signal %s has no within tolerance", id)
		case sc.Within > 0:
			p.Within = sc.Within.Std()
		}
		e.params[id] = p
		e.disabled[id] = sc.Disabled
	}

	// Floors.
	for _, dim := range sortedKeys(cfg.Floors) {
		path := "scoring.floors." + dim
		f := cfg.Floors[dim]
		if _, ok := DimensionByID(dim); !ok {
			problem(path, "unknown dimension id %q%s", dim, didYouMean(dim, dimensionIDs()))
			continue
		}
		ok := true
		if f.Min <= 0 || f.Min > 1 {
			problem(path+".min", "want a dimension score above 0 and at most 1, got %s", num(f.Min))
			ok = false
		}
		if f.Cap != BandWatch && f.Cap != BandBlocked {
			problem(path+".cap", "want watch or blocked, got %q", f.Cap)
			ok = false
		}
		if ok {
			e.floors = append(e.floors, floorRule{dim: dim, min: f.Min, cap: f.Cap})
		}
	}
	slices.SortFunc(e.floors, func(a, b floorRule) int { return dimIndex(a.dim) - dimIndex(b.dim) })

	env, err := newCELEnv()
	if err != nil {
		return nil, fmt.Errorf("scoring: CEL environment: %w", err)
	}
	e.adapter = env.CELTypeAdapter()

	// Levels.
	levels := cfg.Levels
	if levels == nil {
		levels = DefaultLevels()
	}
	defaults := DefaultLevels()
	for _, name := range sortedKeys(levels) {
		if !slices.Contains(LevelOrder, name) {
			problem("scoring.levels."+name, "unknown level %q; levels are bronze, silver and gold", name)
		}
	}
	for _, name := range LevelOrder {
		lc, ok := levels[name]
		if !ok {
			lc = defaults[name]
		}
		cl := compiledLevel{name: name}
		seen := map[string]bool{}
		for i, r := range lc.Rules {
			path := fmt.Sprintf("scoring.levels.%s.rules[%d]", name, i)
			switch {
			case r.ID == "":
				problem(path+".id", "a level rule needs an id")
			case seen[r.ID]:
				problem(path+".id", "duplicate rule id %q in level %s", r.ID, name)
			}
			seen[r.ID] = true
			from, err := parseEnforceFrom(r.EnforceFrom)
			if err != nil {
				problem(path+".enforce_from", "rule %q: %v", r.ID, err)
			}
			prg, _, err := compileExpr(env, r.Expr, true)
			if err != nil {
				problem(path+".expr", "rule %q: %v", r.ID, err)
				continue
			}
			cl.rules = append(cl.rules, &compiledRule{id: r.ID, desc: r.Description, expr: r.Expr, level: name, isBool: true, prg: prg, enforceFrom: from})
		}
		e.levels = append(e.levels, cl)
	}

	// Custom rules.
	ruleIDs := map[string]bool{}
	for i, r := range cfg.Rules {
		path := fmt.Sprintf("scoring.rules[%d]", i)
		ok := true
		switch {
		case r.ID == "":
			problem(path+".id", "a rule needs an id")
			ok = false
		case !ruleIDPattern.MatchString(r.ID):
			problem(path+".id", "rule id %q: use lowercase letters, digits, _ . and -", r.ID)
			ok = false
		case byID[r.ID] != nil:
			problem(path+".id", "rule id %q is a built-in signal id", r.ID)
			ok = false
		case ruleIDs[r.ID]:
			problem(path+".id", "duplicate rule id %q", r.ID)
			ok = false
		}
		ruleIDs[r.ID] = true
		switch {
		case (r.Dimension == "") == (r.Level == ""):
			problem(path, "rule %q: set exactly one of dimension or level", r.ID)
			ok = false
		case r.Dimension != "":
			if _, known := DimensionByID(r.Dimension); !known {
				problem(path+".dimension", "rule %q: unknown dimension id %q%s", r.ID, r.Dimension, didYouMean(r.Dimension, dimensionIDs()))
				ok = false
			}
		case !slices.Contains(LevelOrder, r.Level):
			problem(path+".level", "rule %q: unknown level %q; levels are bronze, silver and gold", r.ID, r.Level)
			ok = false
		}
		if r.Weight < 0 {
			problem(path+".weight", "rule %q: weight must not be negative", r.ID)
			ok = false
		}
		if r.Level != "" && r.Weight != 0 {
			problem(path+".weight", "rule %q: weight applies to dimension rules only", r.ID)
			ok = false
		}
		from, err := parseEnforceFrom(r.EnforceFrom)
		if err != nil {
			problem(path+".enforce_from", "rule %q: %v", r.ID, err)
			ok = false
		}
		prg, isBool, err := compileExpr(env, r.Expr, r.Level != "")
		if err != nil {
			problem(path+".expr", "rule %q: %v", r.ID, err)
			continue
		}
		if !ok {
			continue
		}
		w := r.Weight
		if w == 0 {
			w = 1
		}
		cr := &compiledRule{id: r.ID, desc: r.Description, expr: r.Expr, dimension: r.Dimension, level: r.Level,
			weight: w, custom: true, isBool: isBool, prg: prg, enforceFrom: from}
		e.custom = append(e.custom, cr)
		if r.Dimension != "" {
			e.dimRules = append(e.dimRules, cr)
		} else {
			for li := range e.levels {
				if e.levels[li].name == r.Level {
					e.levels[li].rules = append(e.levels[li].rules, cr)
				}
			}
		}
	}
	for _, l := range e.levels {
		if len(l.rules) == 0 {
			if _, ok := levels[l.name]; ok {
				problem("scoring.levels."+l.name+".rules", "level %s has no rule; give it at least one", l.name)
			}
		}
	}

	// Waivers.
	for i, w := range cfg.Waivers {
		path := fmt.Sprintf("scoring.waivers[%d]", i)
		ok := true
		if strings.TrimSpace(w.Service) == "" {
			problem(path+".service", "a waiver names the service it is for")
			ok = false
		}
		switch {
		case w.Signal == "":
			problem(path+".signal", "a waiver names the signal it waives")
			ok = false
		case byID[w.Signal] == nil && !isDimRule(cfg.Rules, w.Signal):
			problem(path+".signal", "unknown signal id %q%s", w.Signal, didYouMean(w.Signal, ids))
			ok = false
		}
		if strings.TrimSpace(w.Reason) == "" {
			problem(path+".reason", "a waiver needs a reason")
			ok = false
		}
		if strings.TrimSpace(w.Author) == "" {
			problem(path+".author", "a waiver needs an author")
			ok = false
		}
		exp, err := parseExpiry(w.Expires)
		if err != nil {
			problem(path+".expires", "%v", err)
			ok = false
		}
		if ok {
			k := waiverKey(w.Service, w.Signal)
			e.waivers[k] = append(e.waivers[k], compiledWaiver{w: w, expires: exp})
		}
	}

	// Thresholds.
	for _, name := range sortedKeys(thresholds) {
		t := thresholds[name]
		if t.BlockBelow < 0 || t.BlockBelow > t.ApprovalBelow || t.ApprovalBelow > t.MatureAt || t.MatureAt > 100 {
			problem("gate.thresholds."+name, "want 0 ≤ block_below ≤ approval_below ≤ mature_at ≤ 100, got %s, %s, %s",
				num(t.BlockBelow), num(t.ApprovalBelow), num(t.MatureAt))
			continue
		}
		e.thresholds[name] = t
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	for _, d := range e.defs {
		if !e.disabled[d.ID] {
			e.lookback = max(e.lookback, d.History(e.params[d.ID]))
		}
	}
	return e, nil
}

func isDimRule(rules []Rule, id string) bool {
	for _, r := range rules {
		if r.ID == id && r.Dimension != "" {
			return true
		}
	}
	return false
}

func waiverKey(service, signal string) string { return service + "\x00" + signal }

// parseExpiry reads RFC 3339, or a date meaning the end of that day in UTC.
func parseExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("a waiver needs an expiry (RFC 3339 time or a date such as 2026-12-31)")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Nanosecond), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-31T18:00:00Z) nor a date (2026-12-31)", s)
}

func dimensionIDs() []string {
	out := make([]string, len(Dimensions))
	for i, d := range Dimensions {
		out[i] = d.ID
	}
	return out
}

func dimIndex(id string) int {
	for i, d := range Dimensions {
		if d.ID == id {
			return i
		}
	}
	return len(Dimensions)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// didYouMean suggests the closest known id, if one is close.
func didYouMean(s string, known []string) string { return nearest.Suggest(s, known) }

// Lookback is how far back Score needs facts: the longest history any enabled signal reads.
func (e *Engine) Lookback() time.Duration { return e.lookback }

// TrendWindow is scoring.trend_window.
func (e *Engine) TrendWindow() time.Duration { return e.trendWindow }

// RegressionAlertPoints is scoring.regression_alert_points.
func (e *Engine) RegressionAlertPoints() float64 { return e.alertPoints }

// RescoreInterval is scoring.rescore_interval: how often to rescore for decaying signals.
func (e *Engine) RescoreInterval() time.Duration { return e.rescore }

// SyncStaleAfter is sync.stale_after: how old an API read may be before a state resting on
// it no longer counts as passing.
func (e *Engine) SyncStaleAfter() time.Duration { return e.syncStale }

// Params returns the effective parameters of a built-in signal.
func (e *Engine) Params(signalID string) (Params, bool) {
	p, ok := e.params[signalID]
	return p, ok
}

// Thresholds returns the thresholds of an environment: its own, else "default", else the
// shipped DefaultThresholds.
func (e *Engine) Thresholds(env string) Thresholds {
	if t, ok := e.thresholds[env]; ok {
		return t
	}
	if t, ok := e.thresholds["default"]; ok {
		return t
	}
	return DefaultThresholds
}

// Playbook is the link to a dimension's playbook.
func (e *Engine) Playbook(dimensionID string) string {
	return e.publicURL + "/playbooks/" + dimensionID
}

// Band places a composite in the environment's bands, then applies the hard floors of the
// card's dimensions: it returns the band and, if a floor lowered it, that floor (the most
// restrictive; the first in dimension order among equals). A nil card applies no floor.
func (e *Engine) Band(score float64, env string, card *Scorecard) (string, *FloorApplied) {
	t := e.Thresholds(env)
	band := BandBlocked
	switch {
	case score >= t.MatureAt:
		band = BandMature
	case score >= t.ApprovalBelow:
		band = BandHealthy
	case score >= t.BlockBelow:
		band = BandWatch
	}
	if card == nil {
		return band, nil
	}
	var worst *FloorApplied
	for _, f := range e.breachedFloors(card) {
		if worst == nil || BandRank(f.Cap) < BandRank(worst.Cap) {
			worst = &f
		}
	}
	if worst != nil && BandRank(band) > BandRank(worst.Cap) {
		return worst.Cap, worst
	}
	return band, nil
}

// breachedFloors lists the floors whose applicable dimension scores below the minimum.
func (e *Engine) breachedFloors(card *Scorecard) []FloorApplied {
	out := []FloorApplied{}
	for _, f := range e.floors {
		d := card.Dimension(f.dim)
		if d == nil || !d.Applicable || d.Score >= f.min {
			continue
		}
		out = append(out, FloorApplied{Dimension: f.dim, Min: f.min, Score: d.Score, Cap: f.cap})
	}
	return out
}
