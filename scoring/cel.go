package scoring

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	"github.com/releaseops/releaseops"
)

// The variables a CEL rule (custom rule or level rule) can read. Field names are the `cel`
// tags; docs/scoring.md lists them.

// ServiceVars is `service`: the catalog entry.
type ServiceVars struct {
	Name                string    `cel:"name"`
	Repo                string    `cel:"repo"`
	Owner               string    `cel:"owner"`
	Tier                int       `cel:"tier"`
	SlackChannel        string    `cel:"slack_channel"`
	StakeholderChannel  string    `cel:"stakeholder_channel"`
	Approvers           []string  `cel:"approvers"`
	PagerDutyServiceID  string    `cel:"pagerduty_service_id"`
	EscalationLevels    int       `cel:"escalation_levels"`
	RunbookURL          string    `cel:"runbook_url"`
	SLOs                []SLOVars `cel:"slos"`
	StructuredLogging   bool      `cel:"structured_logging"`
	TraceCorrelation    bool      `cel:"trace_correlation"`
	Stateful            bool      `cel:"stateful"`
	RTOTargetSeconds    float64   `cel:"rto_target_seconds"`
	ComplianceControls  []string  `cel:"compliance_controls"`
	StatusPageURL       string    `cel:"status_page_url"`
	DefaultBranch       string    `cel:"default_branch"`
	Codeowners          bool      `cel:"codeowners"`
	Terraform           bool      `cel:"terraform"`
	TerraformWorkspaces []string  `cel:"terraform_workspaces"`
	TerraformModules    int       `cel:"terraform_modules"` // how many are declared
}

// SLOVars is one entry of `service.slos`.
type SLOVars struct {
	Name      string  `cel:"name"`
	Objective float64 `cel:"objective"`
}

// DORAVars is `dora`. A metric without samples is 0; check the *_samples counts.
type DORAVars struct {
	WindowDays        int     `cel:"window_days"`
	Deploys           int     `cel:"deploys"`
	SuccessfulDeploys int     `cel:"successful_deploys"`
	DeploysPerWeek    float64 `cel:"deploys_per_week"`
	LeadTimeHours     float64 `cel:"lead_time_hours"`
	LeadTimeSamples   int     `cel:"lead_time_samples"`
	ChangeFailureRate float64 `cel:"change_failure_rate"`
	ChangeFailures    int     `cel:"change_failures"`
	MTTRHours         float64 `cel:"mttr_hours"`
	MTTRSamples       int     `cel:"mttr_samples"`
}

// DeployVars is one element of `deploys`: every deploy, rollback and rehearsal in the
// lookback, started and final events merged.
type DeployVars struct {
	ID           string    `cel:"id"`
	Environment  string    `cel:"environment"`
	Production   bool      `cel:"production"`
	Kind         string    `cel:"kind"`
	Status       string    `cel:"status"` // started while no final event arrived
	Strategy     string    `cel:"strategy"`
	Phases       int       `cel:"phases"`
	HealthChecks bool      `cel:"health_checks"`
	FeatureFlags bool      `cel:"feature_flags"`
	Snapshot     bool      `cel:"snapshot"`
	RTOSeconds   float64   `cel:"rto_seconds"` // 0 when not reported
	Version      string    `cel:"version"`
	CommitSHA    string    `cel:"commit_sha"`
	StartedAt    time.Time `cel:"started_at"`
	FinishedAt   time.Time `cel:"finished_at"` // the zero time while unfinished
	Finished     bool      `cel:"finished"`
}

// IncidentVars is one element of `incidents`.
type IncidentVars struct {
	ID          string    `cel:"id"`
	Title       string    `cel:"title"`
	Urgency     string    `cel:"urgency"`
	Priority    string    `cel:"priority"`
	Status      string    `cel:"status"`
	TriggeredAt time.Time `cel:"triggered_at"`
	ResolvedAt  time.Time `cel:"resolved_at"`
	Resolved    bool      `cel:"resolved"`
}

// PullRequestVars is one element of `pull_requests`: merged pull requests in the lookback.
type PullRequestVars struct {
	Repo      string    `cel:"repo"`
	Number    int       `cel:"number"`
	Title     string    `cel:"title"`
	Author    string    `cel:"author"`
	BaseRef   string    `cel:"base_ref"`
	MergedAt  time.Time `cel:"merged_at"`
	Approvals int       `cel:"approvals"`
	Labels    []string  `cel:"labels"`
}

func newCELEnv() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(
			ext.ParseStructTags(true),
			reflect.TypeFor[ServiceVars](), reflect.TypeFor[SLOVars](), reflect.TypeFor[DORAVars](),
			reflect.TypeFor[DeployVars](), reflect.TypeFor[IncidentVars](), reflect.TypeFor[PullRequestVars](),
		),
		ext.Strings(),
		ext.Lists(),
		ext.Bindings(),
		ext.Math(),
		cel.Variable("service", cel.ObjectType("scoring.ServiceVars")),
		cel.Variable("signals", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable("outcomes", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("dimensions", cel.MapType(cel.StringType, cel.DoubleType)),
		cel.Variable("score", cel.DoubleType),
		cel.Variable("dora", cel.ObjectType("scoring.DORAVars")),
		cel.Variable("deploys", cel.ListType(cel.ObjectType("scoring.DeployVars"))),
		cel.Variable("incidents", cel.ListType(cel.ObjectType("scoring.IncidentVars"))),
		cel.Variable("pull_requests", cel.ListType(cel.ObjectType("scoring.PullRequestVars"))),
		cel.Variable("counts", cel.MapType(cel.StringType, cel.IntType)),
		cel.Variable("now", cel.TimestampType),
	)
}

// compileExpr type-checks an expression; wantBool also accepts only bool results, otherwise
// bool or double. Problems come back in CEL's own one-line form (ERROR: <input>:1:9: ...).
func compileExpr(env *cel.Env, expr string, wantBool bool) (cel.Program, bool, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, false, errors.New("empty expression")
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		var lines []string
		for _, l := range strings.Split(iss.Err().Error(), "\n") {
			if strings.HasPrefix(l, "ERROR:") {
				lines = append(lines, l)
			}
		}
		return nil, false, errors.New(strings.Join(lines, "; "))
	}
	out := ast.OutputType()
	isBool := out.IsExactType(types.BoolType)
	switch {
	case isBool:
	case !wantBool && out.IsExactType(types.DoubleType):
	case wantBool:
		return nil, false, fmt.Errorf("the expression gives %s; a level rule must give a bool", out)
	default:
		return nil, false, fmt.Errorf("the expression gives %s; a dimension rule must give a bool or a double between 0 and 1", out)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, false, err
	}
	return prg, isBool, nil
}

// celVars builds the variables of one evaluation lazily: lists are converted only if a rule
// reads them.
type celVars struct {
	adapter    types.Adapter
	x          *facts
	dora       DORA
	signals    map[string]float64
	outcomes   map[string]string
	dimensions map[string]float64
	score      float64

	service   *ServiceVars
	deploys   ref.Val
	incidents ref.Val
	prs       ref.Val
	counts    map[string]int64
}

// list converts native values to CEL once, so a rule that walks a list several times does
// not convert every element on each pass.
func list[T any](adapter types.Adapter, items []T) ref.Val {
	vals := make([]ref.Val, len(items))
	for i := range items {
		vals[i] = adapter.NativeToValue(items[i])
	}
	return types.NewRefValList(adapter, vals)
}

func (v *celVars) activation() map[string]any {
	return map[string]any{
		"service":       func() any { return v.serviceVars() },
		"signals":       v.signals,
		"outcomes":      v.outcomes,
		"dimensions":    v.dimensions,
		"score":         v.score,
		"dora":          func() any { return v.doraVars() },
		"deploys":       func() any { return v.deployVars() },
		"incidents":     func() any { return v.incidentVars() },
		"pull_requests": func() any { return v.prVars() },
		"counts":        func() any { return v.countVars() },
		"now":           v.x.now,
	}
}

func (v *celVars) serviceVars() *ServiceVars {
	if v.service != nil {
		return v.service
	}
	s := v.x.svc
	sv := &ServiceVars{
		Name: s.Name, Repo: s.Repo, Owner: s.Owner, Tier: s.Tier, SlackChannel: s.SlackChannel,
		StakeholderChannel: s.StakeholderChannel, Approvers: nonNil(s.Approvers), PagerDutyServiceID: s.PagerDutyServiceID,
		EscalationLevels: s.EscalationLevels, RunbookURL: s.RunbookURL, StructuredLogging: s.StructuredLogging,
		TraceCorrelation: s.TraceCorrelation, Stateful: s.Stateful, RTOTargetSeconds: s.RTOTargetSeconds,
		ComplianceControls: nonNil(s.ComplianceControls), StatusPageURL: s.StatusPageURL, DefaultBranch: v.x.branchGov().name,
		Codeowners: s.Codeowners, Terraform: s.UsesTerraform(), TerraformWorkspaces: nonNil(s.TerraformWorkspaces),
		TerraformModules: len(s.TerraformModules), SLOs: []SLOVars{},
	}
	for _, o := range s.SLOs {
		sv.SLOs = append(sv.SLOs, SLOVars{Name: o.Name, Objective: o.Objective})
	}
	v.service = sv
	return sv
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (v *celVars) doraVars() DORAVars {
	d := v.dora
	out := DORAVars{WindowDays: d.WindowDays, Deploys: d.Deploys, SuccessfulDeploys: d.SuccessfulDeploys,
		DeploysPerWeek: d.DeploysPerWeek, LeadTimeSamples: d.LeadTimeSamples, ChangeFailures: d.ChangeFailures, MTTRSamples: d.MTTRSamples}
	if d.LeadTimeHours != nil {
		out.LeadTimeHours = *d.LeadTimeHours
	}
	if d.ChangeFailureRate != nil {
		out.ChangeFailureRate = *d.ChangeFailureRate
	}
	if d.MTTRHours != nil {
		out.MTTRHours = *d.MTTRHours
	}
	return out
}

func (v *celVars) deployVars() ref.Val {
	if v.deploys != nil {
		return v.deploys
	}
	out := make([]DeployVars, 0, len(v.x.deploys))
	for _, d := range v.x.deploys {
		dv := DeployVars{ID: d.key, Environment: d.env, Production: d.production(), Kind: d.kind, Status: d.status,
			Strategy: d.strategy, Phases: d.phases, HealthChecks: isTrue(d.health), FeatureFlags: isTrue(d.flags),
			Snapshot: isTrue(d.snapshot), Version: d.version, CommitSHA: d.commit, StartedAt: d.start,
			FinishedAt: d.end, Finished: d.finished()}
		if dv.Kind == "" {
			dv.Kind = releaseops.KindDeploy
		}
		if d.rto != nil {
			dv.RTOSeconds = *d.rto
		}
		out = append(out, dv)
	}
	v.deploys = list(v.adapter, out)
	return v.deploys
}

func (v *celVars) incidentVars() ref.Val {
	if v.incidents != nil {
		return v.incidents
	}
	recs := v.x.incidentRecs()
	out := make([]IncidentVars, 0, len(recs))
	for _, r := range recs {
		iv := IncidentVars{ID: r.id, TriggeredAt: r.triggered, ResolvedAt: r.resolved, Resolved: r.resolvedBy != nil}
		if r.inc != nil {
			iv.Title, iv.Urgency, iv.Priority, iv.Status = r.inc.Title, r.inc.Urgency, r.inc.Priority, r.inc.Status
		}
		out = append(out, iv)
	}
	v.incidents = list(v.adapter, out)
	return v.incidents
}

func (v *celVars) prVars() ref.Val {
	if v.prs != nil {
		return v.prs
	}
	out := make([]PullRequestVars, 0, len(v.x.prs))
	for _, p := range v.x.prs {
		out = append(out, PullRequestVars{Repo: p.pr.Repo, Number: p.pr.Number, Title: p.pr.Title, Author: p.pr.Author,
			BaseRef: p.pr.BaseRef, MergedAt: p.mergedAt(), Approvals: len(p.approvals), Labels: nonNil(p.pr.Labels)})
	}
	v.prs = list(v.adapter, out)
	return v.prs
}

func (v *celVars) countVars() map[string]int64 {
	if v.counts != nil {
		return v.counts
	}
	v.counts = make(map[string]int64, numKinds)
	for k, fs := range v.x.byKind {
		v.counts[string(kinds[k])] = int64(len(fs))
	}
	return v.counts
}

// evalRule runs a compiled rule: the score (bool → 1 or 0, double clamped to 0–1), the raw
// value for display, and an error message if the evaluation failed (the rule then fails).
func evalRule(prg cel.Program, act map[string]any) (score float64, value any, errMsg string) {
	out, _, err := prg.Eval(act)
	if err != nil {
		return 0, nil, err.Error()
	}
	return celResult(out)
}

func celResult(out ref.Val) (float64, any, string) {
	switch v := out.Value().(type) {
	case bool:
		if v {
			return 1, true, ""
		}
		return 0, false, ""
	case float64:
		return clamp01(v), round(v, signalDecimals), ""
	}
	return 0, nil, fmt.Sprintf("unexpected result type %s", out.Type())
}
