package deploy_test

// These tests read the deployment manifests as data: no Docker, no cluster, no network. They catch
// what a reviewer misses in YAML: a probe on the wrong port, a replica count, a Secret key the
// Deployment asks for but the template lacks, an env name that is not a config key (the loader
// refuses unknown RELEASEOPS_ variables, so the replica would not start), or a real credential
// pasted where a placeholder belongs.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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
	secretName = regexp.MustCompile(`(?i)(secret|token|password|postgres_url)`)
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
			continue
		}
		if want := "RELEASEOPS_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_")); name != want {
			t.Errorf("%s: config key %s maps to %s", name, path, want)
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

func TestDeployment(t *testing.T) {
	docs := loadYAML(t)
	dep := findKind(t, docs, "Deployment")
	spec := dep.v["spec"]
	if r, _ := get(spec, "replicas").(int); r != 2 {
		t.Errorf("replicas = %v, want 2", get(spec, "replicas"))
	}
	if mu := str(get(spec, "strategy", "rollingUpdate", "maxUnavailable")); mu != "0" {
		t.Errorf("rollingUpdate.maxUnavailable = %q, want 0", mu)
	}
	pod := get(spec, "template", "spec")
	if get(pod, "topologySpreadConstraints") == nil && get(pod, "affinity", "podAntiAffinity") == nil {
		t.Error("replicas are not spread over nodes (topologySpreadConstraints or podAntiAffinity)")
	}
	if get(pod, "securityContext", "runAsNonRoot") != true {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if u, _ := get(pod, "securityContext", "runAsUser").(int); u != 65532 {
		t.Errorf("pod securityContext.runAsUser = %v, want 65532 (distroless nonroot)", get(pod, "securityContext", "runAsUser"))
	}

	containers := list(get(pod, "containers"))
	if len(containers) != 1 {
		t.Fatalf("want one container, got %d", len(containers))
	}
	c := containers[0]
	if get(c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("container readOnlyRootFilesystem is not true")
	}
	if get(c, "resources", "requests") == nil || get(c, "resources", "limits") == nil {
		t.Error("container has no resource requests and limits")
	}

	ports := map[string]int{} // name → number, and "8080" → 8080
	for _, p := range list(get(c, "ports")) {
		n, _ := get(p, "containerPort").(int)
		ports[strconv.Itoa(n)] = n
		if name := str(get(p, "name")); name != "" {
			ports[name] = n
		}
	}
	if ports["8080"] != 8080 {
		t.Fatalf("no containerPort 8080 (the image listens on 0.0.0.0:8080): %v", ports)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		hg := get(c, probe, "httpGet")
		if hg == nil {
			t.Errorf("%s: no httpGet", probe)
			continue
		}
		if got := str(get(hg, "path")); got != path {
			t.Errorf("%s path = %q, want %q", probe, got, path)
		}
		if port := str(get(hg, "port")); ports[port] != 8080 {
			t.Errorf("%s port %q is not the container port 8080", probe, port)
		}
	}

	env := map[string]any{}
	for _, e := range list(get(c, "env")) {
		name := str(get(e, "name"))
		env[name] = e
		if !strings.HasPrefix(name, "RELEASEOPS_") && !otherEnv[name] {
			t.Errorf("container env %s: neither a RELEASEOPS_ key nor an expected variable", name)
		}
		if secretName.MatchString(name) {
			if get(e, "value") != nil {
				t.Errorf("env %s holds a secret as a literal value; use valueFrom.secretKeyRef", name)
			}
			if get(e, "valueFrom", "secretKeyRef") == nil {
				t.Errorf("env %s is not read from a Secret", name)
			}
		}
	}
	if str(get(env["RELEASEOPS_STORAGE_DRIVER"], "value")) != "postgres" {
		t.Error("RELEASEOPS_STORAGE_DRIVER is not postgres")
	}

	// SIGTERM waits up to server.shutdown_timeout; the preStop sleep comes before it. The kubelet
	// must not SIGKILL earlier.
	shutdown := 20
	if v := str(get(env["RELEASEOPS_SERVER_SHUTDOWN_TIMEOUT"], "value")); v != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(v, "s"))
		if err != nil {
			t.Fatalf("RELEASEOPS_SERVER_SHUTDOWN_TIMEOUT = %q: want whole seconds", v)
		}
		shutdown = n
	}
	sleep, _ := get(c, "lifecycle", "preStop", "sleep", "seconds").(int)
	if get(c, "lifecycle", "preStop") == nil {
		t.Error("no preStop hook: endpoints may still route to a stopping pod")
	}
	grace, _ := get(pod, "terminationGracePeriodSeconds").(int)
	if grace <= sleep+shutdown {
		t.Errorf("terminationGracePeriodSeconds %d leaves no time after preStop %d s + shutdown_timeout %d s", grace, sleep, shutdown)
	}

	// Every Secret key the Deployment reads must exist in the template, or a required one would
	// keep the pod from starting.
	secret := findKind(t, docs, "Secret")
	keys := mapOf(secret.v["stringData"])
	secretNameRef := str(get(secret.v, "metadata", "name"))
	for name, e := range env {
		ref := get(e, "valueFrom", "secretKeyRef")
		if ref == nil {
			continue
		}
		if str(get(ref, "name")) != secretNameRef {
			t.Errorf("env %s reads Secret %q; the template is %q", name, str(get(ref, "name")), secretNameRef)
		}
		if _, ok := keys[str(get(ref, "key"))]; !ok && get(ref, "optional") != true {
			t.Errorf("env %s reads key %q, missing from %s", name, str(get(ref, "key")), secret.file)
		}
	}
	for _, v := range list(get(pod, "volumes")) {
		for _, item := range list(get(v, "secret", "items")) {
			if _, ok := keys[str(get(item, "key"))]; !ok {
				t.Errorf("volume %s mounts key %q, missing from %s", str(get(v, "name")), str(get(item, "key")), secret.file)
			}
		}
	}
}

func TestServiceAndPDB(t *testing.T) {
	docs := loadYAML(t)
	labels := mapOf(get(findKind(t, docs, "Deployment").v, "spec", "template", "metadata", "labels"))
	matches := func(sel map[string]any) bool {
		if len(sel) == 0 {
			return false
		}
		for k, v := range sel {
			if labels[k] != v {
				return false
			}
		}
		return true
	}

	svc := findKind(t, docs, "Service")
	if typ := str(get(svc.v, "spec", "type")); typ != "" && typ != "ClusterIP" {
		t.Errorf("Service type %s, want ClusterIP", typ)
	}
	if !matches(mapOf(get(svc.v, "spec", "selector"))) {
		t.Error("the Service selector does not match the Deployment's pods")
	}
	if p, _ := get(svc.v, "spec", "ports", 0, "port").(int); p != 80 {
		t.Errorf("Service port %v, want 80", get(svc.v, "spec", "ports", 0, "port"))
	}
	if tp := str(get(svc.v, "spec", "ports", 0, "targetPort")); tp != "http" && tp != "8080" {
		t.Errorf("Service targetPort %q, want the container port (http / 8080)", tp)
	}

	pdb := findKind(t, docs, "PodDisruptionBudget")
	if m, _ := get(pdb.v, "spec", "minAvailable").(int); m != 1 {
		t.Errorf("PDB minAvailable %v, want 1", get(pdb.v, "spec", "minAvailable"))
	}
	if !matches(mapOf(get(pdb.v, "spec", "selector", "matchLabels"))) {
		t.Error("the PodDisruptionBudget selector does not match the Deployment's pods")
	}
}

func TestKustomization(t *testing.T) {
	docs := loadYAML(t)
	k := findFile(t, docs, "kubernetes/kustomization.yaml")
	listed := map[string]bool{}
	for _, r := range list(k.v["resources"]) {
		name := str(r)
		listed[name] = true
		if _, err := os.Stat(filepath.Join("kubernetes", name)); err != nil {
			t.Errorf("kustomization lists %s: %v", name, err)
		}
	}
	if listed["secret.example.yaml"] {
		t.Error("kustomization applies secret.example.yaml, a template of placeholders")
	}
	for _, d := range docs {
		dir, base := filepath.Split(d.file)
		if dir == "kubernetes/" && base != "kustomization.yaml" && base != "secret.example.yaml" && !listed[base] {
			t.Errorf("%s is not in kustomization.yaml", d.file)
		}
	}
}

func TestCompose(t *testing.T) {
	docs := loadYAML(t)
	compose := findFile(t, docs, "docker-compose.yml")
	services := mapOf(compose.v["services"])

	pg := services["postgres"]
	if img := str(get(pg, "image")); !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image %q, want postgres:15", img)
	}
	if !strings.Contains(fmt.Sprint(get(pg, "healthcheck", "test")), "pg_isready") {
		t.Error("postgres has no pg_isready healthcheck")
	}
	if len(list(get(pg, "volumes"))) == 0 {
		t.Error("postgres has no volume")
	} else {
		vol, _, _ := strings.Cut(str(get(pg, "volumes", 0)), ":")
		if _, ok := mapOf(compose.v["volumes"])[vol]; !ok {
			t.Errorf("postgres volume %q is not a named volume", vol)
		}
	}

	for _, name := range []string{"releaseops-1", "releaseops-2"} {
		s := services[name]
		if s == nil {
			t.Errorf("no service %s", name)
			continue
		}
		if ctx := str(get(s, "build", "context")); ctx != ".." {
			t.Errorf("%s: build context %q, want .. (the repository Dockerfile)", name, ctx)
		}
		if cond := str(get(s, "depends_on", "postgres", "condition")); cond != "service_healthy" {
			t.Errorf("%s: depends_on postgres %q, want service_healthy", name, cond)
		}
		env := mapOf(get(s, "environment"))
		if str(env["RELEASEOPS_STORAGE_DRIVER"]) != "postgres" {
			t.Errorf("%s: RELEASEOPS_STORAGE_DRIVER is not postgres", name)
		}
		if u := str(env["RELEASEOPS_STORAGE_POSTGRES_URL"]); !strings.Contains(u, "@postgres:5432/") {
			t.Errorf("%s: RELEASEOPS_STORAGE_POSTGRES_URL %q does not point at the postgres service", name, u)
		}
		for k, v := range env {
			if !strings.HasPrefix(k, "RELEASEOPS_") && !otherEnv[k] {
				t.Errorf("%s: env %s is neither a RELEASEOPS_ key nor an expected variable", name, k)
			}
			if secretName.MatchString(k) {
				val := str(v)
				if !strings.Contains(val, "${") && !strings.HasPrefix(val, "file:") {
					t.Errorf("%s: env %s is written into the file; interpolate it (${VAR:?...}) or use file:", name, k)
				}
			}
		}
	}

	proxy := services["proxy"]
	if img := str(get(proxy, "image")); !strings.HasPrefix(img, "nginx") {
		t.Errorf("proxy image %q, want nginx", img)
	}
	if ports := fmt.Sprint(get(proxy, "ports")); !strings.Contains(ports, "8080:8080") {
		t.Errorf("proxy ports %s, want 8080 published", ports)
	}
	if mounts := fmt.Sprint(get(proxy, "volumes")); !strings.Contains(mounts, "./nginx.conf:") {
		t.Errorf("proxy does not mount ./nginx.conf: %s", mounts)
	}
	if pgEnv := mapOf(get(pg, "environment")); !strings.Contains(str(pgEnv["POSTGRES_PASSWORD"]), "${") {
		t.Error("POSTGRES_PASSWORD is written into the file; interpolate it")
	}
}

// nginxDirective is one directive of nginx.conf with the blocks around it.
type nginxDirective struct {
	blocks []string // e.g. ["server", "location /webhooks/"]
	args   []string // the directive's words, name first
}

func parseNginx(t *testing.T, path string) []nginxDirective {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var text strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		text.WriteString(line + "\n")
	}
	var out []nginxDirective
	var stack []string
	var cur []string
	for _, r := range text.String() {
		switch r {
		case '{':
			stack = append(stack, strings.Join(strings.Fields(strings.Join(cur, "")), " "))
			cur = nil
		case '}':
			if len(stack) == 0 {
				t.Fatalf("%s: unbalanced }", path)
			}
			stack = stack[:len(stack)-1]
			cur = nil
		case ';':
			if args := strings.Fields(strings.Join(cur, "")); len(args) > 0 {
				out = append(out, nginxDirective{blocks: append([]string(nil), stack...), args: args})
			}
			cur = nil
		default:
			cur = append(cur, string(r))
		}
	}
	if len(stack) != 0 {
		t.Fatalf("%s: unbalanced {", path)
	}
	return out
}

func TestNginx(t *testing.T) {
	var servers []string
	proxied := false
	for _, d := range parseNginx(t, "nginx.conf") {
		inner := ""
		if len(d.blocks) > 0 {
			inner = d.blocks[len(d.blocks)-1]
		}
		switch d.args[0] {
		case "server":
			if inner != "upstream releaseops" {
				continue
			}
			servers = append(servers, d.args[1])
			opts := strings.Join(d.args[2:], " ")
			if !strings.Contains(opts, "max_fails=") || !strings.Contains(opts, "fail_timeout=") {
				t.Errorf("upstream server %s has no passive health check (max_fails, fail_timeout)", d.args[1])
			}
		case "proxy_next_upstream":
			// Replaying a POST that a replica already received is safe only where the body is
			// deduplicated by delivery id.
			if strings.Contains(strings.Join(d.args, " "), "non_idempotent") && inner != "location /webhooks/" {
				t.Errorf("proxy_next_upstream non_idempotent in %q: only webhooks are idempotent by delivery id", inner)
			}
		case "proxy_pass":
			proxied = true
			if d.args[1] != "http://releaseops" {
				t.Errorf("proxy_pass %s, want the releaseops upstream", d.args[1])
			}
		case "listen":
			if d.args[1] != "8080" {
				t.Errorf("nginx listens on %s; compose publishes 8080:8080", d.args[1])
			}
		}
	}
	sort.Strings(servers)
	if want := []string{"releaseops-1:8080", "releaseops-2:8080"}; fmt.Sprint(servers) != fmt.Sprint(want) {
		t.Errorf("upstream servers %v, want %v (the compose services)", servers, want)
	}
	if !proxied {
		t.Error("nginx proxies nothing")
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
