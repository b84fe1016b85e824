package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/playbooks"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

func TestNotFoundPages(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/services/checkot", []string{"Unknown service", `No service is called &#34;checkot&#34;.`, `Did you mean <a href="/services/checkout">checkout</a>?`}},
		{"/services/payment-api", []string{`<a href="/services/payments-api">payments-api</a>`}},
		{"/events/deploy/no-such-delivery", []string{"Unknown delivery", "no-such-delivery"}},
		{"/events/github/checkout-deploy-031", []string{"Unknown delivery"}}, // right id, wrong source
		{"/playbooks/flaky_tests", []string{"Unknown playbook", `<a href="/playbooks/rollback_readiness">Rollback readiness</a>`}},
		{"/playbooks/..%2Fplaybooks", []string{"Unknown playbook"}},
	} {
		code, body := f.get(t, tc.path)
		if code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", tc.path, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: page lacks %q", tc.path, w)
			}
		}
	}
}

func TestCataloguedButUnscoredIsNotFoundWithReason(t *testing.T) {
	f := newFixture(t)
	f.Catalog.AddDiscovered("billing", releaseops.Subject{Kind: releaseops.SubjectRepo, Key: "acme/billing"})
	code, body := f.get(t, "/services/billing")
	if code != http.StatusNotFound || !strings.Contains(body, "billing is in the catalog but has no score yet") {
		t.Fatalf("GET /services/billing = %d\n%s", code, body)
	}
}

func TestBadQueriesAreRefused(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{
		"/?sort=age":               `sort must be score, name or band, not &#34;age&#34;`,
		"/?dir=up":                 `dir must be asc or desc`,
		"/heatmap?band=excellent":  `band must be one of blocked, watch, healthy, mature, not &#34;excellent&#34;`,
		"/?band=%3Cscript%3Ex%3C/": `not &#34;&lt;script&gt;x&lt;/&#34;`,
	} {
		code, body := f.get(t, path)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want 400 with %q\n%s", path, code, want, body)
		}
	}
}

var serviceRow = regexp.MustCompile(`<a class="service" href="/services/([^"]+)">`)

func services_(body string) []string {
	var out []string
	for _, m := range serviceRow.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestListSortsAndFilters(t *testing.T) {
	f := newFixture(t)
	for path, want := range map[string]string{
		"/":                              "checkout ledger payments-api search",
		"/?dir=desc":                     "search payments-api ledger checkout",
		"/?sort=score":                   "search checkout ledger payments-api",
		"/?sort=score&dir=desc":          "payments-api ledger checkout search",
		"/?sort=band":                    "search checkout ledger payments-api",
		"/?band=watch":                   "checkout",
		"/?band=mature&sort=score":       "payments-api",
		"/heatmap?sort=score":            "search checkout ledger payments-api",
		"/heatmap?band=healthy":          "ledger",
		"/heatmap?sort=band&dir=desc":    "payments-api ledger checkout search",
		"/?band=healthy&sort=name&dir=a": "",
	} {
		code, body := f.get(t, path)
		if want == "" {
			if code != http.StatusBadRequest {
				t.Errorf("GET %s = %d, want 400", path, code)
			}
			continue
		}
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		if got := strings.Join(services_(body), " "); got != want {
			t.Errorf("GET %s lists %q, want %q", path, got, want)
		}
	}
	// A sort link keeps the band filter, and the filter links keep the sort.
	_, body := f.get(t, "/?band=watch&sort=score")
	for _, w := range []string{`href="/?band=watch&amp;dir=desc&amp;sort=score"`, `href="/?sort=score"`, `href="/?band=mature&amp;sort=score"`} {
		if !strings.Contains(body, w) {
			t.Errorf("list page lacks link %s", w)
		}
	}
	_, body = f.get(t, "/?band=mature")
	if !strings.Contains(body, "payments-api") || strings.Contains(body, ">checkout<") {
		t.Errorf("band filter does not filter")
	}
}

func TestEmptyDatabase(t *testing.T) {
	f := newFixture(t)
	db, err := storage.Open(context.Background(), t.TempDir()+"/empty.db", storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := f.deps()
	d.DB = db
	f.Echo = echo.New()
	Register(f.Echo, d)
	for _, path := range []string{"/", "/heatmap"} {
		code, body := f.get(t, path)
		if code != http.StatusOK || !strings.Contains(body, "No service has been scored yet") {
			t.Errorf("GET %s on an empty database = %d\n%s", path, code, body)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodGet, "/services/checkout", nil)
	rec := httptest.NewRecorder()
	f.Echo.ServeHTTP(rec, req)
	csp := rec.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src '"+styleHash+"'") || strings.Contains(csp, "script-src") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=UTF-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("missing nosniff")
	}
	// The hash in the policy is of the exact bytes between <style> and </style>.
	if !strings.Contains(rec.Body.String(), "<style>"+stylesheet+"</style>") {
		t.Errorf("stylesheet is not inlined verbatim, so the CSP hash would not match")
	}
}

// TestPagesUseNoScriptOrRemoteResource holds the pages to "works with JavaScript off" and "no
// CDN": no script element, no event handler, nothing loaded from another origin.
func TestPagesUseNoScriptOrRemoteResource(t *testing.T) {
	f := newFixture(t)
	remote := regexp.MustCompile(`(src|href)="(https?:)?//`)
	paths := []string{"/", "/heatmap", "/services/checkout", "/services/search", "/events/deploy/checkout-deploy-031", "/playbooks"}
	for _, id := range playbooks.IDs() {
		paths = append(paths, "/playbooks/"+id)
	}
	for _, p := range paths {
		code, body := f.get(t, p)
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d", p, code)
		}
		if strings.Contains(body, "<script") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
			t.Errorf("GET %s has script", p)
		}
		if m := remote.FindString(body); m != "" {
			t.Errorf("GET %s loads a remote resource: %s", p, m)
		}
	}
}

// TestPlaybooksRenderEveryOne renders each embedded playbook: its title heading, a table
// (GFM), and no raw HTML passed through.
func TestPlaybooksRenderEveryOne(t *testing.T) {
	f := newFixture(t)
	_, index := f.get(t, "/playbooks")
	for _, id := range playbooks.IDs() {
		if !strings.Contains(index, `href="/playbooks/`+id+`"`) {
			t.Errorf("index does not link %s", id)
		}
		code, body := f.get(t, "/playbooks/"+id)
		if code != http.StatusOK {
			t.Fatalf("GET /playbooks/%s = %d", id, code)
		}
		if !strings.Contains(body, `<h1 id=`) || !strings.Contains(body, "<table>") {
			t.Errorf("playbook %s: no title heading or table rendered", id)
		}
		for _, d := range scoring.Dimensions {
			if d.ID == id && !strings.Contains(body, ">"+d.Name+"</h1>") {
				t.Errorf("playbook %s: title is not %q", id, d.Name)
			}
		}
	}
}

func TestMarkdownDropsRawHTML(t *testing.T) {
	got, err := toHTML([]byte("# T\n\n<script>alert(1)</script>\n\nsee <img src=x onerror=alert(1)> [x](javascript:alert(1))\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(got)
	if strings.Contains(s, "<script") || strings.Contains(s, "<img") || strings.Contains(s, "javascript:") {
		t.Errorf("raw HTML passed through:\n%s", s)
	}
}

// TestHostileStringsAreEscaped stores a service whose name, reasons, waiver, evidence and
// raw delivery carry markup, and checks that every page shows it as text.
func TestHostileStringsAreEscaped(t *testing.T) {
	f := newFixture(t)
	const evil = hostileName
	const evilID = `"><img src=x onerror=alert(2)>`
	card := scoring.Scorecard{Service: evil, Score: 61, Band: "watch\"><script>alert(3)</script>", Level: "<b>gold</b>",
		Trend: scoring.Trend{WindowDays: 30, Delta: 2, Direction: "<i>up</i>"}, UpdatedAt: now.Add(-time.Hour),
		Dimensions: []scoring.DimensionScore{{ID: scoring.DimBranchGovernance, Name: "Branch " + evil, Score: 0.5, Applicable: true,
			Signals: []scoring.SignalResult{{ID: "pr_approval_share", Name: evil, Outcome: scoring.OutcomeWaived, Score: 1, Weight: 1, Waived: true,
				Reason:   "PR " + evil + " merged without review",
				Waiver:   &scoring.WaiverInfo{Reason: evil, Author: "<b>mallory</b>", Expires: now.Add(day)},
				Evidence: []releaseops.Evidence{{Source: "github", Event: "pull_request", Delivery: evilID, At: now}}}}}},
		FloorsApplied: []scoring.FloorApplied{{Dimension: scoring.DimBranchGovernance, Min: 0.6, Score: 0.5, Cap: evil}},
		Levels:        []scoring.LevelResult{{Level: "bronze", Rules: []scoring.RuleResult{{ID: "r", Description: evil, Expr: `service.name == "` + evil + `"`, Error: evil}}}},
		Sync:          []releaseops.SyncCoverage{{Source: "<b>github</b>", Subject: evil, LastSuccess: now.Add(-day), Failures: 2, Error: evil}},
	}
	raw, err := json.Marshal(card)
	if err != nil {
		t.Fatal(err)
	}
	err = f.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		if err := storage.PutScore(tx, storage.ScoreRow{Service: evil, Score: 61, Band: card.Band, Level: card.Level, Card: raw, Trend: []byte(`{"window_days":30,"delta":0,"direction":"flat"}`), UpdatedAt: card.UpdatedAt}, true); err != nil {
			return err
		}
		_, _, err := storage.InsertDelivery(tx, &storage.NewDelivery{Source: "github", DeliveryID: evilID, Type: "pull_request",
			Service: evil, Outcome: releaseops.OutcomeStored, ReceivedAt: now,
			Headers: map[string]string{"X-Evil": evil},
			Body:    []byte(`{"pull_request":{"title":"` + `<script>alert(1)<\/script>` + `"}}`)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	_, list := f.get(t, "/")
	m := regexp.MustCompile(`<a class="service" href="(/services/%3Cscript[^"]*)">`).FindStringSubmatch(list)
	if m == nil {
		t.Fatalf("list page has no escaped link to the hostile service:\n%s", list)
	}
	evidence := regexp.MustCompile(`<a href="(/events/github/[^"]+)"><code>`)
	pages := map[string]string{"list": list}
	var code int
	code, pages["service"] = f.get(t, m[1])
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d, want the hostile service's page", m[1], code)
	}
	_, pages["heatmap"] = f.get(t, "/heatmap")
	em := evidence.FindStringSubmatch(pages["service"])
	if em == nil {
		t.Fatalf("service page has no evidence link")
	}
	code, pages["event"] = f.get(t, em[1])
	if code != http.StatusOK {
		t.Fatalf("GET %s = %d, want the hostile delivery", em[1], code)
	}
	for name, body := range pages {
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>", "<i>up"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s page contains unescaped %q", name, bad)
			}
		}
		if !strings.Contains(body, "&lt;script&gt;alert(") {
			t.Errorf("%s page does not show the hostile text escaped", name)
		}
	}
	// The deploy section (the gate's preview) shows every hostile field, as text.
	if !strings.Contains(pages["service"], `id="deploy-now"`) {
		t.Fatal("the hostile service's page has no deploy section to check")
	}
	for _, s := range hostileDeploy {
		if !strings.Contains(pages["service"], html.EscapeString(s)) {
			t.Errorf("service page does not show %q escaped", s)
		}
	}
	for _, s := range []string{"<script>alert(9)", "<script>alert(10)", "<b>id</b>", "<b>freeze</b>"} {
		if strings.Contains(pages["service"], s) {
			t.Errorf("service page carries %q unescaped", s)
		}
	}
	if !strings.Contains(pages["service"], `outcome-unknown">allow&#34;&gt;&lt;script&gt;alert(9)`) {
		t.Errorf("an unexpected decision should get the neutral class and show as text")
	}
	if !strings.Contains(pages["service"], "band-unknown") || !strings.Contains(pages["service"], `class="trend flat"`) {
		t.Errorf("unexpected band or trend direction should fall back to neutral classes")
	}
}

// A failing sync is shown at the top of the service page and in its sync table; the evidence
// of a read links to the stored observation, whose id carries the repository's "/".
func TestServicePageShowsSync(t *testing.T) {
	f := newFixture(t)
	_, body := f.get(t, "/services/checkout")
	for _, want := range []string{
		`<h2 id="sync-failing">Sync failing</h2>`,
		"<li>GitHub sync of acme/checkout failing (last successful read 2026-11-19 10:00 UTC; 9 failed attempts in a row): 401 bad credentials: the token was revoked or the App uninstalled</li>",
		`<span class="outcome outcome-fail">failing</span> 401 bad credentials`,
		`<span class="src">read from the GitHub API</span> <code>/repos/acme/checkout/rules/branches/main</code>`,
		"main requires 1 approving review (the policy wants 1; read from the GitHub API at 2026-11-17 12:00 UTC)",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("checkout page lacks %q", want)
		}
	}
	m := regexp.MustCompile(`<a href="(/events/github/sync[^"]+)"><code>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no link to the sync observation")
	}
	code, event := f.get(t, m[1])
	if code != http.StatusOK || !strings.Contains(event, "repo_state") {
		t.Errorf("GET %s = %d\n%s", m[1], code, event)
	}
	// Without coverage records the page has neither the warning nor the table.
	_, body = f.get(t, "/services/search")
	if strings.Contains(body, "sync-failing") || strings.Contains(body, `id="sync"`) {
		t.Error("search shows a sync section without any coverage record")
	}
}
