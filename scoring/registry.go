package scoring

import (
	"time"

	"github.com/releaseops/releaseops"
)

// Dimension ids, in SPEC §4.1 order.
const (
	DimBranchGovernance        = "branch_governance"
	DimRollbackReadiness       = "rollback_readiness"
	DimObservability           = "observability"
	DimDeploymentMaturity      = "deployment_maturity"
	DimOperationalCoordination = "operational_coordination"
	DimReleaseAuditability     = "release_auditability"
	DimTerraformGovernance     = "terraform_governance"
	DimInfrastructureDrift     = "infrastructure_drift"
	DimReleaseCommunication    = "release_communication"
)

// DimensionDef names one of the nine dimensions.
type DimensionDef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Terraform marks the dimensions that a catalog entry with `terraform: false` leaves out.
	Terraform bool `json:"-"`
}

// Dimensions are the nine dimensions in SPEC order. Treat as read-only.
var Dimensions = []DimensionDef{
	{ID: DimBranchGovernance, Name: "Branch governance"},
	{ID: DimRollbackReadiness, Name: "Rollback readiness"},
	{ID: DimObservability, Name: "Observability"},
	{ID: DimDeploymentMaturity, Name: "Deployment maturity"},
	{ID: DimOperationalCoordination, Name: "Operational coordination"},
	{ID: DimReleaseAuditability, Name: "Release auditability"},
	{ID: DimTerraformGovernance, Name: "Terraform governance", Terraform: true},
	{ID: DimInfrastructureDrift, Name: "Infrastructure drift", Terraform: true},
	{ID: DimReleaseCommunication, Name: "Release communication"},
}

// DimensionByID returns the dimension with the id.
func DimensionByID(id string) (DimensionDef, bool) {
	for _, d := range Dimensions {
		if d.ID == id {
			return d, true
		}
	}
	return DimensionDef{}, false
}

// Params are the tunable parameters of a signal. What Target and Within mean is given by the
// signal's TargetUnit and WithinMeaning.
type Params struct {
	Weight float64       `json:"weight"`
	Target float64       `json:"target,omitempty"`
	Window time.Duration `json:"window,omitempty"`
	Within time.Duration `json:"within,omitempty"`
}

// SignalDef is one built-in signal. Eval is pure: it reads the service's facts and the clock
// it is given, never anything else.
type SignalDef struct {
	ID        string
	Name      string
	Dimension string
	// Playbook is the id of the playbook that explains how to improve the signal (the
	// dimension's playbook, playbooks/<id>.md).
	Playbook string
	// Measures says in one sentence what the signal measures (docs and the playbooks).
	Measures string
	Defaults Params
	// TargetUnit names what Target is ("" when the signal has no target): share (0–1),
	// reviews, seconds, rate (0–1, lower is better), approvers, levels.
	TargetUnit string
	// WindowMeaning and WithinMeaning say what Window and Within are ("" when unused).
	WindowMeaning string
	WithinMeaning string
	// Curve names the grading curve (docs/scoring.md): binary, at_least, at_most, age, steps.
	Curve string
	// History is how far back the signal reads facts, for its parameters.
	History func(p Params) time.Duration

	eval func(x *facts, p Params) result
}

// result is what a signal evaluation returns, before waivers and rounding.
type result struct {
	score    float64
	outcome  Outcome // empty: derived from the score
	value    any
	reason   string
	evidence []releaseops.Evidence
}

const (
	day  = 24 * time.Hour
	hour = time.Hour
)

func windowHistory(p Params) time.Duration       { return p.Window }
func doubleWindowHistory(p Params) time.Duration { return 2 * p.Window }
func withinHistory(p Params) time.Duration       { return p.Window + 2*p.Within }
func noHistory(Params) time.Duration             { return 0 }

// Registry returns the built-in signals, grouped by dimension in SPEC order. Each call returns
// a fresh slice.
func Registry() []SignalDef {
	return withPlaybooks([]SignalDef{
		// Branch governance.
		{ID: "default_branch_protected", Name: "Default branch protected", Dimension: DimBranchGovernance,
			Measures: "a live branch protection rule or active ruleset covers the default branch",
			Defaults: Params{Weight: 1}, Curve: "binary", History: noHistory, eval: evalDefaultBranchProtected},
		{ID: "required_reviewers", Name: "Required approving reviews", Dimension: DimBranchGovernance,
			Measures: "approving reviews the default branch requires before a merge",
			Defaults: Params{Weight: 1, Target: 1}, TargetUnit: "reviews", Curve: "at_least", History: noHistory, eval: evalRequiredReviewers},
		{ID: "code_owner_review", Name: "Code-owner review with CODEOWNERS", Dimension: DimBranchGovernance,
			Measures: "the default branch requires code-owner review and a CODEOWNERS file is evidenced",
			Defaults: Params{Weight: 1, Window: 90 * day}, WindowMeaning: "how far back a push touching CODEOWNERS counts as evidence that the file exists",
			Curve: "steps", History: windowHistory, eval: evalCodeOwnerReview},
		{ID: "linear_history", Name: "Linear history", Dimension: DimBranchGovernance,
			Measures: "the default branch requires a linear history",
			Defaults: Params{Weight: 0.5}, Curve: "binary", History: noHistory, eval: evalLinearHistory},
		{ID: "signed_commits", Name: "Signed commits", Dimension: DimBranchGovernance,
			Measures: "the default branch requires signed commits",
			Defaults: Params{Weight: 0.5}, Curve: "binary", History: noHistory, eval: evalSignedCommits},
		{ID: "pr_approval_share", Name: "Merged PRs with an approving review", Dimension: DimBranchGovernance,
			Measures: "share of pull requests merged into the default branch that had an approving review from someone other than the author",
			Defaults: Params{Weight: 1, Target: 1, Window: 30 * day}, TargetUnit: "share", WindowMeaning: "merged pull requests counted",
			Curve: "at_least", History: windowHistory, eval: evalPRApprovalShare},
		{ID: "protection_continuity", Name: "Protection never lapsed", Dimension: DimBranchGovernance,
			Measures: "the default branch's protection was not deleted or weakened (and pushed through) within the window",
			Defaults: Params{Weight: 1, Window: 30 * day}, WindowMeaning: "lapses of protection counted",
			Curve: "steps", History: windowHistory, eval: evalProtectionContinuity},

		// Rollback readiness.
		{ID: "rollback_exercised", Name: "Rollback exercised", Dimension: DimRollbackReadiness,
			Measures: "a successful rollback or rollback rehearsal in any environment within the window",
			Defaults: Params{Weight: 1, Window: 90 * day}, WindowMeaning: "how recent the last successful rollback or rehearsal must be",
			Curve: "binary", History: windowHistory, eval: evalRollbackExercised},
		{ID: "rto_within_target", Name: "Measured RTO within target", Dimension: DimRollbackReadiness,
			Measures: "the latest measured recovery time (rto_seconds of a rollback or rehearsal) against the target; the catalog's rto_target_seconds wins over the default",
			Defaults: Params{Weight: 1, Target: 300, Window: 90 * day}, TargetUnit: "seconds", WindowMeaning: "how recent the measurement must be",
			Curve: "at_most", History: windowHistory, eval: evalRTO},
		{ID: "snapshot_before_deploy", Name: "Pre-flight snapshots", Dimension: DimRollbackReadiness,
			Measures: "share of production deploys of a stateful service that took a snapshot first",
			Defaults: Params{Weight: 1, Target: 1, Window: 30 * day}, TargetUnit: "share", WindowMeaning: "production deploys counted",
			Curve: "at_least", History: windowHistory, eval: evalSnapshot},

		// Observability.
		{ID: "slo_defined", Name: "SLO defined", Dimension: DimObservability,
			Measures: "at least one SLO with an objective is declared in the catalog",
			Defaults: Params{Weight: 1}, Curve: "binary", History: noHistory, eval: evalSLODefined},
		{ID: "alerting_wired", Name: "Alerting wired", Dimension: DimObservability,
			Measures: "a PagerDuty service is mapped and ReleaseOps receives its events",
			Defaults: Params{Weight: 1, Window: 90 * day}, WindowMeaning: "how recent a PagerDuty event must be to count as receiving",
			Curve: "steps", History: windowHistory, eval: evalAlertingWired},
		{ID: "structured_logging", Name: "Structured logging", Dimension: DimObservability,
			Measures: "structured logging is declared in the catalog",
			Defaults: Params{Weight: 1}, Curve: "binary", History: noHistory, eval: evalStructuredLogging},
		{ID: "trace_correlation", Name: "Trace correlation", Dimension: DimObservability,
			Measures: "trace correlation is declared in the catalog",
			Defaults: Params{Weight: 1}, Curve: "binary", History: noHistory, eval: evalTraceCorrelation},

		// Deployment maturity.
		{ID: "phased_rollouts", Name: "Phased rollouts", Dimension: DimDeploymentMaturity,
			Measures: "share of production deploys rolled out progressively (canary, blue/green, or rolling in more than one phase)",
			Defaults: Params{Weight: 1, Target: 0.9, Window: 30 * day}, TargetUnit: "share", WindowMeaning: "production deploys counted",
			Curve: "at_least", History: windowHistory, eval: evalPhased},
		{ID: "health_checks", Name: "Health checks between phases", Dimension: DimDeploymentMaturity,
			Measures: "share of production deploys that ran health checks",
			Defaults: Params{Weight: 1, Target: 0.9, Window: 30 * day}, TargetUnit: "share", WindowMeaning: "production deploys counted",
			Curve: "at_least", History: windowHistory, eval: evalHealthChecks},
		{ID: "feature_flags", Name: "Feature flags", Dimension: DimDeploymentMaturity,
			Measures: "share of production deploys that shipped behind feature flags",
			Defaults: Params{Weight: 0.5, Target: 0.5, Window: 30 * day}, TargetUnit: "share", WindowMeaning: "production deploys counted",
			Curve: "at_least", History: windowHistory, eval: evalFeatureFlags},
		{ID: "change_failure_rate", Name: "Change failure rate", Dimension: DimDeploymentMaturity,
			Measures: "share of finished production deploys that failed, were rolled back, or were followed by an incident within the tolerance (DORA)",
			Defaults: Params{Weight: 1.5, Target: 0.15, Window: 30 * day, Within: hour}, TargetUnit: "rate",
			WindowMeaning: "production deploys counted (also the DORA window)", WithinMeaning: "an incident triggered this soon after a deploy finished makes it a change failure",
			Curve: "at_most", History: func(p Params) time.Duration { return p.Window + p.Within }, eval: evalChangeFailureRate},

		// Operational coordination.
		{ID: "owner_defined", Name: "One owning team", Dimension: DimOperationalCoordination,
			Measures: "exactly one owning team is named in the catalog",
			Defaults: Params{Weight: 1}, Curve: "binary", History: noHistory, eval: evalOwner},
		{ID: "runbook_fresh", Name: "Runbook linked and fresh", Dimension: DimOperationalCoordination,
			Measures: "a runbook URL is declared (half) and a push touched the runbook within the window (half, decaying)",
			Defaults: Params{Weight: 1, Window: 30 * day}, WindowMeaning: "how recent the last runbook update must be for full credit; credit falls to 0 at twice the window",
			Curve: "age", History: doubleWindowHistory, eval: evalRunbook},
		{ID: "approvers_named", Name: "Approvers named", Dimension: DimOperationalCoordination,
			Measures: "Slack approvers named for watch-band deploys (two, so the requester is never the only one)",
			Defaults: Params{Weight: 1, Target: 2}, TargetUnit: "approvers", Curve: "at_least", History: noHistory, eval: evalApprovers},
		{ID: "escalation_levels", Name: "Escalation policy depth", Dimension: DimOperationalCoordination,
			Measures: "levels of the PagerDuty escalation policy (synced from PagerDuty, else declared)",
			Defaults: Params{Weight: 1, Target: 2}, TargetUnit: "levels", Curve: "at_least", History: noHistory, eval: evalEscalation},

		// Release auditability.
		{ID: "deploy_start_finish", Name: "Deploys with start and finish", Dimension: DimReleaseAuditability,
			Measures: "share of production deploys for which both a started and a final event arrived",
			Defaults: Params{Weight: 1, Target: 1, Window: 30 * day, Within: 2 * hour}, TargetUnit: "share",
			WindowMeaning: "production deploys counted", WithinMeaning: "a deploy started this recently without a final event is still in progress and not counted",
			Curve: "at_least", History: windowHistory, eval: evalStartFinish},
		{ID: "gate_decision_recorded", Name: "Gate decision recorded", Dimension: DimReleaseAuditability,
			Measures: "share of production deploys with a recorded gate decision (same version or commit, or decided shortly before the deploy started)",
			Defaults: Params{Weight: 1, Target: 1, Window: 30 * day, Within: hour}, TargetUnit: "share",
			WindowMeaning: "production deploys counted", WithinMeaning: "a gate decision this long before a deploy started matches it",
			Curve: "at_least", History: func(p Params) time.Duration { return p.Window + p.Within }, eval: evalGateRecorded},
		{ID: "compliance_controls_mapped", Name: "Compliance controls mapped", Dimension: DimReleaseAuditability,
			Measures: "compliance controls the release process satisfies are declared in the catalog",
			Defaults: Params{Weight: 0.5}, Curve: "binary", History: noHistory, eval: evalCompliance},

		// Terraform governance.
		{ID: "plan_checks_gate_prs", Name: "Plan checks gate Terraform PRs", Dimension: DimTerraformGovernance,
			Measures: "a terraform plan status check is required on the default branch (full) or at least runs on pull requests (half)",
			Defaults: Params{Weight: 1, Window: 30 * day}, WindowMeaning: "plan runs and Terraform pushes counted",
			Curve: "steps", History: windowHistory, eval: evalPlanChecks},
		{ID: "drift_assessment_recent", Name: "Drift assessment recent", Dimension: DimTerraformGovernance,
			Measures: "age of the latest health (drift) assessment of the service's workspaces",
			Defaults: Params{Weight: 1, Within: 6 * hour}, WithinMeaning: "the latest assessment must be at most this old for full credit; 0 at twice it",
			Curve: "age", History: func(p Params) time.Duration { return 2 * p.Within }, eval: evalAssessmentRecent},
		{ID: "no_unapproved_destroy", Name: "No destroy without approval", Dimension: DimTerraformGovernance,
			Measures: "share of applied destroy runs that waited for a confirmation (run:needs_attention) first",
			Defaults: Params{Weight: 1.5, Window: 30 * day}, WindowMeaning: "Terraform runs counted",
			Curve: "at_least", History: windowHistory, eval: evalNoUnapprovedDestroy},
		{ID: "module_rollback_path", Name: "Rollback path per module", Dimension: DimTerraformGovernance,
			Measures: "share of the declared Terraform modules with a documented rollback path",
			Defaults: Params{Weight: 1, Target: 1}, TargetUnit: "share", Curve: "at_least", History: noHistory, eval: evalModuleRollback},

		// Infrastructure drift.
		{ID: "drift_triaged", Name: "Drift triaged in time", Dimension: DimInfrastructureDrift,
			Measures: "drift detected within the window was triaged (a clean assessment or a successful apply) within the tolerance",
			Defaults: Params{Weight: 1, Window: 30 * day, Within: 12 * hour}, WindowMeaning: "drift detections counted",
			WithinMeaning: "triage target; credit falls to 0 at twice it", Curve: "age", History: withinHistory, eval: evalDriftTriaged},
		{ID: "no_open_drift", Name: "No drift open past target", Dimension: DimInfrastructureDrift,
			Measures: "no drift is left untriaged past the tolerance",
			Defaults: Params{Weight: 1, Window: 30 * day, Within: 12 * hour}, WindowMeaning: "how far back open drift is looked for",
			WithinMeaning: "triage target; credit falls to 0 at twice it", Curve: "age", History: withinHistory, eval: evalNoOpenDrift},

		// Release communication.
		{ID: "release_notes_published", Name: "Release notes for production deploys", Dimension: DimReleaseCommunication,
			Measures: "share of successful production deploys with release notes (a ReleaseOps release-notes post, or a GitHub release for the version)",
			Defaults: Params{Weight: 1, Target: 1, Window: 30 * day, Within: hour}, TargetUnit: "share",
			WindowMeaning: "production deploys counted", WithinMeaning: "grace after a deploy finishes before missing notes count",
			Curve: "at_least", History: func(p Params) time.Duration { return p.Window + p.Within }, eval: evalReleaseNotes},
		{ID: "stakeholder_channel", Name: "Stakeholder channel", Dimension: DimReleaseCommunication,
			Measures: "a stakeholder or Slack channel is set (half) and ReleaseOps delivered posts to it within the window (half)",
			Defaults: Params{Weight: 1, Window: 30 * day}, WindowMeaning: "posts counted",
			Curve: "steps", History: windowHistory, eval: evalStakeholderChannel},
		{ID: "status_page_linked", Name: "Status page linked", Dimension: DimReleaseCommunication,
			Measures: "a status page URL is declared in the catalog",
			Defaults: Params{Weight: 0.5}, Curve: "binary", History: noHistory, eval: evalStatusPage},
	})
}

// withPlaybooks points every signal at its dimension's playbook.
func withPlaybooks(defs []SignalDef) []SignalDef {
	for i := range defs {
		if defs[i].Playbook == "" {
			defs[i].Playbook = defs[i].Dimension
		}
	}
	return defs
}
