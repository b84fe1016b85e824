package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/releaseops/releaseops/scoring"
)

// ServiceNamePattern is what a service name may look like: it appears in URLs, Slack
// commands and file names, so it stays plain.
var ServiceNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

var tfOrgPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$`)

var orgPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)

var repoPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// validate checks what decoding cannot: required secrets, ranges, references.
func (c *Config) validate() []string {
	var p []string
	add := func(path, format string, args ...any) { p = append(p, path+": "+fmt.Sprintf(format, args...)) }

	c.validateWeb(add)
	c.validateAudit(add)
	c.validateDigests(add)
	c.validateRisk(add)
	c.validateInitiatives(add)
	c.validateGateMode(add)
	c.validateExemptions(add)
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen", "want host:port, got %q", c.Listen)
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("public_url", "want an http(s) URL, got %q", c.PublicURL)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format", "must be json or text, got %q", c.Log.Format)
	}
	switch c.Storage.Driver {
	case "sqlite":
		if c.Storage.SQLitePath == "" {
			add("storage.sqlite_path", "required when storage.driver is sqlite")
		}
	case "postgres":
		if c.Storage.PostgresURL.Value() == "" {
			add("storage.postgres_url", "required when storage.driver is postgres (or set RELEASEOPS_STORAGE_POSTGRES_URL)")
		}
	default:
		add("storage.driver", "must be sqlite (one process, the default) or postgres (several replicas), got %q", c.Storage.Driver)
	}
	if c.Storage.ConnectRetry < 0 {
		add("storage.connect_retry", "must not be negative, got %s", c.Storage.ConnectRetry)
	}
	switch strings.ToUpper(c.Storage.Synchronous) {
	case "FULL", "NORMAL", "EXTRA":
	default:
		add("storage.synchronous", "must be FULL (survives power loss), NORMAL (survives a process crash) or EXTRA, got %q", c.Storage.Synchronous)
	}
	if c.Storage.MaxBatch < 1 || c.Storage.MaxBatch > 10000 {
		add("storage.max_batch", "must be between 1 and 10000, got %d", c.Storage.MaxBatch)
	}
	if c.Server.MaxBodyBytes < 1024 {
		add("server.max_body_bytes", "must be at least 1024, got %d", c.Server.MaxBodyBytes)
	}
	if c.Server.MaxInFlight < 1 {
		add("server.max_in_flight", "must be at least 1, got %d", c.Server.MaxInFlight)
	}
	for k, v := range c.Server.RateLimits {
		switch k {
		case "github", "pagerduty", "deploy", "terraform", "slack":
		default:
			add("server.rate_limits."+k, "unknown source; use github, pagerduty, deploy, terraform or slack")
		}
		if v < 0 {
			add("server.rate_limits."+k, "must not be negative")
		}
	}

	needSecret := func(enabled bool, s Secret, key, env string) {
		if enabled && !s.IsSet() {
			add(key, "required when the source is enabled (or set %s)", env)
		}
	}
	needSecret(c.GitHubEnabled(), c.GitHub.WebhookSecret, "github.webhook_secret", "RELEASEOPS_GITHUB_WEBHOOK_SECRET")
	needSecret(c.DeployEnabled(), c.Deploy.WebhookSecret, "deploy.webhook_secret", "RELEASEOPS_DEPLOY_WEBHOOK_SECRET")
	needSecret(c.TerraformEnabled(), c.Terraform.WebhookSecret, "terraform.webhook_secret", "RELEASEOPS_TERRAFORM_WEBHOOK_SECRET")
	if c.PagerDutyEnabled() && len(c.PagerDuty.WebhookSecrets) == 0 {
		add("pagerduty.webhook_secrets", "required when the source is enabled (or set RELEASEOPS_PAGERDUTY_WEBHOOK_SECRETS)")
	}
	for i, s := range c.PagerDuty.WebhookSecrets {
		if !s.IsSet() {
			add(fmt.Sprintf("pagerduty.webhook_secrets[%d]", i), "empty secret")
		}
	}
	checkURL := func(key, v string) {
		if v == "" {
			return
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(key, "want an http(s) URL, got %q", v)
		}
	}
	checkURL("github.api_url", c.GitHub.APIURL)
	switch {
	case c.GitHub.AppID < 0:
		add("github.app_id", "must be a positive App id, got %d", c.GitHub.AppID)
	case c.GitHub.AppID != 0 && !c.GitHub.PrivateKey.IsSet():
		add("github.private_key", "required with github.app_id: the App's private key (PEM), or file:/path/to/key.pem")
	case c.GitHub.AppID == 0 && c.GitHub.PrivateKey.IsSet():
		add("github.app_id", "required with github.private_key: the App's numeric id (App settings, \"App ID\")")
	}
	if c.GitHub.PrivateKey.IsSet() {
		if err := checkPrivateKey(c.GitHub.PrivateKey.Value()); err != nil {
			add("github.private_key", "%v", err)
		}
	}
	if c.GitHub.InstallationID < 0 {
		add("github.installation_id", "must be a positive installation id, got %d", c.GitHub.InstallationID)
	}
	if c.GitHub.InstallationID != 0 && c.GitHub.AppID == 0 {
		add("github.installation_id", "only meaningful with github.app_id and github.private_key")
	}
	for i, org := range c.Catalog.GitHubDiscovery.Orgs {
		if !orgPattern.MatchString(org) {
			add(fmt.Sprintf("catalog.github_discovery.orgs[%d]", i), "want a GitHub organisation name, got %q", org)
		}
	}
	if len(c.Catalog.GitHubDiscovery.Orgs) > 0 && !c.GitHubAPI() {
		add("catalog.github_discovery", "needs GitHub API access: set github.app_id and github.private_key, or github.token")
	}
	if c.Sync.Interval.Std() < time.Minute {
		add("sync.interval", "must be at least 1m, got %s", c.Sync.Interval.Std())
	}
	if c.Sync.Concurrency < 1 || c.Sync.Concurrency > 64 {
		add("sync.concurrency", "must be between 1 and 64, got %d", c.Sync.Concurrency)
	}
	if c.Sync.StaleAfter.Std() < c.Sync.Interval.Std() {
		add("sync.stale_after", "must be at least sync.interval (%s), got %s", c.Sync.Interval.Std(), c.Sync.StaleAfter.Std())
	}
	if c.Sync.Timeout.Std() < time.Second {
		add("sync.timeout", "must be at least 1s, got %s", c.Sync.Timeout.Std())
	}
	checkURL("pagerduty.api_url", c.PagerDuty.APIURL)
	checkURL("terraform.address", c.Terraform.Address)
	switch {
	case c.Terraform.Token.IsSet() && c.Terraform.Organization == "":
		add("terraform.organization", "required with terraform.token: the HCP Terraform / TFE organisation that owns the mapped workspaces")
	case c.Terraform.Organization != "" && !tfOrgPattern.MatchString(c.Terraform.Organization):
		add("terraform.organization", "want an organisation name (letters, digits, - and _), got %q", c.Terraform.Organization)
	}
	checkURL("slack.api_url", c.Slack.APIURL)
	if c.Slack.SocketMode && !c.Slack.AppToken.IsSet() {
		add("slack.app_token", "required when slack.socket_mode is true (an xapp- token with connections:write)")
	}
	if c.Slack.SocketMode && !c.Slack.BotToken.IsSet() {
		add("slack.bot_token", "required when slack.socket_mode is true")
	}
	if c.Slack.MaxAttempts < 1 {
		add("slack.max_attempts", "must be at least 1, got %d", c.Slack.MaxAttempts)
	}

	seenTok := map[string]int{}
	for i, t := range c.API.Tokens {
		path := fmt.Sprintf("api.tokens[%d]", i)
		if t.Name == "" {
			add(path+".name", "required")
		}
		if !t.Token.IsSet() {
			add(path+".token", "required")
		} else if len(t.Token.Value()) < 16 {
			add(path+".token", "too short: use at least 16 characters")
		} else if j, dup := seenTok[t.Token.Value()]; dup {
			add(path+".token", "same token as api.tokens[%d]", j)
		} else {
			seenTok[t.Token.Value()] = i
		}
		if len(t.Scopes) == 0 {
			add(path+".scopes", "required: read, gate or both")
		}
		for j, s := range t.Scopes {
			if s != "read" && s != "gate" {
				add(fmt.Sprintf("%s.scopes[%d]", path, j), "must be read or gate, got %q", s)
			}
		}
	}

	envs := make([]string, 0, len(c.Gate.Thresholds))
	for env := range c.Gate.Thresholds {
		envs = append(envs, env)
	}
	sort.Strings(envs)
	for _, env := range envs {
		th := c.Gate.Thresholds[env]
		path := "gate.thresholds." + env
		if th.BlockBelow < 0 || th.MatureAt > 100 || th.BlockBelow > th.ApprovalBelow || th.ApprovalBelow > th.MatureAt {
			add(path, "want 0 ≤ block_below ≤ approval_below ≤ mature_at ≤ 100, got %v / %v / %v", th.BlockBelow, th.ApprovalBelow, th.MatureAt)
		}
	}
	if c.Gate.ApprovalTimeout <= 0 {
		add("gate.approval_timeout", "must be positive")
	}
	if c.Gate.OnUnknown != "block" && c.Gate.OnUnknown != "needs_approval" {
		add("gate.on_unknown", "must be block or needs_approval, got %q", c.Gate.OnUnknown)
	}

	names := map[string]int{}
	for i, s := range c.Services {
		path := fmt.Sprintf("services[%d]", i)
		if !ServiceNamePattern.MatchString(s.Name) {
			add(path+".name", "want lower-case letters, digits, '.', '_' or '-' (at most 63), got %q", s.Name)
		} else if j, dup := names[s.Name]; dup {
			add(path+".name", "%q is already services[%d]", s.Name, j)
		} else {
			names[s.Name] = i
		}
		if s.Repo != "" && !repoPattern.MatchString(s.Repo) {
			add(path+".repo", "want org/name, got %q", s.Repo)
		}
		if s.Tier < 0 || s.Tier > 5 {
			add(path+".tier", "must be between 0 and 5, got %d", s.Tier)
		}
		for j, slo := range s.SLOs {
			if slo.Objective <= 0 || slo.Objective > 100 {
				add(fmt.Sprintf("%s.slos[%d].objective", path, j), "must be a percentage in (0, 100], got %v", slo.Objective)
			}
		}
		for j, d := range s.NotApplicable {
			if !isDimension(d) {
				add(fmt.Sprintf("%s.not_applicable[%d]", path, j), "unknown dimension %q", d)
			}
		}
		if s.RTOTargetSeconds < 0 {
			add(path+".rto_target_seconds", "must not be negative")
		}
	}

	if _, err := scoring.Compile(c.Scoring, c.Gate.Thresholds, c.PublicURL); err != nil {
		for _, line := range splitJoined(err) {
			if !strings.HasPrefix(line, "scoring.") {
				line = "scoring: " + line
			}
			p = append(p, line)
		}
	}
	return p
}

func isDimension(id string) bool {
	for _, d := range scoring.Dimensions {
		if d.ID == id {
			return true
		}
	}
	return false
}

// splitJoined flattens an errors.Join tree into its messages.
func splitJoined(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []string
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	return []string{err.Error()}
}
