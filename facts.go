package releaseops

import "time"

// Webhook sources. SourceInternal marks facts ReleaseOps records about itself (gate decisions,
// messages posted), which feed auditability and communication signals.
const (
	SourceGitHub    = "github"
	SourcePagerDuty = "pagerduty"
	SourceDeploy    = "deploy"
	SourceTerraform = "terraform"
	SourceInternal  = "releaseops"
)

// Delivery outcomes, as listed by GET /api/v1/events.
const (
	OutcomeStored    = "stored"       // stored and normalised into facts for a known service
	OutcomeDuplicate = "duplicate"    // a redelivery of something already stored; nothing changed
	OutcomeIgnored   = "ignored_type" // stored, but the event type feeds no signal
	OutcomeUnmapped  = "unmapped"     // stored, but no service in the catalog matches it yet
)

// OutcomeOf is the outcome of a delivery with n facts, unmapped when one of them names a
// subject no service claims: the same rule for webhooks and sync observations.
func OutcomeOf(n int, unmapped bool) string {
	switch {
	case n == 0:
		return OutcomeIgnored
	case unmapped:
		return OutcomeUnmapped
	}
	return OutcomeStored
}

// Evidence points at the stored delivery a fact or a signal result came from.
type Evidence struct {
	Source   string    `json:"source"`
	Event    string    `json:"event"`
	Delivery string    `json:"delivery"`
	At       time.Time `json:"at"`
	// Path is the API path a sync observation was read from ("" for webhook deliveries).
	Path string `json:"path,omitempty"`
}

// EventSync is the delivery type of an observation read from a source's API by sync, as
// opposed to a webhook delivery the source sent.
const EventSync = "sync"

// Synced reports whether the evidence is an API read rather than a webhook delivery.
func (e Evidence) Synced() bool { return e.Event == EventSync }

// Describe says in words where the evidence came from: "read from the GitHub API at T" for
// a sync observation, "github webhook push delivery D" for a webhook.
func (e Evidence) Describe() string {
	at := e.At.UTC().Format("2006-01-02 15:04 UTC")
	if e.Synced() {
		s := "read from the " + SourceTitle(e.Source) + " API"
		if e.Path != "" {
			s += " (" + e.Path + ")"
		}
		return s + " at " + at
	}
	if e.Source == SourceInternal {
		return "recorded by ReleaseOps (" + e.Event + ") at " + at
	}
	return e.Source + " webhook " + e.Event + " delivery " + e.Delivery + " at " + at
}

// SourceTitle is a source's name as people write it.
func SourceTitle(source string) string {
	switch source {
	case SourceGitHub:
		return "GitHub"
	case SourcePagerDuty:
		return "PagerDuty"
	case SourceTerraform:
		return "HCP Terraform"
	case SourceDeploy:
		return "deploy"
	}
	return source
}

// SubjectKind says what a Subject key names before it is mapped to a service.
type SubjectKind string

const (
	SubjectService   SubjectKind = "service"   // a service name (deploy events)
	SubjectRepo      SubjectKind = "repo"      // a GitHub repository "org/name"
	SubjectPagerDuty SubjectKind = "pagerduty" // a PagerDuty service id
	SubjectWorkspace SubjectKind = "workspace" // a Terraform workspace "org/workspace" or name
)

// Subject is what an event is about, in the source's own terms. The catalog maps it to a
// service; a subject it cannot map is kept so that a later catalog change can claim it.
type Subject struct {
	Kind SubjectKind `json:"kind"`
	Key  string      `json:"key"`
}

// FactKind names the typed payload a Fact carries.
type FactKind string

const (
	FactDeploy           FactKind = "deploy"
	FactPullRequest      FactKind = "pull_request" // a merged pull request
	FactReview           FactKind = "review"
	FactBranchProtection FactKind = "branch_protection"
	FactRuleset          FactKind = "ruleset"
	FactPush             FactKind = "push"
	FactCIRun            FactKind = "ci_run"
	FactRelease          FactKind = "release"
	FactVulnerability    FactKind = "vulnerability"
	FactIncident         FactKind = "incident"
	FactPagerDutyService FactKind = "pagerduty_service"
	FactTerraformRun     FactKind = "terraform_run"
	FactAssessment       FactKind = "terraform_assessment"
	FactProtectionRule   FactKind = "deployment_protection_rule" // GitHub asks the gate
	FactGateDecision     FactKind = "gate_decision"
	FactNotification     FactKind = "notification"
	// FactRepoState is a repository's governance settings as read from the API by sync: the
	// whole truth of the default branch at the fetch time, replacing every rule seen before.
	FactRepoState FactKind = "repo_state"
	// FactOnCall is who is on call for a PagerDuty service's escalation policy, as read by sync.
	FactOnCall FactKind = "oncall"
	// FactTerraformWorkspace is a Terraform workspace's settings as read by sync (whether
	// health assessments are on, auto-apply).
	FactTerraformWorkspace FactKind = "terraform_workspace"
)

// Fact is one normalised observation about a service. Exactly one of the typed pointers is set,
// the one named by Kind. Facts are what scoring reads; deliveries are what auditors read.
type Fact struct {
	Kind     FactKind  `json:"kind"`
	Subject  Subject   `json:"subject"`
	Service  string    `json:"service,omitempty"` // set once the catalog maps the subject
	At       time.Time `json:"at"`                // when it happened at the source
	Evidence Evidence  `json:"evidence"`

	Deploy           *Deploy              `json:"deploy,omitempty"`
	PullRequest      *PullRequest         `json:"pull_request,omitempty"`
	Review           *Review              `json:"review,omitempty"`
	BranchProtection *BranchProtection    `json:"branch_protection,omitempty"`
	Ruleset          *Ruleset             `json:"ruleset,omitempty"`
	Push             *Push                `json:"push,omitempty"`
	CIRun            *CIRun               `json:"ci_run,omitempty"`
	Release          *Release             `json:"release,omitempty"`
	Vulnerability    *Vulnerability       `json:"vulnerability,omitempty"`
	Incident         *Incident            `json:"incident,omitempty"`
	PagerDutyService *PagerDutyService    `json:"pagerduty_service,omitempty"`
	TerraformRun     *TerraformRun        `json:"terraform_run,omitempty"`
	Assessment       *TerraformAssessment `json:"terraform_assessment,omitempty"`
	ProtectionRule   *ProtectionRule      `json:"deployment_protection_rule,omitempty"`
	GateDecision     *GateDecision        `json:"gate_decision,omitempty"`
	Notification     *Notification        `json:"notification,omitempty"`
	RepoState        *RepoState           `json:"repo_state,omitempty"`
	OnCall           *OnCall              `json:"oncall,omitempty"`
	Workspace        *TerraformWorkspace  `json:"terraform_workspace,omitempty"`
}

// Deploy statuses and kinds (SPEC §3.3).
const (
	DeployStarted    = "started"
	DeploySucceeded  = "succeeded"
	DeployFailed     = "failed"
	DeployRolledBack = "rolled_back"

	KindDeploy    = "deploy"
	KindRollback  = "rollback"
	KindRehearsal = "rehearsal"
)

// Deploy is one deploy event: from POST /webhooks/deploy or a GitHub deployment_status.
type Deploy struct {
	ID           string     `json:"id"`
	Environment  string     `json:"environment"`
	Status       string     `json:"status"`
	Kind         string     `json:"kind"`
	Version      string     `json:"version,omitempty"`
	CommitSHA    string     `json:"commit_sha,omitempty"`
	PreviousSHA  string     `json:"previous_sha,omitempty"`
	Strategy     string     `json:"strategy,omitempty"`
	Phases       int        `json:"phases,omitempty"`
	HealthChecks *bool      `json:"health_checks,omitempty"`
	FeatureFlags *bool      `json:"feature_flags,omitempty"`
	Snapshot     *bool      `json:"snapshot,omitempty"`
	RTOSeconds   *float64   `json:"rto_seconds,omitempty"`
	Actor        string     `json:"actor,omitempty"`
	URL          string     `json:"url,omitempty"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	// Repo is set when the deploy came from GitHub, so release notes know where to look.
	Repo string `json:"repo,omitempty"`
}

// PullRequest is a merged pull request.
type PullRequest struct {
	Repo           string    `json:"repo"`
	Number         int       `json:"number"`
	Title          string    `json:"title"`
	Author         string    `json:"author,omitempty"`
	MergedBy       string    `json:"merged_by,omitempty"`
	MergedAt       time.Time `json:"merged_at"`
	MergeCommitSHA string    `json:"merge_commit_sha,omitempty"`
	BaseRef        string    `json:"base_ref,omitempty"`
	Labels         []string  `json:"labels,omitempty"`
	URL            string    `json:"url,omitempty"`
}

// Review is a submitted pull request review. State is lowercase, as in webhooks.
type Review struct {
	Repo     string `json:"repo"`
	PRNumber int    `json:"pr_number"`
	Reviewer string `json:"reviewer"`
	State    string `json:"state"` // approved, changes_requested, commented, dismissed
	Action   string `json:"action"`
}

// BranchProtection is the state of a branch protection rule after a created/edited/deleted
// event. Deleted rules arrive with Deleted set, so "protection switched off" is evidence too.
type BranchProtection struct {
	Repo                     string   `json:"repo"`
	Pattern                  string   `json:"pattern"`
	Action                   string   `json:"action"`
	Deleted                  bool     `json:"deleted,omitempty"`
	RequiredApprovingReviews int      `json:"required_approving_reviews"`
	RequireCodeOwnerReview   bool     `json:"require_code_owner_review"`
	DismissStaleReviews      bool     `json:"dismiss_stale_reviews"`
	LinearHistory            bool     `json:"linear_history"`
	SignedCommits            bool     `json:"signed_commits"`
	AdminEnforced            bool     `json:"admin_enforced"`
	AllowForcePushes         bool     `json:"allow_force_pushes"`
	RequiredStatusChecks     []string `json:"required_status_checks,omitempty"`
}

// Ruleset is a repository ruleset's state after an event, reduced to what governance reads.
type Ruleset struct {
	Repo                     string   `json:"repo"`
	ID                       int64    `json:"id"`
	Name                     string   `json:"name"`
	Action                   string   `json:"action"`
	Deleted                  bool     `json:"deleted,omitempty"`
	Target                   string   `json:"target"`      // branch or tag
	Enforcement              string   `json:"enforcement"` // active, evaluate, disabled
	Includes                 []string `json:"includes,omitempty"`
	RequiredApprovingReviews int      `json:"required_approving_reviews"`
	RequireCodeOwnerReview   bool     `json:"require_code_owner_review"`
	LinearHistory            bool     `json:"linear_history"`
	SignedCommits            bool     `json:"signed_commits"`
	BlocksForcePush          bool     `json:"blocks_force_push"`
	BlocksDeletion           bool     `json:"blocks_deletion"`
}

// Push is a push to a branch or tag.
type Push struct {
	Repo              string    `json:"repo"`
	Ref               string    `json:"ref"`
	Before            string    `json:"before,omitempty"`
	After             string    `json:"after,omitempty"`
	Forced            bool      `json:"forced,omitempty"`
	Deleted           bool      `json:"deleted,omitempty"`
	DefaultBranch     bool      `json:"default_branch,omitempty"`
	Pusher            string    `json:"pusher,omitempty"`
	Commits           []Commit  `json:"commits,omitempty"`
	TouchesCodeowners bool      `json:"touches_codeowners,omitempty"`
	TouchesRunbook    bool      `json:"touches_runbook,omitempty"`
	TouchesTerraform  bool      `json:"touches_terraform,omitempty"`
	HeadCommitAt      time.Time `json:"head_commit_at,omitempty"`
}

// Commit is one commit of a push. Files lists added, removed and modified paths.
type Commit struct {
	ID      string   `json:"id"`
	Message string   `json:"message"`
	Author  string   `json:"author,omitempty"`
	Files   []string `json:"files,omitempty"`
}

// CIRun is a completed or running workflow run or check run.
type CIRun struct {
	Repo       string `json:"repo"`
	Kind       string `json:"kind"` // workflow_run or check_run
	Name       string `json:"name"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
	HeadSHA    string `json:"head_sha,omitempty"`
	HeadBranch string `json:"head_branch,omitempty"`
	Event      string `json:"event,omitempty"`
	URL        string `json:"url,omitempty"`
	PRNumbers  []int  `json:"pr_numbers,omitempty"`
}

// Release is a GitHub release event.
type Release struct {
	Repo       string `json:"repo"`
	Action     string `json:"action"`
	Tag        string `json:"tag"`
	Name       string `json:"name,omitempty"`
	Draft      bool   `json:"draft,omitempty"`
	Prerelease bool   `json:"prerelease,omitempty"`
	URL        string `json:"url,omitempty"`
}

// Vulnerability is a Dependabot or code scanning alert event.
type Vulnerability struct {
	Repo     string `json:"repo"`
	Tool     string `json:"tool"` // dependabot or code_scanning
	Number   int    `json:"number"`
	Action   string `json:"action"`
	State    string `json:"state"`
	Severity string `json:"severity,omitempty"`
	Summary  string `json:"summary,omitempty"`
	URL      string `json:"url,omitempty"`
}

// Incident is a PagerDuty incident event.
type Incident struct {
	ID                 string    `json:"id"`
	Number             int       `json:"number,omitempty"`
	EventType          string    `json:"event_type"`
	Status             string    `json:"status"` // triggered, acknowledged, resolved
	Title              string    `json:"title,omitempty"`
	Urgency            string    `json:"urgency,omitempty"`
	Priority           string    `json:"priority,omitempty"`
	ServiceID          string    `json:"service_id"`
	EscalationPolicyID string    `json:"escalation_policy_id,omitempty"`
	CreatedAt          time.Time `json:"created_at,omitempty"`
	URL                string    `json:"url,omitempty"`
	// AcknowledgedAt and ResolvedAt are set by sync, which reads the incident's whole life at
	// once (GET /incidents and its log entries), where a webhook reports one transition.
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	ResolvedAt     *time.Time `json:"resolved_at,omitempty"`
}

// PagerDutyService is a PagerDuty service event: it keeps the service id mapping alive and
// records the escalation policy.
type PagerDutyService struct {
	ID                 string `json:"id"`
	EventType          string `json:"event_type"`
	Name               string `json:"name,omitempty"`
	Status             string `json:"status,omitempty"`
	EscalationPolicyID string `json:"escalation_policy_id,omitempty"`
	EscalationLevels   int    `json:"escalation_levels,omitempty"` // from the REST API, when synced
	URL                string `json:"url,omitempty"`
}

// TerraformRun is an HCP Terraform run notification.
type TerraformRun struct {
	RunID        string `json:"run_id"`
	Workspace    string `json:"workspace"`
	Organization string `json:"organization"`
	Trigger      string `json:"trigger"` // run:created, run:needs_attention, run:completed, run:errored, ...
	Status       string `json:"status"`
	Message      string `json:"message,omitempty"`
	CreatedBy    string `json:"created_by,omitempty"`
	UpdatedBy    string `json:"updated_by,omitempty"`
	URL          string `json:"url,omitempty"`
	IsDestroy    bool   `json:"is_destroy,omitempty"`
	// Set by sync from the run's API record: applied without a person confirming it
	// (auto-apply), and who confirmed it when someone did.
	AutoApplied bool   `json:"auto_applied,omitempty"`
	ConfirmedBy string `json:"confirmed_by,omitempty"`
}

// TerraformAssessment is an HCP Terraform health assessment notification.
type TerraformAssessment struct {
	Workspace        string `json:"workspace"`
	Organization     string `json:"organization"`
	Trigger          string `json:"trigger"` // assessment:drifted, assessment:check_failure, assessment:failed
	Succeeded        bool   `json:"succeeded"`
	Drifted          bool   `json:"drifted"`
	ResourcesDrifted int    `json:"resources_drifted"`
	ChecksFailed     int    `json:"checks_failed"`
	URL              string `json:"url,omitempty"`
}

// ProtectionRule is a GitHub deployment_protection_rule request: GitHub asks whether a
// deployment may proceed and waits for an answer on CallbackURL.
type ProtectionRule struct {
	Repo           string `json:"repo"`
	Environment    string `json:"environment"`
	Event          string `json:"event,omitempty"`
	CallbackURL    string `json:"callback_url"`
	RunID          int64  `json:"run_id,omitempty"`
	InstallationID int64  `json:"installation_id,omitempty"`
	DeploymentID   int64  `json:"deployment_id,omitempty"`
	SHA            string `json:"sha,omitempty"`
	Ref            string `json:"ref,omitempty"`
	Creator        string `json:"creator,omitempty"`
	PRNumbers      []int  `json:"pr_numbers,omitempty"`
}

// GateDecision records that the gate decided on a deploy of the service.
type GateDecision struct {
	Environment string  `json:"environment"`
	Version     string  `json:"version,omitempty"`
	CommitSHA   string  `json:"commit_sha,omitempty"`
	Decision    string  `json:"decision"`
	Score       float64 `json:"score"`
	ApprovalID  string  `json:"approval_id,omitempty"`
	RequestedBy string  `json:"requested_by,omitempty"`
}

// Notification records a message ReleaseOps delivered about the service.
type Notification struct {
	Kind    string `json:"kind"` // release_notes, regression, approval, break_glass
	Channel string `json:"channel"`
	Ref     string `json:"ref,omitempty"` // e.g. the deploy id the release notes are for
}

// RepoState is what sync reads of a repository's governance in one pass: the default branch,
// the classic branch protection on it (nil: none) and the active rulesets whose rules apply to
// it (from GET /repos/{owner}/{repo}/rules/branches/{branch}, grouped by ruleset id), and
// whether a CODEOWNERS file exists. In the branch timeline it replaces every rule state seen
// before it; later webhook events change it rule by rule.
type RepoState struct {
	Repo           string            `json:"repo"`
	DefaultBranch  string            `json:"default_branch"`
	Archived       bool              `json:"archived,omitempty"`
	Classic        *BranchProtection `json:"classic,omitempty"`
	Rulesets       []Ruleset         `json:"rulesets,omitempty"`
	Codeowners     bool              `json:"codeowners"`
	CodeownersPath string            `json:"codeowners_path,omitempty"`
}

// SyncCoverage is what the sync framework knows of one subject a service is read through:
// when it was last read successfully, and why the latest attempt failed, if it did. Scoring
// reads it to tell fresh API observations from stale ones; the gate, to tell "covered by a
// sync" from "never heard of".
type SyncCoverage struct {
	Source      string    `json:"source"`
	Subject     string    `json:"subject"`
	LastAttempt time.Time `json:"last_attempt,omitempty"`
	LastSuccess time.Time `json:"last_success,omitempty"`
	Failures    int       `json:"failures,omitempty"` // consecutive failed attempts
	Error       string    `json:"error,omitempty"`    // the latest attempt's error; "" when it succeeded
}

// Failing reports whether the latest attempt failed.
func (c SyncCoverage) Failing() bool { return c.Error != "" }

// OnCall is who is on call now at each level of a PagerDuty service's escalation policy
// (GET /oncalls), for the gate's approval message and release risk.
type OnCall struct {
	ServiceID          string        `json:"service_id"`
	EscalationPolicyID string        `json:"escalation_policy_id"`
	Levels             []OnCallLevel `json:"levels"`
}

// OnCallLevel is one escalation level's on-call person and until when (zero: indefinitely).
type OnCallLevel struct {
	Level int       `json:"level"`
	User  string    `json:"user"`
	Email string    `json:"email,omitempty"`
	Until time.Time `json:"until,omitempty"`
}

// TerraformWorkspace is a workspace's settings as read from the HCP Terraform / TFE API.
type TerraformWorkspace struct {
	ID                 string `json:"id"`
	Workspace          string `json:"workspace"`
	Organization       string `json:"organization"`
	AssessmentsEnabled bool   `json:"assessments_enabled"`
	AutoApply          bool   `json:"auto_apply"`
	URL                string `json:"url,omitempty"`
}
