package main

import (
	"embed"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/fakegithub"
)

// The --apis settings: what github.token and pagerduty.token point at.
const (
	apisNone    = ""        // no API credentials: no sync, release notes without the changes
	apisFake    = "fake"    // fakes in this process answering every call as the APIs do
	apisFailing = "failing" // the same fakes answering every call 502, as during an outage
)

//go:embed testdata/benchapi
var benchAPIData embed.FS

func benchAPIFile(name string) []byte {
	b, err := benchAPIData.ReadFile("testdata/benchapi/" + name)
	if err != nil {
		panic("bench: embedded " + name + ": " + err.Error()) // embedded at build time: a missing file is a build bug
	}
	return b
}

const (
	benchGitHubToken    = "github_pat_bench0000000000000000"
	benchPagerDutyToken = "pd-bench-token"
	benchGitHubBase     = "/api/v3"
	benchPagerDutyBase  = "/pd"
)

// benchAPIs are the fake GitHub and PagerDuty of one bench setting.
type benchAPIs struct {
	mode    string
	latency time.Duration
	gh      *fakegithub.Server
	ghFront *http.Server
	ghURL   string
	pd      *http.Server
	pdURL   string

	compares, commitPulls, pdCalls, failed atomic.Int64
}

// startBenchAPIs starts the fakes for the bench's services (repositories bench/<service>,
// PagerDuty services loadtest.PagerDutyID(i)). Every answer waits latency first, as a real
// API's round trip does; the wait costs no CPU. GitHub's hourly budget is unbounded: at the
// bench's hundreds of production deploys a second, release notes alone would spend an
// installation's 5,000 calls in seconds, and what is measured is the ingest path, not
// GitHub's rate limit (which the outbox already waits out: see the release-notes tests).
func startBenchAPIs(mode string, services []string, latency time.Duration) (*benchAPIs, error) {
	a := &benchAPIs{mode: mode, latency: latency}
	now := time.Now()
	a.gh = fakegithub.New(fakegithub.Options{Latency: latency, RateLimit: 1 << 30})
	a.gh.AddToken(benchGitHubToken)
	repos := fakegithub.Synthetic("bench", len(services), now)
	for i := range repos {
		repos[i].FullName = "bench/" + services[i]
	}
	a.gh.AddRepo(repos...)
	upstream, err := url.Parse(a.gh.URL())
	if err != nil {
		a.gh.Close()
		return nil, fmt.Errorf("fake GitHub address: %w", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	ghLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.gh.Close()
		return nil, fmt.Errorf("listen for the fake GitHub: %w", err)
	}
	a.ghURL = "http://" + ghLn.Addr().String()
	a.ghFront = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serveGitHub(w, r, proxy)
	})}
	go a.ghFront.Serve(ghLn) //nolint:errcheck // ends at close

	pdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		a.close()
		return nil, fmt.Errorf("listen for the fake PagerDuty: %w", err)
	}
	a.pdURL = "http://" + pdLn.Addr().String()
	a.pd = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(a.servePagerDuty)}
	go a.pd.Serve(pdLn) //nolint:errcheck // ends at close
	return a, nil
}

// configure points the service's GitHub and PagerDuty credentials at the fakes, as a user's
// config names the real APIs.
func (a *benchAPIs) configure(cfg *config.Config) {
	cfg.GitHub.Token = config.NewSecret(benchGitHubToken)
	cfg.GitHub.APIURL = a.ghURL + benchGitHubBase + "/"
	cfg.PagerDuty.Token = config.NewSecret(benchPagerDutyToken)
	cfg.PagerDuty.APIURL = a.pdURL + benchPagerDutyBase + "/"
}

func (a *benchAPIs) close() {
	if a.ghFront != nil {
		a.ghFront.Close()
	}
	if a.pd != nil {
		a.pd.Close()
	}
	a.gh.Close()
}

// summary is one line for the report: what the product asked the fakes during the setting.
func (a *benchAPIs) summary() string {
	c := a.gh.Counts()
	return fmt.Sprintf("fake APIs (%s, %s a call): GitHub %d sync and discovery calls (%d not modified), %d compares, %d commit-pull lists; PagerDuty %d calls; %d answered 502",
		a.mode, a.latency, c.Requests, c.NotModified, a.compares.Load(), a.commitPulls.Load(), a.pdCalls.Load(), a.failed.Load())
}

func (a *benchAPIs) wait(r *http.Request) bool {
	if a.latency <= 0 {
		return true
	}
	t := time.NewTimer(a.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// serveGitHub answers the two calls of release notes itself and hands every other call
// (the sync's reads) to internal/fakegithub.
func (a *benchAPIs) serveGitHub(w http.ResponseWriter, r *http.Request, proxy http.Handler) {
	if a.mode == apisFailing {
		if !a.wait(r) {
			return
		}
		a.failed.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`{"message":"Server Error","documentation_url":"https://docs.github.com/rest","status":"502"}`))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, benchGitHubBase+"/repos/")
	parts := strings.Split(rest, "/")
	switch {
	case ok && r.Method == http.MethodGet && len(parts) == 4 && parts[2] == "compare":
		base, head, found := strings.Cut(parts[3], "...")
		if !found {
			break
		}
		a.compares.Add(1)
		a.answerGitHub(w, r, "github/compare.json.tmpl", parts[0], parts[1], base, head, "")
		return
	case ok && r.Method == http.MethodGet && len(parts) == 5 && parts[2] == "commits" && parts[4] == "pulls":
		a.commitPulls.Add(1)
		a.answerGitHub(w, r, "github/commit-pulls.json.tmpl", parts[0], parts[1], "", "", parts[3])
		return
	}
	proxy.ServeHTTP(w, r)
}

// pullOf is the merged pull request a commit of the fake compare belongs to: the first two
// commits come from pull requests (a feature and a fix), the last was pushed directly.
var pullOf = map[string][3]string{
	"1": {"121", "feat: retry budget per client", "enhancement"},
	"2": {"122", "fix: close idle connections on shutdown", "bug"},
}

func (a *benchAPIs) answerGitHub(w http.ResponseWriter, r *http.Request, file, owner, repo, base, head, sha string) {
	if got := r.Header.Get("Authorization"); got != "Bearer "+benchGitHubToken && got != "token "+benchGitHubToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}`))
		return
	}
	if !a.wait(r) {
		return
	}
	body := string(benchAPIFile(file))
	pairs := []string{"{{API}}", a.ghURL + benchGitHubBase, "{{WEB}}", a.ghURL, "{{OWNER}}", owner, "{{REPO}}", owner + "/" + repo}
	if head != "" {
		// The commits between are named after the head, so the commit-pull lists can tell
		// which of them they are asked about.
		pairs = append(pairs, "{{BASE}}", base, "{{HEAD}}", head, "{{C1}}", commitOf(head, "1"), "{{C2}}", commitOf(head, "2"))
	}
	if sha != "" {
		pr, ok := pullOf[sha[len(sha)-1:]]
		if !ok || !strings.HasPrefix(sha, "c0") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write([]byte("[]"))
			return
		}
		pairs = append(pairs, "{{NUMBER}}", pr[0], "{{TITLE}}", pr[1], "{{LABEL}}", pr[2], "{{AUTHOR}}", "dev"+sha[len(sha)-1:],
			"{{SHA}}", sha, "{{BASE}}", strings.Repeat("0", 40))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Media-Type", "github.v3; format=json")
	_, _ = w.Write([]byte(strings.NewReplacer(pairs...).Replace(body)))
}

// commitOf is the n-th commit of the fake compare ending at head: 40 hex digits.
func commitOf(head, n string) string {
	s := "c0" + head
	return s[:39] + n
}

// servePagerDuty answers the REST API v2 calls of the PagerDuty sync with the recorded
// checkout service, renamed to the service asked for.
func (a *benchAPIs) servePagerDuty(w http.ResponseWriter, r *http.Request) {
	a.pdCalls.Add(1)
	if !a.wait(r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ratelimit-limit", "960")
	w.Header().Set("ratelimit-remaining", "900")
	w.Header().Set("ratelimit-reset", "42")
	if a.mode == apisFailing {
		a.failed.Add(1)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write(benchAPIFile("pagerduty/502.json"))
		return
	}
	if r.Header.Get("Authorization") != "Token token="+benchPagerDutyToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"Unauthorized","code":2006}}`))
		return
	}
	path, _ := strings.CutPrefix(r.URL.Path, benchPagerDutyBase)
	q := r.URL.Query()
	id := q.Get("service_ids[]")
	file := ""
	switch {
	case strings.HasPrefix(path, "/services/"):
		id, file = strings.TrimPrefix(path, "/services/"), "service.json"
	case strings.HasPrefix(path, "/escalation_policies/"):
		file = "escalation_policy.json"
	case path == "/incidents" && q.Get("offset") == "2":
		file = "incidents.page2.json"
	case path == "/incidents":
		file = "incidents.page1.json"
	case path == "/oncalls":
		file = "oncalls.json"
	case strings.HasPrefix(path, "/incidents/") && strings.HasSuffix(path, "/log_entries"):
		switch inc := strings.TrimSuffix(strings.TrimPrefix(path, "/incidents/"), "/log_entries"); inc {
		case "PINC001", "PINC002", "PINC003":
			file = "log_entries." + inc + ".json"
		}
	}
	if file == "" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(benchAPIFile("pagerduty/404.json"))
		return
	}
	body := benchAPIFile("pagerduty/" + file)
	if id != "" {
		body = []byte(strings.ReplaceAll(string(body), "PCHK123", id))
	}
	_, _ = w.Write(body)
}
