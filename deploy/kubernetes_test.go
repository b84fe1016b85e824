package deploy_test

// The Kubernetes manifests: the Deployment's pods, probes, shutdown budget and Secret
// references, the Service and PodDisruptionBudget selecting those pods, the kustomization, and
// whether a pod given the Secret template (placeholders filled in) would start.

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/config"
)

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

// secretTemplate returns the Secret template's stringData with every REPLACE_ME filled in by
// fakeValue of its key, as an operator following the comments would.
func secretTemplate(t *testing.T, docs []document) map[string]string {
	t.Helper()
	secret := findKind(t, docs, "Secret")
	out := map[string]string{}
	for k, v := range mapOf(secret.v["stringData"]) {
		parts := strings.Split(str(v), "REPLACE_ME")
		var b strings.Builder
		for i, p := range parts {
			if i > 0 {
				b.WriteString(fakeValue(k, i))
			}
			b.WriteString(p)
		}
		out[k] = b.String()
	}
	return out
}

// podEnv is the environment and config file the Deployment's container gets from the filled
// Secret template. Without optional, the Secret keys the Deployment marks optional are left
// out, as if deleted from the Secret.
func podEnv(t *testing.T, docs []document, optional bool) (env map[string]string, file string) {
	t.Helper()
	secret := secretTemplate(t, docs)
	pod := get(findKind(t, docs, "Deployment").v, "spec", "template", "spec")
	c := get(pod, "containers", 0)
	env = map[string]string{}
	for _, e := range list(get(c, "env")) {
		name := str(get(e, "name"))
		if v, ok := mapOf(e)["value"]; ok { // value: with nothing after it is ""
			env[name] = str(v)
			continue
		}
		ref := get(e, "valueFrom", "secretKeyRef")
		if ref == nil {
			t.Errorf("env %s: neither a value nor a secretKeyRef, which this test cannot fill in", name)
			continue
		}
		if get(ref, "optional") == true && !optional {
			continue
		}
		v, ok := secret[str(get(ref, "key"))]
		if !ok {
			continue // an optional key absent from the template; TestDeployment checks the rest
		}
		env[name] = v
	}

	// The config file: RELEASEOPS_CONFIG must be where a Secret volume puts one of its keys.
	want := env["RELEASEOPS_CONFIG"]
	if want == "" {
		return env, ""
	}
	volumes := map[string]any{}
	for _, v := range list(get(pod, "volumes")) {
		volumes[str(get(v, "name"))] = v
	}
	for _, m := range list(get(c, "volumeMounts")) {
		for _, item := range list(get(volumes[str(get(m, "name"))], "secret", "items")) {
			if path.Join(str(get(m, "mountPath")), str(get(item, "path"))) == want {
				return env, secret[str(get(item, "key"))]
			}
		}
	}
	t.Errorf("RELEASEOPS_CONFIG=%s: no Secret volume mounts a file there", want)
	return env, ""
}

// TestDeploymentStarts loads the pod's configuration with the real loader: the replicas listen
// on 0.0.0.0:8080, so the loader demands a sign-in for the web pages, a signing key for the
// audit anchors and, with OpenID Connect, an https public URL. A pod the loader refuses would
// crash-loop; here it fails the test instead.
func TestDeploymentStarts(t *testing.T) {
	docs := loadYAML(t)
	for _, optional := range []bool{true, false} {
		where := "Deployment with every key of the Secret template"
		if !optional {
			where = "Deployment with only the Secret's required keys"
		}
		env, file := podEnv(t, docs, optional)
		if file == "" {
			t.Errorf("%s: no config file (api.tokens comes from it)", where)
		}
		cfg := startConfig(t, where, env, file)
		checkStarted(t, where, cfg, "oidc")
		if cfg != nil && len(cfg.API.Tokens) == 0 {
			t.Errorf("%s: no api.tokens: CI could not call the gate", where)
		}
	}

	// The session and signing keys come from the Secret, required: an optional reference whose
	// key is missing would leave them empty, and the loader cannot tell (it draws a session key
	// per process; only off loopback does it insist on the signing key).
	dep := findKind(t, docs, "Deployment")
	required := map[string]bool{"RELEASEOPS_WEB_SESSION_KEY": false, "RELEASEOPS_AUDIT_SIGNING_KEY": false}
	for _, e := range list(get(dep.v, "spec", "template", "spec", "containers", 0, "env")) {
		name := str(get(e, "name"))
		if _, ok := required[name]; ok {
			ref := get(e, "valueFrom", "secretKeyRef")
			required[name] = ref != nil && get(ref, "optional") != true
		}
	}
	for name, ok := range required {
		if !ok {
			t.Errorf("env %s: want a required secretKeyRef", name)
		}
	}
}

// TestDeploymentRefusedWithoutTheNewKeys removes, one at a time, what a non-loopback server
// must be told, and checks that the loader then refuses: proof that TestDeploymentStarts
// would catch a manifest that lost one.
func TestDeploymentRefusedWithoutTheNewKeys(t *testing.T) {
	env, file := podEnv(t, loadYAML(t), false)
	for _, tc := range []struct {
		change  func(env map[string]string)
		problem string
	}{
		{func(e map[string]string) { delete(e, "RELEASEOPS_WEB_AUTH"); delete(e, "RELEASEOPS_WEB_OIDC_ISSUER") }, "web.auth:"},
		{func(e map[string]string) { delete(e, "RELEASEOPS_AUDIT_SIGNING_KEY") }, "audit.signing_key:"},
		{func(e map[string]string) { e["RELEASEOPS_AUDIT_SIGNING_KEY"] = "REPLACE_ME" }, "audit.signing_key:"},
		{func(e map[string]string) { e["RELEASEOPS_WEB_SESSION_KEY"] = "REPLACE_ME" }, "web.session_key:"},
		{func(e map[string]string) { delete(e, "RELEASEOPS_WEB_OIDC_CLIENT_SECRET") }, "web.oidc.client_secret:"},
		{func(e map[string]string) { delete(e, "RELEASEOPS_WEB_OIDC_ALLOWED_DOMAINS") }, "web.oidc:"},
		{func(e map[string]string) { e["RELEASEOPS_PUBLIC_URL"] = "http://releaseops.example.com" }, "public_url:"},
	} {
		changed := map[string]string{}
		for k, v := range env {
			changed[k] = v
		}
		tc.change(changed)
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
		var environ []string
		for k, v := range changed {
			environ = append(environ, k+"="+v)
		}
		_, err := config.Load(path, environ)
		if err == nil || !strings.Contains(err.Error(), tc.problem) {
			t.Errorf("want a %s problem, got %v", strings.TrimSuffix(tc.problem, ":"), err)
		}
	}
}
