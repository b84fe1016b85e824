package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/storage"
)

func TestGoldenGatePages(t *testing.T) {
	f := newGateFixture(t)
	for _, tc := range []struct{ name, path string }{
		{"teams", "/teams"},
		{"team", "/teams/team-payments"},
		{"approvals", "/approvals"},
		{"audit", "/audit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.get(t, tc.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200\n%s", tc.path, code, body)
			}
			golden(t, tc.name, body)
		})
	}
}

func TestTeamsPage(t *testing.T) {
	f := newGateFixture(t)
	_, body := f.get(t, "/teams")
	for _, want := range []string{
		`<a class="team" href="/teams/team-payments">team-payments</a>`,
		`<a href="/teams/team-payments#pending">1</a>`, // checkout's pending approval; payments-api's was decided
		`<a href="/teams/team-finance#pending">1</a>`,
		`<h2 id="unowned">Without an owner</h2>`, `<a href="/services/billing">billing</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/teams lacks %s", want)
		}
	}
	code, body := f.get(t, "/teams/team-paymnts")
	if code != http.StatusNotFound || !strings.Contains(body, `<a href="/teams/team-payments">team-payments</a>`) {
		t.Errorf("unknown team = %d, want 404 naming the closest team\n%s", code, body)
	}
}

// The new pages show evidence (who approved what, the audit log), so they sit behind the
// sign-in like the service pages, and carry no script or remote resource either.
func TestGatePagesAreProtectedAndScriptFree(t *testing.T) {
	f := newGateFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := NewAuth(ctx, AuthOptions{Mode: AuthProxy, Web: config.Web{Proxy: config.WebProxy{Header: "X-Forwarded-Email", TrustedProxies: []string{"10.0.0.0/8"}}}, Log: f.deps().Log})
	if err != nil {
		t.Fatal(err)
	}
	d := f.deps()
	d.Gate, d.Chain, d.Auth = f.DB, chainAdapter{f.Chain}, a
	protected := echo.New()
	Register(protected, d)
	remote := regexp.MustCompile(`(src|href)="(https?:)?//`)
	for _, p := range []string{"/teams", "/teams/team-payments", "/approvals", "/audit"} {
		pf := &fixture{Echo: protected}
		if rec := serve(pf, p, "10.1.2.3:4000", nil); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without the proxy's header = %d, want 401", p, rec.Code)
		}
		rec := serve(pf, p, "10.1.2.3:4000", http.Header{"X-Forwarded-Email": {"alice@example.com"}})
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s signed in = %d", p, rec.Code)
		}
		body := rec.Body.String()
		if strings.Contains(body, "<script") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) || remote.MatchString(body) {
			t.Errorf("GET %s has script or a remote resource", p)
		}
	}
}

// Without the gate's records the approvals and audit pages are not mounted, and the teams
// page leaves out the pending column rather than show zeros it does not know.
func TestTeamsWithoutGateRecords(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/approvals", "/audit"} {
		if code, _ := f.get(t, p); code != http.StatusNotFound {
			t.Errorf("GET %s without the gate = %d, want 404", p, code)
		}
	}
	_, body := f.get(t, "/teams")
	if strings.Contains(body, "Pending approvals") || !strings.Contains(body, "team-payments") {
		t.Errorf("teams page without the gate:\n%s", body)
	}
	_, body = f.get(t, "/teams/team-payments")
	if strings.Contains(body, `id="pending"`) || strings.Contains(body, `id="initiatives"`) {
		t.Errorf("team page shows sections it has no data for")
	}
}

func TestApprovalsPaginate(t *testing.T) {
	f := newGateFixture(t)
	var more []seedApproval
	for i := range 30 {
		id := fmt.Sprintf("apr_old%02d", i)
		more = append(more, seedApproval{row: storage.ApprovalRow{ID: id, Service: "ledger", Environment: "production", RequestedBy: "carol",
			Origin: "api", OriginKey: "old-" + id, Reasons: []byte(`[]`), CreatedAt: before(10 * day), ExpiresAt: before(10*day - time.Hour)},
			// Three share each millisecond, so the cursor's id tie-break is exercised.
			decided: "approved", by: "U0DAN", at: 10*day - time.Duration(i/3)*time.Minute})
	}
	storeGate(t, f.DB, more, nil)
	seen := map[string]int{}
	path, pages := "/approvals", 0
	for path != "" && pages < 5 {
		code, body := f.get(t, path)
		if code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, code)
		}
		pages++
		for _, m := range regexp.MustCompile(`<tr id="apr-([^"]+)">`).FindAllStringSubmatch(body, -1) {
			seen[m[1]]++
		}
		next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body)
		path = ""
		if next != nil {
			path = html.UnescapeString(next[1])
		}
		if pages > 1 && strings.Contains(body, `id="pending"`) {
			t.Errorf("page %d repeats the pending approvals", pages)
		}
	}
	// 2 pending + 3 decided in the fixture + 30 here, over pages of 25 decisions.
	if pages != 2 || len(seen) != 35 {
		t.Fatalf("%d pages showed %d approvals, want 2 pages and 35", pages, len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s shown %d times", id, n)
		}
	}
	for path, want := range map[string]string{
		"/approvals?before=yesterday":        "before must be the cursor of the next-page link",
		"/approvals?before=123":              "before must be the cursor",
		"/audit?before=0":                    "before must be an entry number (1 or more), not &#34;0&#34;",
		"/audit?before=x":                    "before must be an entry number",
		"/audit?before=-1":                   "before must be an entry number",
		"/audit?before=99999999999999999999": "before must be an entry number",
		"/approvals?before=1.":               "before must be the cursor",
		"/approvals?before=-5.apr_x":         "before must be the cursor",
	} {
		if code, body := f.get(t, path); code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("GET %s = %d, want 400 with %q", path, code, want)
		}
	}
	// A service neither catalogued nor in the log is unknown; the closest names are offered.
	code, body := f.get(t, "/audit?service=checkot")
	if code != http.StatusNotFound || !strings.Contains(body, "No audit entry concerns &#34;checkot&#34;") ||
		!strings.Contains(body, `href="/audit?service=checkout"`) {
		t.Errorf("GET /audit?service=checkot = %d\n%s", code, body)
	}
	// One that left the catalog keeps its entries on the page.
	storeGate(t, f.DB, nil, []storage.AuditRow{{At: before(time.Minute), Kind: "gate.decision", Service: "retired-api", Actor: "token:ci",
		Detail: []byte(`{"decision":"allow"}`)}})
	if code, body := f.get(t, "/audit?service=retired-api"); code != http.StatusOK || strings.Count(body, `<tr id="seq-`) != 1 {
		t.Errorf("GET /audit?service=retired-api = %d, want its one entry", code)
	}
	if code, _ := f.get(t, "/teams/team-nobody"); code != http.StatusNotFound {
		t.Errorf("GET /teams/team-nobody = %d, want 404", code)
	}
}

func TestAuditPagesAndChainStatus(t *testing.T) {
	f := newGateFixture(t)
	var entries []storage.AuditRow
	for i := range 60 {
		entries = append(entries, storage.AuditRow{At: before(time.Duration(60-i) * time.Second), Kind: "gate.decision", Service: "search",
			Actor: "token:ci", Detail: []byte(`{"decision":"block"}`)})
	}
	storeGate(t, f.DB, nil, entries) // 11 + 60 = 71 entries
	f.Chain.Step = 50
	_, body := f.get(t, "/audit")
	for _, want := range []string{"Chain verified up to entry 50 of 71", `<tr id="seq-71">`, `<tr id="seq-22">`, `href="/audit?before=22" rel="next"`} {
		if !strings.Contains(body, want) {
			t.Errorf("first audit page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="seq-21"`) {
		t.Error("first page shows more than 50 entries")
	}
	_, body = f.get(t, "/audit?before=22")
	if !strings.Contains(body, "Chain verified up to entry 71</strong>, the newest") || !strings.Contains(body, `<tr id="seq-1">`) {
		t.Errorf("second look:\n%s", body)
	}
	_, body = f.get(t, "/audit?service=payments-api")
	if n := strings.Count(body, `<tr id="seq-`); n != 3 {
		t.Errorf("audit of payments-api shows %d entries, want its 3", n)
	}

	// Someone with the database file edits entry 5: the next looks re-walk the log and find it.
	err := f.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		if _, err := tx.Exec(`DROP TRIGGER audit_log_no_update`); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE audit_log SET actor = 'U0MALLORY' WHERE seq = 5`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, body = f.get(t, "/audit")
	}
	for _, want := range []string{`class="chain chain-bad"`, "Chain broken at entry 5:</strong> entry 5 was edited: its content no longer matches its hash",
		"Entries 1 to 4 link and hash; the log holds 71", `href="/audit?before=6#seq-5"`} {
		if !strings.Contains(body, want) {
			t.Errorf("audit page after tampering lacks %s", want)
		}
	}
	_, body = f.get(t, "/audit?before=6")
	if !strings.Contains(body, `<tr id="seq-5" class="bad">`) {
		t.Errorf("the broken entry is not marked on its page")
	}
}

// A team whose pending approvals fall beyond the ones read (the 200 of all teams expiring
// soonest) is told how many are not listed, not that nothing waits.
func TestTeamPageSaysWhatItDoesNotList(t *testing.T) {
	f := newGateFixture(t)
	var many []seedApproval
	for i := range pendingShown {
		id := fmt.Sprintf("apr_soon%03d", i)
		many = append(many, seedApproval{row: storage.ApprovalRow{ID: id, Service: "ledger", Environment: "production", Origin: "api",
			OriginKey: "soon-" + id, Reasons: []byte(`[]`), CreatedAt: before(time.Minute), ExpiresAt: now.Add(time.Minute)}})
	}
	storeGate(t, f.DB, many, nil)
	_, body := f.get(t, "/teams/team-payments")
	if strings.Contains(body, "apr_checkout1") || strings.Contains(body, "No deploy of the team") ||
		!strings.Contains(body, "1 more of the team's approvals are pending than listed here") {
		t.Errorf("team page with its approval beyond the first %d:\n%s", pendingShown, body)
	}
	_, body = f.get(t, "/approvals")
	if !strings.Contains(body, "More approvals are pending than this page lists") {
		t.Error("/approvals does not say it lists only some of the pending approvals")
	}
}
