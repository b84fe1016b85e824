// Package config loads and validates the ReleaseOps configuration: YAML, then RELEASEOPS_*
// environment overrides, then checks that report every problem with its YAML path.
package config

import (
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/scoring"
)

// Config is the whole configuration. config.example.yaml documents every key.
type Config struct {
	Listen    string               `yaml:"listen"`
	PublicURL string               `yaml:"public_url"`
	Log       Log                  `yaml:"log"`
	Storage   Storage              `yaml:"storage"`
	Server    Server               `yaml:"server"`
	GitHub    GitHub               `yaml:"github"`
	PagerDuty PagerDuty            `yaml:"pagerduty"`
	Deploy    Deploy               `yaml:"deploy"`
	Terraform Terraform            `yaml:"terraform"`
	Slack     Slack                `yaml:"slack"`
	API       API                  `yaml:"api"`
	Gate      Gate                 `yaml:"gate"`
	Scoring   scoring.Config       `yaml:"scoring"`
	Catalog   Catalog              `yaml:"catalog"`
	Sync      Sync                 `yaml:"sync"`
	Risk      risk.Config          `yaml:"risk"`
	Web       Web                  `yaml:"web"`
	Audit     Audit                `yaml:"audit"`
	Digests   Digests              `yaml:"digests"`
	Services  []releaseops.Service `yaml:"services"`
	// Initiatives move services to a target by a deadline (docs/initiatives.md).
	Initiatives []initiative.Spec `yaml:"initiatives"`

	Exemptions Exemptions `yaml:"exemptions"`
}

// Log sets the structured logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Storage is the database: SQLite (one file, one process; the default) or PostgreSQL
// (several replicas on one database).
type Storage struct {
	// Driver is sqlite or postgres.
	Driver     string `yaml:"driver"`
	SQLitePath string `yaml:"sqlite_path"`
	// PostgresURL is the PostgreSQL connection URL or DSN (driver postgres). Its search_path
	// picks the schema, so one database can hold several installations.
	PostgresURL Secret `yaml:"postgres_url"`
	// ConnectRetry is how long serve keeps retrying an unreachable PostgreSQL at start, with
	// backoff, answering /readyz 503 meanwhile, before it gives up.
	ConnectRetry releaseops.Duration `yaml:"connect_retry"`
	// Synchronous: FULL survives power loss (an fsync per group commit); NORMAL survives a
	// process crash only.
	Synchronous string              `yaml:"synchronous"`
	BusyTimeout releaseops.Duration `yaml:"busy_timeout"`
	MaxBatch    int                 `yaml:"max_batch"`
	// AllowSharedFile opens an existing database file that group or others may read or
	// write; off, such a file is refused at start. New files are created 0600 either way.
	AllowSharedFile bool `yaml:"allow_shared_file"`
}

// Server limits what one client can make the server do.
type Server struct {
	ReadTimeout     releaseops.Duration `yaml:"read_timeout"`
	WriteTimeout    releaseops.Duration `yaml:"write_timeout"`
	ShutdownTimeout releaseops.Duration `yaml:"shutdown_timeout"`
	MaxHeaderBytes  int                 `yaml:"max_header_bytes"`
	MaxBodyBytes    int64               `yaml:"max_body_bytes"`
	// MaxInFlight caps concurrent requests; beyond it the server answers 503 with Retry-After.
	MaxInFlight int `yaml:"max_in_flight"`
	// RateLimits caps requests per second per webhook source (github, pagerduty, deploy,
	// terraform, slack); 0 or absent means no limit.
	RateLimits map[string]float64 `yaml:"rate_limits"`
}

// GitHub is the GitHub App or repository webhook and REST access.
type GitHub struct {
	Enabled       *bool  `yaml:"enabled"`
	WebhookSecret Secret `yaml:"webhook_secret"`
	Token         Secret `yaml:"token"`
	APIURL        string `yaml:"api_url"`
	// AppID and PrivateKey authenticate as a GitHub App (the alternative to Token): the App
	// mints an installation token per installation for sync, release notes and deployment
	// protection rule callbacks. InstallationID pins one installation; without it each
	// repository's installation is looked up (or taken from the webhook delivery).
	AppID          int64  `yaml:"app_id"`
	PrivateKey     Secret `yaml:"private_key"`
	InstallationID int64  `yaml:"installation_id"`
	// RunbookPaths are path patterns (path.Match, or a prefix ending in /) whose pushes count
	// as runbook updates, in addition to runbook*.md files.
	RunbookPaths []string `yaml:"runbook_paths"`
}

// PagerDuty is the V3 webhook subscription and REST access.
type PagerDuty struct {
	Enabled        *bool    `yaml:"enabled"`
	WebhookSecrets []Secret `yaml:"webhook_secrets"`
	Token          Secret   `yaml:"token"`
	APIURL         string   `yaml:"api_url"`
}

// Deploy is the generic deploy-event webhook.
type Deploy struct {
	Enabled       *bool  `yaml:"enabled"`
	WebhookSecret Secret `yaml:"webhook_secret"`
}

// Terraform is the HCP Terraform / TFE notification webhook and API access.
type Terraform struct {
	Enabled       *bool  `yaml:"enabled"`
	WebhookSecret Secret `yaml:"webhook_secret"`
	// Token is an HCP Terraform / TFE API token (team or user) that can read the mapped
	// workspaces, their runs and health assessments; it enables the Terraform sync.
	Token Secret `yaml:"token"`
	// Address is the HCP Terraform or Terraform Enterprise address.
	Address string `yaml:"address"`
	// Organization owns the mapped workspaces (a workspace may also be named "org/workspace").
	Organization string `yaml:"organization"`
}

// Slack is the bot.
type Slack struct {
	BotToken       Secret `yaml:"bot_token"`
	SigningSecret  Secret `yaml:"signing_secret"`
	AppToken       Secret `yaml:"app_token"` // xapp-…, for Socket Mode
	SocketMode     bool   `yaml:"socket_mode"`
	APIURL         string `yaml:"api_url"`
	DefaultChannel string `yaml:"default_channel"`
	// MaxAttempts is how many times the outbox tries a message before it is dead.
	MaxAttempts int `yaml:"max_attempts"`
}

// API holds the bearer tokens for /api/v1.
type API struct {
	Tokens []APIToken `yaml:"tokens"`
}

// APIToken is one bearer token and what it may do.
type APIToken struct {
	Name   string   `yaml:"name"`
	Token  Secret   `yaml:"token"`
	Scopes []string `yaml:"scopes"` // read, gate
}

// Gate is the deploy gate.
type Gate struct {
	Thresholds      map[string]scoring.Thresholds `yaml:"thresholds"`
	ApprovalTimeout releaseops.Duration           `yaml:"approval_timeout"`
	// OnUnknown is what the gate answers when a service has no score or stale data:
	// block or needs_approval.
	OnUnknown string `yaml:"on_unknown"`
	// StaleAfter: a service with no event for this long is treated as unknown.
	StaleAfter releaseops.Duration `yaml:"stale_after"`
	// Users maps requesters (GitHub logins, CI actors, emails) to Slack user ids, so that a
	// requester cannot approve their own deploy under another name.
	Users map[string]string `yaml:"users"`
	// Windows are the weekly hours per environment (optionally per service or tier) in which
	// deploys go out without a human; outside them the gate asks for an approval.
	Windows []risk.WindowConfig `yaml:"windows"`
	// Blackouts are named periods in which deploys are blocked, or need a quorum to override.
	Blackouts []risk.BlackoutConfig `yaml:"blackouts"`
	// TrustLadder: which risk levels pass without a human in the mature and healthy bands, by
	// the service's rung.
	TrustLadder risk.LadderConfig `yaml:"trust_ladder"`
	// Quorum rules: how many distinct approvers an approval needs.
	Quorum []QuorumRule `yaml:"quorum"`
	// Mode is enforce or observe; ModeByEnvironment overrides it per environment and a
	// service's gate_mode overrides both (docs/rollout.md, "Observe mode").
	Mode              string            `yaml:"mode"`
	ModeByEnvironment map[string]string `yaml:"mode_by_environment"`
}

// Catalog says where service definitions come from besides `services:`.
type Catalog struct {
	// BackstagePaths are catalog-info.yaml files or directories searched for them.
	BackstagePaths []string `yaml:"backstage_paths"`
	// GitHubDiscovery lists the repositories of these organisations that the GitHub App (or
	// token) can see and reads catalog-info.yaml at each root.
	GitHubDiscovery GitHubDiscovery `yaml:"github_discovery"`
}

// GitHubDiscovery finds services in GitHub organisations without a local checkout.
type GitHubDiscovery struct {
	Orgs []string `yaml:"orgs"`
}

// Sync reads each source's standing state from its API.
type Sync struct {
	// Enabled turns the background sync in serve on or off; unset means on whenever a
	// source has API credentials.
	Enabled *bool `yaml:"enabled"`
	// Interval between full runs of a source (jittered by up to a tenth).
	Interval releaseops.Duration `yaml:"interval"`
	// Concurrency bounds the subjects read at once, per source.
	Concurrency int `yaml:"concurrency"`
	// StaleAfter: an observation read from an API longer ago than this stops counting as
	// passing (the sync that would confirm it is failing or stopped).
	StaleAfter releaseops.Duration `yaml:"stale_after"`
	// Timeout bounds one subject's read.
	Timeout releaseops.Duration `yaml:"timeout"`
}

// Default returns the embedded defaults: what `releaseops serve` runs on with no config.
func Default() Config {
	return Config{
		Listen:    "127.0.0.1:8080",
		PublicURL: "http://127.0.0.1:8080",
		Log:       Log{Level: "info", Format: "text"},
		Storage: Storage{Driver: "sqlite", SQLitePath: "./releaseops.db", Synchronous: "FULL", ConnectRetry: releaseops.Duration(5 * time.Minute),
			BusyTimeout: releaseops.Duration(5 * time.Second), MaxBatch: 256},
		Server: Server{ReadTimeout: releaseops.Duration(30 * time.Second), WriteTimeout: releaseops.Duration(30 * time.Second),
			ShutdownTimeout: releaseops.Duration(20 * time.Second), MaxHeaderBytes: 64 << 10, MaxBodyBytes: 25 << 20, MaxInFlight: 1024},
		GitHub:    GitHub{APIURL: "https://api.github.com/"},
		PagerDuty: PagerDuty{APIURL: "https://api.pagerduty.com"},
		Terraform: Terraform{Address: "https://app.terraform.io"},
		Slack:     Slack{APIURL: "https://slack.com/api/", MaxAttempts: 8},
		Gate: Gate{
			Thresholds: map[string]scoring.Thresholds{
				"default":    {BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85},
				"production": {BlockBelow: 60, ApprovalBelow: 75, MatureAt: 85},
			},
			ApprovalTimeout: releaseops.Duration(30 * time.Minute),
			OnUnknown:       "block",
			StaleAfter:      releaseops.Duration(30 * 24 * time.Hour),
			TrustLadder:     risk.DefaultLadder(),
			Quorum:          DefaultQuorum(),
			Mode:            "enforce",
		},
		Risk:    risk.DefaultConfig(),
		Scoring: scoring.DefaultConfig(),
		Sync: Sync{Interval: releaseops.Duration(6 * time.Hour), Concurrency: 4,
			StaleAfter: releaseops.Duration(72 * time.Hour), Timeout: releaseops.Duration(2 * time.Minute)},
		Web:   Web{Proxy: WebProxy{Header: "X-Forwarded-Email"}, SessionTTL: releaseops.Duration(12 * time.Hour), OIDC: WebOIDC{GroupsClaim: "groups"}},
		Audit: Audit{AnchorInterval: releaseops.Duration(time.Hour)},
	}
}

// GitHubApp reports whether GitHub App credentials are configured.
func (c *Config) GitHubApp() bool { return c.GitHub.AppID != 0 && c.GitHub.PrivateKey.IsSet() }

// GitHubAPI reports whether ReleaseOps can call the GitHub API (an App or a token).
func (c *Config) GitHubAPI() bool { return c.GitHubApp() || c.GitHub.Token.IsSet() }

// SyncEnabled reports whether serve runs the background sync.
func (c *Config) SyncEnabled() bool { return c.Sync.Enabled == nil || *c.Sync.Enabled }

// SourceEnabled reports whether a webhook source is on: explicitly, or by having its secret.
func sourceEnabled(flag *bool, hasSecret bool) bool {
	if flag != nil {
		return *flag
	}
	return hasSecret
}

// GitHubEnabled reports whether POST /webhooks/github is on.
func (c *Config) GitHubEnabled() bool {
	return sourceEnabled(c.GitHub.Enabled, c.GitHub.WebhookSecret.IsSet())
}

// PagerDutyEnabled reports whether POST /webhooks/pagerduty is on.
func (c *Config) PagerDutyEnabled() bool {
	return sourceEnabled(c.PagerDuty.Enabled, len(c.PagerDuty.WebhookSecrets) > 0)
}

// DeployEnabled reports whether POST /webhooks/deploy is on.
func (c *Config) DeployEnabled() bool {
	return sourceEnabled(c.Deploy.Enabled, c.Deploy.WebhookSecret.IsSet())
}

// TerraformEnabled reports whether POST /webhooks/terraform is on.
func (c *Config) TerraformEnabled() bool {
	return sourceEnabled(c.Terraform.Enabled, c.Terraform.WebhookSecret.IsSet())
}
