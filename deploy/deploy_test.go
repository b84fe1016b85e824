package deploy_test

// These tests read the deployment manifests as data: no Docker, no cluster, no network. They catch
// what a reviewer misses in YAML: a probe on the wrong port, a replica count, a Secret key the
// Deployment asks for but the template lacks, an env name that is not a config key (the loader
// refuses unknown RELEASEOPS_ variables, so the replica would not start), or a real credential
// pasted where a placeholder belongs. The startup tests (compose_test.go, kubernetes_test.go)
// go further: they fill every interpolation and Secret reference with a value of the right
// shape and run the real config loader on what a replica would get, so a manifest that lacks a
// key a non-loopback server must set (web.auth, audit.signing_key...) fails here, not at start.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/releaseops/releaseops/config"
)

// envKeys is every RELEASEOPS_ variable the manifests may name, with the config key it sets
// (the YAML path; empty for variables that are not config keys). A new name in a manifest must
// be added here, which is the moment to check config.example.yaml for it.
var envKeys = map[string]string{
	"RELEASEOPS_LISTEN":                        "listen",
	"RELEASEOPS_PUBLIC_URL":                    "public_url",
	"RELEASEOPS_LOG_FORMAT":                    "log.format",
	"RELEASEOPS_SERVER_SHUTDOWN_TIMEOUT":       "server.shutdown_timeout",
	"RELEASEOPS_STORAGE_DRIVER":                "storage.driver",
	"RELEASEOPS_STORAGE_POSTGRES_URL":          "storage.postgres_url",
	"RELEASEOPS_GITHUB_WEBHOOK_SECRET":         "github.webhook_secret",
	"RELEASEOPS_GITHUB_TOKEN":                  "github.token",
	"RELEASEOPS_DEPLOY_WEBHOOK_SECRET":         "deploy.webhook_secret",
	"RELEASEOPS_PAGERDUTY_WEBHOOK_SECRETS":     "pagerduty.webhook_secrets",
	"RELEASEOPS_TERRAFORM_WEBHOOK_SECRET":      "terraform.webhook_secret",
	"RELEASEOPS_SLACK_BOT_TOKEN":               "slack.bot_token",
	"RELEASEOPS_SLACK_SIGNING_SECRET":          "slack.signing_secret",
	"RELEASEOPS_CATALOG_GITHUB_DISCOVERY_ORGS": "catalog.github_discovery.orgs",
	"RELEASEOPS_WEB_AUTH":                      "web.auth",
	"RELEASEOPS_WEB_OIDC_ISSUER":               "web.oidc.issuer",
	"RELEASEOPS_WEB_OIDC_CLIENT_ID":            "web.oidc.client_id",
	"RELEASEOPS_WEB_OIDC_CLIENT_SECRET":        "web.oidc.client_secret",
	"RELEASEOPS_WEB_OIDC_ALLOWED_DOMAINS":      "web.oidc.allowed_domains",
	"RELEASEOPS_WEB_OIDC_ALLOWED_GROUPS":       "web.oidc.allowed_groups",
	"RELEASEOPS_WEB_SESSION_KEY":               "web.session_key",
	"RELEASEOPS_AUDIT_SIGNING_KEY":             "audit.signing_key",
	"RELEASEOPS_AUDIT_ANCHOR_CHANNEL":          "audit.anchor_channel",
	"RELEASEOPS_CONFIG":                        "", // the config file's path (config.NotConfigKeys)
}

// otherEnv are the non-RELEASEOPS variables a container may get.
var otherEnv = map[string]bool{
	"GOMEMLIMIT":        true,
	"POSTGRES_USER":     true,
	"POSTGRES_DB":       true,
	"POSTGRES_PASSWORD": true,
}

var (
	envNamePattern = regexp.MustCompile(`^RELEASEOPS_[A-Z_]+$`)
	envNameInText  = regexp.MustCompile(`RELEASEOPS_[A-Z0-9_]+`)
	// secretName matches variables and Secret keys that hold credentials.
	secretName = regexp.MustCompile(`(?i)(secret|token|password|postgres_url|session_key|signing_key)`)
)

type document struct {
	file string
	v    map[string]any
}

func (d document) kind() string { s, _ := d.v["kind"].(string); return s }

// loadYAML decodes every document of every .yml/.yaml file under the deploy directory.
func loadYAML(t *testing.T) []document {
	t.Helper()
	var docs []document
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !(strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for i := 0; ; i++ {
			var v map[string]any
			err := dec.Decode(&v)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s: document %d: %w", path, i, err)
			}
			if v != nil {
				docs = append(docs, document{file: filepath.ToSlash(path), v: v})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("no YAML documents found under deploy/")
	}
	return docs
}

func findKind(t *testing.T, docs []document, kind string) document {
	t.Helper()
	var found []document
	for _, d := range docs {
		if d.kind() == kind {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s, found %d", kind, len(found))
	}
	return found[0]
}

func findFile(t *testing.T, docs []document, file string) document {
	t.Helper()
	for _, d := range docs {
		if d.file == file {
			return d
		}
	}
	t.Fatalf("%s: not found or empty", file)
	return document{}
}

// get walks a path of map keys and list indexes; nil when any step is missing.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

func list(v any) []any { l, _ := v.([]any); return l }

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

// placeholder reports whether a committed value is safe: short, or visibly not a real secret.
func placeholder(v string) bool {
	return len(v) <= 20 || strings.Contains(v, "REPLACE_ME") || strings.Contains(v, "${")
}

func TestEnvKeysAreConfigKeys(t *testing.T) {
	for name, path := range envKeys {
		if !envNamePattern.MatchString(name) {
			t.Errorf("%s: not of the form RELEASEOPS_[A-Z_]+", name)
		}
		if path == "" {
			if !slices.Contains(config.NotConfigKeys, name) {
				t.Errorf("%s: listed as no config key, but the loader does not know it (config.NotConfigKeys)", name)
			}
			continue
		}
		if want := "RELEASEOPS_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_")); name != want {
			t.Errorf("%s: config key %s maps to %s", name, path, want)
		}
		// Ask the loader itself: whatever else it finds wrong with one variable on the
		// defaults, it must not call the name unknown.
		_, err := config.Load("", []string{name + "=x"})
		var p *config.Problems
		if errors.As(err, &p) {
			for _, line := range p.List {
				if strings.HasPrefix(line, name+": no such config key") {
					t.Errorf("%s (%s): the loader says %q", name, path, line)
				}
			}
		}
	}
}

func TestEveryEnvNameIsKnown(t *testing.T) {
	files := []string{".env.example"}
	err := filepath.WalkDir(".", func(path string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range envNameInText.FindAllString(string(data), -1) {
			used[name] = true
			if _, ok := envKeys[name]; !ok {
				t.Errorf("%s: %s is not in envKeys; the loader refuses a RELEASEOPS_ variable that is no config key", f, name)
			}
		}
	}
	for name := range envKeys {
		if !used[name] {
			t.Errorf("envKeys lists %s, which no manifest uses", name)
		}
	}
}

// TestNoCommittedSecrets checks that every Secret value, every credential in the compose
// file and every value in .env.example is a placeholder or an interpolation.
func TestNoCommittedSecrets(t *testing.T) {
	docs := loadYAML(t)
	// check judges every string under v. A value is a credential when its own key (or, in a
	// list, the list's key) names one; strict also applies the length rule to every other value,
	// for places that hold nothing but secrets (a Secret, the compose configs).
	var check func(where string, v any, credential, strict bool)
	check = func(where string, v any, credential, strict bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				check(where+"."+k, e, secretName.MatchString(k), strict)
			}
		case []any:
			for i, e := range x {
				check(fmt.Sprintf("%s[%d]", where, i), e, credential, strict)
			}
		case string:
			if strings.Contains(x, "\n") { // an embedded file, such as config.yaml
				var inner any
				if err := yaml.Unmarshal([]byte(x), &inner); err == nil {
					if _, ok := inner.(string); !ok {
						check(where, inner, false, true)
						return
					}
				}
			}
			if (strict || credential) && !placeholder(x) {
				t.Errorf("%s: %d-character value without REPLACE_ME or ${...}; is it a real secret?", where, len(x))
			}
			if credential && x != "" && !strings.Contains(x, "REPLACE_ME") && !strings.Contains(x, "${") && !strings.HasPrefix(x, "file:") {
				t.Errorf("%s: a credential that is not a placeholder", where)
			}
		}
	}
	for _, d := range docs {
		switch {
		case d.kind() == "Secret":
			if d.v["data"] != nil {
				t.Errorf("%s: Secret template uses data (base64); use stringData with REPLACE_ME", d.file)
			}
			for k, v := range mapOf(d.v["stringData"]) {
				check(d.file+":stringData."+k, v, true, true)
			}
		case d.file == "docker-compose.yml":
			for name, s := range mapOf(d.v["services"]) {
				check(d.file+":"+name+".environment", get(s, "environment"), false, false)
			}
			check(d.file+":configs", d.v["configs"], false, true)
		}
	}

	data, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example:%d: not KEY=VALUE", i+1)
			continue
		}
		if secretName.MatchString(k) && v != "" && v != "REPLACE_ME" {
			t.Errorf(".env.example:%d: %s must be REPLACE_ME or empty", i+1, k)
		}
		if !placeholder(v) && !strings.HasPrefix(v, "http://localhost") {
			t.Errorf(".env.example:%d: %s has a %d-character value", i+1, k, len(v))
		}
	}
}

// fakeValue stands in for the credential name (an environment variable or a Secret key) in the
// shape the loader checks: a base64 Ed25519 seed for a signing key, else 64 hex digits (a
// session key of 32 bytes and more, a URL-safe password, an API token of 16 characters and
// more). n makes several values for one name distinct, as API tokens must be.
func fakeValue(name string, n int) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s#%d", name, n)))
	if strings.Contains(strings.ToLower(name), "signing_key") {
		return base64.StdEncoding.EncodeToString(sum[:]) // 32 bytes: ed25519.SeedSize
	}
	return hex.EncodeToString(sum[:])
}

// startConfig runs the real loader, as `releaseops serve` does first, on a replica's
// environment and its config file (file is the content; "" for none). It reports every problem
// as the refusal to start it would be, and returns nil then.
func startConfig(t *testing.T, where string, env map[string]string, file string) *config.Config {
	t.Helper()
	path := ""
	if file != "" {
		path = filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	environ := make([]string, 0, len(env))
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	sort.Strings(environ)
	cfg, err := config.Load(path, environ)
	if err != nil {
		t.Errorf("%s: the replica would refuse to start: %v", where, err)
		return nil
	}
	return cfg
}

// checkStarted checks what a loaded replica config must hold beyond passing validation: the
// sign-in chosen, a session key every replica can share, and audit anchors that are signed.
func checkStarted(t *testing.T, where string, cfg *config.Config, auth string) {
	t.Helper()
	if cfg == nil {
		return
	}
	if got := cfg.WebAuth(); got != auth {
		t.Errorf("%s: web.auth is %q, want %q", where, got, auth)
	}
	if !cfg.Web.SessionKey.IsSet() {
		t.Errorf("%s: no web.session_key: each replica would draw its own and sessions would not carry over", where)
	}
	if key, err := cfg.AuditKey(); err != nil || key == nil || cfg.Audit.AnchorInterval <= 0 {
		t.Errorf("%s: audit anchors are not signed (key %v, err %v, anchor_interval %v)", where, key != nil, err, cfg.Audit.AnchorInterval)
	}
}
