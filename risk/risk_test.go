package risk

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// mixedInput has a known value for every factor under DefaultConfig:
// change 0.5, release 0.5, deploy_time 0.7 (off hours), on_call unknown 0.5, incidents 0,
// failure rate 1 (3 of 10), batch age 0, band watch 0.6.
func mixedInput() Input {
	now := time.Date(2026, 6, 10, 20, 0, 0, 0, time.UTC) // Wednesday, off hours
	in := Input{
		Service: "payments", Environment: "production", Now: now,
		Change:               &Change{Base: "aaa", Head: "bbb", Files: 1, Additions: 300, Deletions: 225, Commits: 4},
		Release:              "r-42",
		ReleaseServices:      []string{"ledger", "fraud"},
		Deploys:              deploys(now, 10, 3),
		LastProductionDeploy: now.Add(-24 * time.Hour),
		Band:                 "watch",
	}
	return in
}

func ids(fs []Factor) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

func TestAssessWeightedMean(t *testing.T) {
	m := mustModel(t, DefaultConfig())
	a := m.Assess(mixedInput())
	// 20*0.5 + 10*0.5 + 15*0.7 + 15*0.5 + 15*0 + 10*1 + 5*0 + 10*0.6 = 49 of 100.
	if a.Score != 49 || a.Level != Medium {
		t.Fatalf("score %v level %s, want 49 medium (%+v)", a.Score, a.Level, a.Factors)
	}
	points := map[string]float64{FactorDeployTime: 10.5, FactorChangeSize: 10, FactorFailureRate: 10, FactorOnCall: 7.5,
		FactorReadinessBand: 6, FactorReleaseSize: 5, FactorBatchAge: 0, FactorIncidents: 0}
	sum := 0.0
	for _, f := range a.Factors {
		if f.Points != points[f.ID] {
			t.Errorf("%s: points %v, want %v", f.ID, f.Points, points[f.ID])
		}
		if f.Weight != DefaultConfig().Weights[f.ID] {
			t.Errorf("%s: weight %v, want the configured %v", f.ID, f.Weight, DefaultConfig().Weights[f.ID])
		}
		sum += f.Points
	}
	if !approx(sum, a.Score) {
		t.Errorf("points add up to %v, score %v", sum, a.Score)
	}
	// Points descending, ties by id: change_failure_rate before change_size, batch_age before open_incidents.
	want := []string{FactorDeployTime, FactorFailureRate, FactorChangeSize, FactorOnCall, FactorReadinessBand, FactorReleaseSize,
		FactorBatchAge, FactorIncidents}
	if got := ids(a.Factors); !slices.Equal(got, want) {
		t.Errorf("factor order %v, want %v", got, want)
	}

	// A total weight other than 100: (3*0.5 + 1*1) / 4.
	c := DefaultConfig()
	c.Weights = map[string]float64{FactorChangeSize: 3, FactorIncidents: 1}
	in := mixedInput()
	in.Incidents = []Incident{{ID: "INC-1", Title: "down"}}
	a = mustModel(t, c).Assess(in)
	if a.Score != 62.5 || len(a.Factors) != 2 || a.Factors[0].ID != FactorChangeSize || a.Factors[0].Points != 37.5 || a.Factors[1].Points != 25 {
		t.Errorf("weights 3 and 1: %+v, want score 62.5 from 37.5 + 25", a)
	}
}

func TestAssessZeroWeightLeavesOut(t *testing.T) {
	c := DefaultConfig()
	c.Weights[FactorOnCall] = 0
	delete(c.Weights, FactorBatchAge) // missing is zero too
	a := mustModel(t, c).Assess(mixedInput())
	for _, f := range a.Factors {
		if f.ID == FactorOnCall || f.ID == FactorBatchAge {
			t.Errorf("factor %s has weight 0 and is in the assessment", f.ID)
		}
	}
	if len(a.Factors) != 6 {
		t.Errorf("%d factors, want 6", len(a.Factors))
	}
	// (10 + 5 + 10.5 + 0 + 10 + 6) / 80 = 51.875
	if a.Score != 51.9 {
		t.Errorf("score %v, want 51.9 (the mean over the weighted factors only)", a.Score)
	}
}

func TestAssessLevels(t *testing.T) {
	for _, c := range []struct {
		value float64
		score float64
		want  Level
	}{
		{0, 0, Low},
		{0.349, 34.9, Low},
		{0.35, 35, Medium}, // medium_at exactly
		{0.351, 35.1, Medium},
		{0.649, 64.9, Medium},
		{0.65, 65, High}, // high_at exactly
		{0.651, 65.1, High},
		{1, 100, High},
	} {
		cfg := DefaultConfig()
		cfg.Weights = map[string]float64{FactorDeployTime: 1}
		cfg.OffHours = c.value
		in := baseInput()
		in.Now = time.Date(2026, 6, 10, 22, 0, 0, 0, time.UTC)
		a := mustModel(t, cfg).Assess(in)
		if a.Score != c.score || a.Level != c.want {
			t.Errorf("value %v: score %v level %s, want %v %s", c.value, a.Score, a.Level, c.score, c.want)
		}
	}
	// The thresholds are config.
	cfg := DefaultConfig()
	cfg.MediumAt, cfg.HighAt = 10, 20
	m := mustModel(t, cfg)
	for _, c := range []struct {
		score float64
		want  Level
	}{{9.9, Low}, {10, Medium}, {19.9, Medium}, {20, High}} {
		if got := m.level(c.score); got != c.want {
			t.Errorf("medium_at 10 high_at 20, score %v: %s, want %s", c.score, got, c.want)
		}
	}
}

func TestAssessCalm(t *testing.T) {
	a := mustModel(t, DefaultConfig()).Assess(baseInput())
	if a.Score != 0 || a.Level != Low {
		t.Errorf("a calm deploy: %+v, want 0 low", a)
	}
	if got := ids(a.Factors); !slices.IsSorted(got) || len(got) != 8 {
		t.Errorf("all at 0 points: order %v, want all 8 by id", got)
	}
}

func goldenInput() Input {
	now := time.Date(2026, 10, 23, 12, 30, 0, 0, time.UTC) // Friday 14:30 CEST
	return Input{
		Service: "payments", Environment: "production", Now: now,
		Change: &Change{Base: "1111111", Head: "2222222", Files: 23, Additions: 410, Deletions: 120, Commits: 9,
			URL: "https://github.com/acme/payments/compare/1111111...2222222"},
		Release:              "2026.10.23-1",
		ReleaseServices:      []string{"ledger"},
		OnCall:               &OnCall{Covered: true, Who: "Ana Diaz", Until: now.Add(2 * time.Hour), Source: "pagerduty:schedule/PABC123"},
		Incidents:            []Incident{{ID: "Q1W2E3", Title: "Elevated 502s on /charge", Priority: "P2", URL: "https://acme.pagerduty.com/incidents/Q1W2E3", Since: now.Add(-3 * time.Hour)}},
		Deploys:              deploys(now, 12, 2),
		LastProductionDeploy: now.Add(-10 * 24 * time.Hour),
		Band:                 "healthy",
	}
}

func goldenModel(t *testing.T) *Model {
	c := DefaultConfig()
	c.Calendar = CalendarConfig{Timezone: "Europe/Berlin", FridayAfternoonFrom: "14:00", Holidays: []string{"12-25 Christmas"}}
	return mustModel(t, c)
}

func TestAssessGolden(t *testing.T) {
	a := goldenModel(t).Assess(goldenInput())
	got, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "assessment.golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./risk -run TestAssessGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("assessment differs from %s (rerun with -update if the change is intended):\n got: %s\nwant: %s", path, got, want)
	}
}

func TestAssessDeterministic(t *testing.T) {
	m := goldenModel(t)
	in := goldenInput()
	first, _ := json.Marshal(m.Assess(in))
	for i := 0; i < 100; i++ {
		b, _ := json.Marshal(m.Assess(in))
		if !bytes.Equal(b, first) {
			t.Fatalf("run %d differs:\n%s\n%s", i, b, first)
		}
	}
	// Deploys and release services in any order give the same risk.
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		in2 := goldenInput()
		r.Shuffle(len(in2.Deploys), func(i, j int) { in2.Deploys[i], in2.Deploys[j] = in2.Deploys[j], in2.Deploys[i] })
		in2.ReleaseServices = []string{"ledger"}
		b, _ := json.Marshal(m.Assess(in2))
		if !bytes.Equal(b, first) {
			t.Fatalf("shuffled deploys differ:\n%s\n%s", b, first)
		}
	}
	// Assess leaves its input alone.
	again := goldenInput()
	if !slices.Equal(in.Deploys, again.Deploys) || !slices.Equal(in.ReleaseServices, again.ReleaseServices) {
		t.Errorf("Assess changed its input")
	}
}

func TestCompileDefaults(t *testing.T) {
	m, p := Compile(DefaultConfig())
	if len(p) > 0 || m == nil {
		t.Fatalf("DefaultConfig: %v", p)
	}
	total := 0.0
	for _, w := range m.Config().Weights {
		total += w
	}
	if total != 100 {
		t.Errorf("default weights add to %v, want 100 (points read as percent)", total)
	}
}

func TestCompileRefuses(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		key   string // the problem starts with it
		words []string
	}{
		{"negative weight", func(c *Config) { c.Weights[FactorOnCall] = -1 }, "risk.weights.on_call:", []string{"must not be negative"}},
		{"unknown factor", func(c *Config) { c.Weights["churn"] = 5 }, "risk.weights.churn:", []string{"unknown factor", "change_size"}},
		{"no positive weight", func(c *Config) { c.Weights = map[string]float64{FactorOnCall: 0} }, "risk.weights:", []string{"positive weight"}},
		{"medium_at equals high_at", func(c *Config) { c.MediumAt, c.HighAt = 50, 50 }, "risk.medium_at:", []string{"medium_at < high_at", "50 and 50"}},
		{"medium_at above high_at", func(c *Config) { c.MediumAt, c.HighAt = 70, 60 }, "risk.medium_at:", []string{"70 and 60"}},
		{"medium_at zero", func(c *Config) { c.MediumAt = 0 }, "risk.medium_at:", nil},
		{"high_at above 100", func(c *Config) { c.HighAt = 101 }, "risk.medium_at:", []string{"<= 100"}},
		{"unknown above 1", func(c *Config) { c.Unknown = 1.5 }, "risk.unknown:", []string{"between 0 and 1"}},
		{"off_hours negative", func(c *Config) { c.OffHours = -0.1 }, "risk.off_hours:", []string{"between 0 and 1"}},
		{"weekend above 1", func(c *Config) { c.Weekend = 2 }, "risk.weekend:", nil},
		{"holiday above 1", func(c *Config) { c.Holiday = 2 }, "risk.holiday:", nil},
		{"friday_afternoon above 1", func(c *Config) { c.FridayAfternoon = 2 }, "risk.friday_afternoon:", nil},
		{"failure_rate_high zero", func(c *Config) { c.FailureRateHigh = 0 }, "risk.failure_rate_high:", []string{"above 0"}},
		{"lines inverted", func(c *Config) { c.LinesLow, c.LinesHigh = 100, 100 }, "risk.lines_high:", []string{"lines_low < lines_high"}},
		{"files inverted", func(c *Config) { c.FilesLow, c.FilesHigh = 10, 5 }, "risk.files_high:", nil},
		{"batch age inverted", func(c *Config) { c.BatchAgeHigh = c.BatchAgeLow }, "risk.batch_age_high:", nil},
		{"release window zero", func(c *Config) { c.ReleaseWindow = 0 }, "risk.release_window:", nil},
		{"failure_rate_min_deploys zero", func(c *Config) { c.FailureRateMinDeploys = 0 }, "risk.", []string{"failure_rate_min_deploys"}},
		{"failure_rate_days zero", func(c *Config) { c.FailureRateDays = 0 }, "risk.", []string{"failure_rate_days"}},
		{"band out of range", func(c *Config) { c.Bands["watch"] = 1.2 }, "risk.bands.watch:", nil},
		{"unknown time zone", func(c *Config) { c.Calendar.Timezone = "Mars/Olympus" }, "risk.calendar.timezone:", []string{`unknown time zone "Mars/Olympus"`, "IANA"}},
		{"inverted business hours", func(c *Config) { c.Calendar.BusinessHours = "17:00-09:00" }, "risk.calendar.business_hours:", []string{"inverted"}},
		{"empty business hours", func(c *Config) { c.Calendar.BusinessHours = "09:00-09:00" }, "risk.calendar.business_hours:", []string{"inverted or empty"}},
		{"business hours not a span", func(c *Config) { c.Calendar.BusinessHours = "9 to 5" }, "risk.calendar.business_hours:", nil},
		{"business hours past 24:00", func(c *Config) { c.Calendar.BusinessHours = "09:00-24:30" }, "risk.calendar.business_hours:", nil},
		{"unknown business day", func(c *Config) { c.Calendar.BusinessDays = []string{"mon-fry"} }, "risk.calendar.business_days:", []string{`"fry"`}},
		{"bad holiday", func(c *Config) { c.Calendar.Holidays = []string{"12-25 Christmas", "25.12. Weihnachten"} }, "risk.calendar.holidays:",
			[]string{`entry 1 "25.12. Weihnachten"`, "YYYY-MM-DD or MM-DD"}},
		{"holiday not a date", func(c *Config) { c.Calendar.Holidays = []string{"2026-02-30"} }, "risk.calendar.holidays:", nil},
		{"holiday bad month", func(c *Config) { c.Calendar.Holidays = []string{"13-01"} }, "risk.calendar.holidays:", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := DefaultConfig()
			c.edit(&cfg)
			m, p := Compile(cfg)
			if m != nil {
				t.Errorf("compiled a model")
			}
			found := false
			for _, x := range p {
				if strings.HasPrefix(x, c.key) {
					found = true
					wantWords(t, "problem", x, c.words...)
				}
			}
			if !found {
				t.Errorf("problems %q: want one starting with %q", p, c.key)
			}
		})
	}
	// Every problem is reported, not just the first.
	cfg := DefaultConfig()
	cfg.Weights["churn"] = -1
	cfg.MediumAt = 90
	_, p := Compile(cfg)
	if len(p) != 3 {
		t.Errorf("problems %q: want 3 (unknown factor, negative, medium_at)", p)
	}
	// A recurring 02-29 is a valid holiday.
	cfg = DefaultConfig()
	cfg.Calendar.Holidays = []string{"02-29 Leap day", "2028-02-29"}
	if _, p := Compile(cfg); len(p) > 0 {
		t.Errorf("02-29: %v", p)
	}
}
