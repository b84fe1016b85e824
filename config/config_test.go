package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../config.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Services) != 2 || cfg.Services[0].Approvers[1] != "U0BOB" || !cfg.GitHubEnabled() || !cfg.PagerDutyEnabled() {
		t.Fatalf("example config decoded wrongly: %+v", cfg.Services)
	}
	if cfg.Scoring.Signals["pr_approval_share"].Weight != 2 {
		t.Fatalf("scoring overrides not decoded: %+v", cfg.Scoring.Signals)
	}
}

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Storage.SQLitePath != "./releaseops.db" || cfg.GitHubEnabled() {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func problems(t *testing.T, yaml string, env ...string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, env)
	var p *Problems
	if !errors.As(err, &p) {
		t.Fatalf("want *Problems, got %v", err)
	}
	return p.List
}

func TestEveryKindOfMistakeNamesItsPath(t *testing.T) {
	cases := []struct {
		name, yaml string
		env        []string
		want       []string
	}{
		{"unknown key", "listen: 127.0.0.1:1\nlistn: x\n", nil, []string{`listn: unknown key (did you mean "listen"?)`}},
		{"nested unknown key", "slack:\n  signing_secert: x\n", nil, []string{"slack.signing_secert: unknown key"}},
		{"unknown key in a list", "services:\n  - name: a\n    owner: t\n    approver: [U1]\n", nil, []string{"services[0].approver: unknown key"}},
		{"bad type", "services:\n  - name: a\n    tier: one\n", nil, []string{"services[0].tier: want a whole number"}},
		{"bad duration", "gate:\n  approval_timeout: soon\n", nil, []string{"gate.approval_timeout: invalid duration"}},
		{"list where mapping expected", "storage: [a]\n", nil, []string{"storage: want a mapping"}},
		{"missing secret for an enabled source", "github:\n  enabled: true\n", nil, []string{"github.webhook_secret: required when the source is enabled"}},
		{"bad enum", "gate:\n  on_unknown: maybe\n", nil, []string{`gate.on_unknown: must be block or needs_approval, got "maybe"`}},
		{"thresholds out of order", "gate:\n  thresholds:\n    production: {block_below: 80, approval_below: 70, mature_at: 90}\n", nil, []string{"gate.thresholds.production: want 0 ≤ block_below"}},
		{"duplicate service", "services:\n  - {name: a}\n  - {name: a}\n", nil, []string{`services[1].name: "a" is already services[0]`}},
		{"bad service name", "services:\n  - {name: 'Bad Name'}\n", nil, []string{"services[0].name: want lower-case"}},
		{"bad scope", "api:\n  tokens:\n    - {name: x, token: 0123456789abcdefgh, scopes: [write]}\n", nil, []string{`api.tokens[0].scopes[0]: must be read or gate, got "write"`}},
		{"bad env override", "", []string{"RELEASEOPS_STORAGE_MAX_BATCH=lots"}, []string{"RELEASEOPS_STORAGE_MAX_BATCH: want a whole number"}},
		{"unknown env key", "", []string{"RELEASEOPS_SLACK_SIGNING=x"}, []string{"RELEASEOPS_SLACK_SIGNING: no such config key"}},
		{"terraform token without organisation", "terraform:\n  token: t\n", nil, []string{"terraform.organization: required with terraform.token"}},
		{"bad terraform organisation", "terraform:\n  token: t\n  organization: 'my org/'\n", nil, []string{`terraform.organization: want an organisation name (letters, digits, - and _), got "my org/"`}},
		{"app id without key", "github:\n  app_id: 12\n", nil, []string{"github.private_key: required with github.app_id"}},
		{"private key not PEM", "github:\n  app_id: 12\n  private_key: not-a-key\n", nil, []string{"github.private_key: not a PEM block"}},
		{"bad discovery org", "github:\n  token: t\ncatalog:\n  github_discovery:\n    orgs: ['ac me']\n", nil, []string{`catalog.github_discovery.orgs[0]: want a GitHub organisation name, got "ac me"`}},
		{"sync concurrency out of range", "sync:\n  concurrency: 0\n", nil, []string{"sync.concurrency: must be between 1 and 64, got 0"}},
		{"bad CEL rule", "scoring:\n  rules:\n    - {id: r1, expr: 'nosuch > 1', dimension: observability}\n", nil, []string{"scoring.rules[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := problems(t, tc.yaml, tc.env...)
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems %q do not contain %q", got, w)
				}
			}
		})
	}
}

func TestSeveralProblemsReportedAtOnce(t *testing.T) {
	got := problems(t, "listn: x\nsevices: []\nstorage:\n  max_bath: 1\n")
	if len(got) != 3 {
		t.Fatalf("want 3 problems, got %q", got)
	}
}

func TestEnvOverridesAndSecretsNeverPrint(t *testing.T) {
	cfg, err := Load("", []string{"RELEASEOPS_SLACK_SIGNING_SECRET=s3cr3t-value", "RELEASEOPS_PAGERDUTY_WEBHOOK_SECRETS=a,b", "RELEASEOPS_LISTEN=127.0.0.1:9999", "RELEASEOPS_GITHUB_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.SigningSecret.Value() != "s3cr3t-value" || len(cfg.PagerDuty.WebhookSecrets) != 2 || cfg.Listen != "127.0.0.1:9999" {
		t.Fatalf("env not applied: %+v", cfg)
	}
	for _, s := range []string{fmt.Sprint(cfg.Slack), fmt.Sprintf("%+v", cfg.Slack), fmt.Sprintf("%#v", cfg.Slack), fmt.Sprint(cfg.PagerDuty)} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "a,b") {
			t.Fatalf("secret printed: %s", s)
		}
	}
}

func TestCommandLineVariablesAreNotConfigKeys(t *testing.T) {
	// A pipeline exports these for `releaseops gate`; they must not break other commands.
	env := []string{"RELEASEOPS_TOKEN=t", "RELEASEOPS_SERVER=http://x", "RELEASEOPS_REQUESTED_BY=alice", "RELEASEOPS_CONFIG="}
	if _, err := Load("", env); err != nil {
		t.Fatalf("command-line variables refused: %v", err)
	}
	if _, err := Load("", append(env, "RELEASEOPS_TOKENS=x")); err == nil {
		t.Fatal("an unknown RELEASEOPS_ variable must still be refused")
	}
}

func TestWorldReadableSecretFileRefused(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "secret")
	os.WriteFile(f, []byte("topsecret\n"), 0o644)
	got := problems(t, "deploy:\n  webhook_secret: file:"+f+"\n")
	if !strings.Contains(strings.Join(got, "\n"), "deploy.webhook_secret: secret file "+f+" is readable by group or others") {
		t.Fatalf("problems: %q", got)
	}
	os.Chmod(f, 0o600)
	path := filepath.Join(dir, "c.yaml")
	os.WriteFile(path, []byte("deploy:\n  webhook_secret: file:"+f+"\n"), 0o600)
	cfg, err := Load(path, nil)
	if err != nil || cfg.Deploy.WebhookSecret.Value() != "topsecret" {
		t.Fatalf("secret file: %v %v", err, cfg)
	}
}
