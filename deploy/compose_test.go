package deploy_test

// The Docker Compose setup: PostgreSQL, the two replicas and nginx in front of them; the
// interpolation of deploy/.env into the replicas' environment and config file, and whether a
// replica given .env.example (placeholders filled in) would start.

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

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

// composeVar is Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default},
// ${VAR:?message}, ${VAR?message}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// interpolate substitutes vars (deploy/.env; absent means unset) into s as Compose does.
// missing names the required variables that are unset or empty, for which Compose would stop.
func interpolate(t *testing.T, s string, vars map[string]string) (out string, missing []string) {
	t.Helper()
	out = composeVar.ReplaceAllStringFunc(strings.ReplaceAll(s, "$$", "\x00"), func(m string) string {
		g := composeVar.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		v, set := vars[name]
		switch {
		case op == ":-" && v == "", op == "-" && !set:
			return arg
		case op == ":?" && v == "", op == "?" && !set:
			missing = append(missing, name)
		}
		return v
	})
	if strings.Contains(out, "$") {
		t.Errorf("%q: a $ this test does not interpolate (use ${VAR...}, or $$ for a literal $)", s)
	}
	return strings.ReplaceAll(out, "\x00", "$"), missing
}

// envExample reads .env.example as deploy/.env with every REPLACE_ME filled in.
func envExample(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(".env.example")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			vars[k] = strings.ReplaceAll(v, "REPLACE_ME", fakeValue(k, 0))
		}
	}
	return vars
}

// composeReplica is what the service gets from Compose with vars as deploy/.env: its
// environment and the content of its config file (RELEASEOPS_CONFIG, from the top-level
// configs), interpolated.
func composeReplica(t *testing.T, compose document, service string, vars map[string]string) (env map[string]string, file string, missing []string) {
	t.Helper()
	s := get(compose.v, "services", service)
	env = map[string]string{}
	for k, v := range mapOf(get(s, "environment")) {
		val, m := interpolate(t, str(v), vars)
		env[k], missing = val, append(missing, m...)
	}
	for _, c := range list(get(s, "configs")) {
		if str(get(c, "target")) != env["RELEASEOPS_CONFIG"] {
			continue
		}
		content := get(compose.v, "configs", str(get(c, "source")), "content")
		if content == nil {
			t.Errorf("%s: config %s has no inline content", service, str(get(c, "source")))
		}
		var m []string
		file, m = interpolate(t, str(content), vars)
		missing = append(missing, m...)
	}
	if env["RELEASEOPS_CONFIG"] != "" && file == "" {
		t.Errorf("%s: RELEASEOPS_CONFIG=%s, but no config is mounted there", service, env["RELEASEOPS_CONFIG"])
	}
	sort.Strings(missing)
	return env, file, slices.Compact(missing)
}

// TestComposeStarts loads each replica's configuration with the real loader, as it would be with
// .env.example filled in and each choice of sign-in it documents. The replicas listen on
// 0.0.0.0:8080, so the loader demands web.auth, audit.signing_key and, with OpenID Connect, an
// https public URL (or localhost); a replica it refused would restart in a loop.
func TestComposeStarts(t *testing.T) {
	compose := findFile(t, loadYAML(t), "docker-compose.yml")
	example := envExample(t)
	replicas := []string{"releaseops-1", "releaseops-2"}

	// Every variable the compose file reads is documented in .env.example, and every line of
	// .env.example is read (a misspelt name there would be ignored without a word).
	read := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			for _, m := range composeVar.FindAllStringSubmatch(x, -1) {
				read[m[1]] = true
			}
		}
	}
	walk(compose.v)
	for k := range read {
		if _, ok := example[k]; !ok {
			t.Errorf("docker-compose.yml reads ${%s}, which .env.example does not list", k)
		}
	}
	for k := range example {
		if !read[k] {
			t.Errorf(".env.example sets %s, which docker-compose.yml never reads", k)
		}
	}

	// The sign-in is left for the operator to choose, and the keys that must be set on every
	// replica alike are required: Compose stops naming each, rather than starting without.
	for _, name := range []string{"RELEASEOPS_WEB_AUTH", "RELEASEOPS_WEB_SESSION_KEY", "RELEASEOPS_AUDIT_SIGNING_KEY"} {
		vars := map[string]string{}
		for k, v := range example {
			vars[k] = v
		}
		vars["RELEASEOPS_WEB_AUTH"] = "none"
		delete(vars, name)
		if _, _, missing := composeReplica(t, compose, replicas[0], vars); !slices.Contains(missing, name) {
			t.Errorf("Compose starts without %s; want ${%s:?...}", name, name)
		}
	}
	if _, _, missing := composeReplica(t, compose, replicas[0], example); !slices.Contains(missing, "RELEASEOPS_WEB_AUTH") {
		t.Error(".env.example chooses a web.auth; leave it empty so that the operator chooses (oidc, proxy or none)")
	}

	oidc := map[string]string{
		"RELEASEOPS_WEB_AUTH":                 "oidc",
		"RELEASEOPS_WEB_OIDC_ISSUER":          "https://sso.example.com",
		"RELEASEOPS_WEB_OIDC_CLIENT_ID":       "releaseops",
		"RELEASEOPS_WEB_OIDC_CLIENT_SECRET":   fakeValue("RELEASEOPS_WEB_OIDC_CLIENT_SECRET", 0),
		"RELEASEOPS_WEB_OIDC_ALLOWED_DOMAINS": "example.com, example.org",
	}
	everything := map[string]string{
		"RELEASEOPS_PUBLIC_URL":                    "https://releaseops.example.com",
		"RELEASEOPS_WEB_OIDC_ALLOWED_GROUPS":       "sre,release-managers",
		"RELEASEOPS_PAGERDUTY_WEBHOOK_SECRETS":     fakeValue("pagerduty", 1) + "," + fakeValue("pagerduty", 2),
		"RELEASEOPS_TERRAFORM_WEBHOOK_SECRET":      fakeValue("terraform", 0),
		"RELEASEOPS_GITHUB_TOKEN":                  fakeValue("github_token", 0),
		"RELEASEOPS_SLACK_BOT_TOKEN":               "xoxb-" + fakeValue("slack_bot_token", 0),
		"RELEASEOPS_SLACK_SIGNING_SECRET":          fakeValue("slack_signing_secret", 0),
		"RELEASEOPS_CATALOG_GITHUB_DISCOVERY_ORGS": "acme,example-org",
		"RELEASEOPS_AUDIT_ANCHOR_CHANNEL":          "C0AUDIT",
	}
	for k, v := range oidc {
		everything[k] = v
	}
	for _, tc := range []struct {
		name string
		set  map[string]string
	}{
		{"web.auth none", map[string]string{"RELEASEOPS_WEB_AUTH": "none"}},
		{"web.auth proxy", map[string]string{"RELEASEOPS_WEB_AUTH": "proxy"}},
		{"web.auth oidc on http://localhost", oidc},
		{"web.auth oidc, https, every optional value set", everything},
	} {
		vars := map[string]string{}
		for k, v := range example {
			vars[k] = v
		}
		for k, v := range tc.set {
			vars[k] = v
		}
		keys := map[string]string{}
		for _, r := range replicas {
			where := fmt.Sprintf("%s (%s)", r, tc.name)
			env, file, missing := composeReplica(t, compose, r, vars)
			if len(missing) > 0 {
				t.Errorf("%s: Compose stops: %v required but unset", where, missing)
				continue
			}
			cfg := startConfig(t, where, env, file)
			checkStarted(t, where, cfg, tc.set["RELEASEOPS_WEB_AUTH"])
			if cfg == nil {
				continue
			}
			keys[cfg.Web.SessionKey.Value()] = r
			if len(cfg.API.Tokens) != 2 {
				t.Errorf("%s: %d api.tokens, want the 2 of the inline config", where, len(cfg.API.Tokens))
			}
			if tc.set["RELEASEOPS_AUDIT_ANCHOR_CHANNEL"] != "" && cfg.Audit.AnchorChannel != tc.set["RELEASEOPS_AUDIT_ANCHOR_CHANNEL"] {
				t.Errorf("%s: audit.anchor_channel %q, want %q", where, cfg.Audit.AnchorChannel, tc.set["RELEASEOPS_AUDIT_ANCHOR_CHANNEL"])
			}
		}
		if len(keys) > 1 {
			t.Errorf("%s: the replicas get different web.session_key values; a sign-in would not carry over", tc.name)
		}
	}
}
