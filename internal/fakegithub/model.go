package fakegithub

import (
	"crypto/rsa"
	"time"
)

// Repo is one repository as the fake holds it. Zero values mean what GitHub means by their
// absence: no protection, no rulesets, no CODEOWNERS, alerts enabled and empty.
type Repo struct {
	FullName      string // owner/name, as GitHub spells it
	ID            int64  // 0: assigned when added
	DefaultBranch string // "": main
	Public        bool   // repositories are private unless said otherwise, as an organisation's mostly are
	Archived      bool
	Description   string
	CreatedAt     time.Time // zero: a year before the server's clock
	PushedAt      time.Time // zero: the latest merge, else CreatedAt

	// Classic is the default branch's classic branch protection (nil: "Branch not protected").
	Classic *Protection
	// Rulesets are the repository's rulesets; GET .../rules/branches/{branch} flattens the
	// active ones that target the branch.
	Rulesets []Ruleset

	// CodeownersAt is where CODEOWNERS lives (".github/CODEOWNERS", "CODEOWNERS",
	// "docs/CODEOWNERS"); "" is none. Codeowners is its content ("": a one-line default).
	CodeownersAt string
	Codeowners   string
	// CatalogInfo is catalog-info.yaml at the root ("": none).
	CatalogInfo string
	// Files are any other files of the default branch, by path. README.md is added when
	// absent, so every repository has a commit and a root tree.
	Files map[string]string

	Pulls       []Pull
	Deployments []Deployment
	Releases    []Release

	Dependabot []DependabotAlert
	// DependabotDisabled answers the alert list with GitHub's 403 for a repository that
	// has Dependabot alerts off.
	DependabotDisabled bool
	CodeScanning       []CodeScanningAlert
	// CodeScanningOff says why code scanning answers no list ("": it is on).
	CodeScanningOff CodeScanningOff
}

// CodeScanningOff is why a repository has no code scanning alerts to list.
type CodeScanningOff string

const (
	// NoAnalysis is a repository code scanning never ran on: 404 "no analysis found".
	NoAnalysis CodeScanningOff = "no-analysis"
	// NoAdvancedSecurity is a private repository without GitHub Advanced Security: 403.
	NoAdvancedSecurity CodeScanningOff = "advanced-security"
)

// Protection is a classic branch protection of the default branch.
type Protection struct {
	// RequirePullRequest requires a pull request before merging even with no approval
	// required; any of the review settings below implies it.
	RequirePullRequest bool
	RequiredReviews    int
	CodeOwnerReview    bool
	DismissStale       bool
	LinearHistory      bool
	SignedCommits      bool
	EnforceAdmins      bool
	AllowForcePushes   bool
	AllowDeletions     bool
	// StatusChecks are the required status check contexts ("ci/build").
	StatusChecks []string
	// StrictChecks requires branches to be up to date before merging.
	StrictChecks bool
}

func (p *Protection) reviews() bool {
	return p.RequirePullRequest || p.RequiredReviews > 0 || p.CodeOwnerReview || p.DismissStale
}

// Ruleset is a repository (or organisation) ruleset targeting branches.
type Ruleset struct {
	ID   int64  // 0: assigned when added
	Name string // "": "ruleset <id>"
	// Enforcement is active, evaluate or disabled ("": active). Only active rulesets'
	// rules apply to a branch.
	Enforcement string
	// Include and Exclude are ref patterns: ~DEFAULT_BRANCH, ~ALL, refs/heads/main,
	// refs/heads/release/* ("" include: ~DEFAULT_BRANCH).
	Include, Exclude []string
	// SourceType is Repository or Organization ("": Repository); Source is the repository
	// or organisation it is configured on ("": this repository, or its owner).
	SourceType string
	Source     string
	Rules      []Rule
	UpdatedAt  time.Time
}

// Rule is one rule of a ruleset, with its parameters as GitHub spells them.
type Rule struct {
	Type       string
	Parameters map[string]any
}

// PullRequestRule requires pull requests with approving reviews (and code-owner review).
func PullRequestRule(reviews int, codeOwners bool) Rule {
	return Rule{Type: "pull_request", Parameters: map[string]any{
		"required_approving_review_count": reviews, "dismiss_stale_reviews_on_push": false,
		"require_code_owner_review": codeOwners, "require_last_push_approval": false,
		"required_review_thread_resolution": false, "allowed_merge_methods": []string{"merge", "squash", "rebase"},
	}}
}

// LinearHistoryRule requires a linear history.
func LinearHistoryRule() Rule { return Rule{Type: "required_linear_history"} }

// SignedCommitsRule requires signed commits.
func SignedCommitsRule() Rule { return Rule{Type: "required_signatures"} }

// NoForcePushRule blocks force pushes.
func NoForcePushRule() Rule { return Rule{Type: "non_fast_forward"} }

// NoDeletionRule blocks deleting the branch.
func NoDeletionRule() Rule { return Rule{Type: "deletion"} }

// StatusChecksRule requires status checks by context.
func StatusChecksRule(contexts ...string) Rule {
	checks := make([]map[string]any, len(contexts))
	for i, c := range contexts {
		checks[i] = map[string]any{"context": c, "integration_id": actionsAppID}
	}
	return Rule{Type: "required_status_checks", Parameters: map[string]any{
		"strict_required_status_checks_policy": false, "do_not_enforce_on_create": false, "required_status_checks": checks,
	}}
}

// Pull is a pull request. It is closed when ClosedAt or MergedAt is set.
type Pull struct {
	Number    int
	Title     string
	Author    string // login ("": octocat)
	Base      string // "": the default branch
	Head      string // "": "topic-<number>"
	Labels    []string
	Draft     bool
	CreatedAt time.Time
	// UpdatedAt zero: the latest of created, closed, merged and the reviews, as GitHub
	// bumps it on each.
	UpdatedAt      time.Time
	ClosedAt       time.Time // zero with MergedAt set: MergedAt
	MergedAt       time.Time
	MergedBy       string
	MergeCommitSHA string // "": derived
	Reviews        []Review
}

// Review is a pull request review. State is as the REST API spells it: APPROVED,
// CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING.
type Review struct {
	ID          int64 // 0: derived
	User        string
	State       string
	SubmittedAt time.Time
}

// Deployment is a GitHub deployment with its statuses (any order; served newest first).
type Deployment struct {
	ID          int64
	SHA, Ref    string
	Task        string // "": deploy
	Environment string // "": production
	Description string
	Creator     string
	CreatedAt   time.Time
	// Production marks a production environment ("": environment == production).
	Production *bool
	Statuses   []DeploymentStatus
}

// DeploymentStatus is one status of a deployment: queued, in_progress, success, failure,
// error, inactive.
type DeploymentStatus struct {
	ID          int64
	State       string
	Description string
	CreatedAt   time.Time
	LogURL      string
}

// Release is a release; a draft has no PublishedAt.
type Release struct {
	ID          int64
	TagName     string
	Name        string
	Body        string
	Draft       bool
	Prerelease  bool
	Author      string
	CreatedAt   time.Time
	PublishedAt time.Time
}

// DependabotAlert is an open (or dismissed, fixed) Dependabot alert.
type DependabotAlert struct {
	Number    int
	State     string // "": open
	Package   string
	Ecosystem string // "": go
	Severity  string // low, medium, high, critical
	Summary   string
	GHSA, CVE string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CodeScanningAlert is a code scanning alert.
type CodeScanningAlert struct {
	Number           int
	State            string // "": open
	RuleID           string
	Description      string
	Severity         string // error, warning, note
	SecuritySeverity string // low, medium, high, critical
	Path             string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// App is the GitHub App the fake knows: JWTs must be RS256 signatures by PublicKey's
// private key, issued by ID (or ClientID).
type App struct {
	ID        int64
	ClientID  string
	Slug      string // "": releaseops
	PublicKey *rsa.PublicKey
	// Installations are where the App is installed.
	Installations []Installation
}

// Installation is one installation of the App on an organisation.
type Installation struct {
	ID      int64
	Account string // organisation login
	// Repos are the repositories it was given (owner/name); nil is every repository of the
	// account (repository_selection "all").
	Repos []string
	// Permissions are as GitHub names them; nil is what ReleaseOps's manifest asks for.
	Permissions map[string]string
	Suspended   bool
}

// defaultPermissions are the permissions of integrations/github/app-manifest.json.
func defaultPermissions() map[string]string {
	return map[string]string{"actions": "read", "administration": "read", "checks": "read", "contents": "read",
		"deployments": "write", "metadata": "read", "pull_requests": "read", "security_events": "read", "vulnerability_alerts": "read"}
}

// actionsAppID is GitHub Actions' app id: the app a required check is expected from.
const actionsAppID = 15368
