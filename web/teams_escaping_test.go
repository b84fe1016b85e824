package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/storage"
)

// TestGatePagesEscapeHostileStrings gives an owner, a service, an approval's requester,
// decider, voter and reasons, an audit entry's kind, actor and detail, and an initiative
// markup, and checks that the teams, team, approvals and audit pages show all of it as text.
func TestGatePagesEscapeHostileStrings(t *testing.T) {
	const (
		owner = `team"><script>alert(21)</script>`
		svc   = `svc<img src=x onerror=alert(22)>`
		who   = `<b>mallory</b>`
	)
	f := newGateFixture(t)
	f.Catalog = catalog.New(append(services(), releaseops.Service{Name: svc, Owner: owner, Tier: 2}))
	err := f.DB.Writer.Do(context.Background(), func(tx *storage.Tx) error {
		return storage.PutScore(tx, storage.ScoreRow{Service: svc, Score: 61, Band: `watch"><i>x`, Level: "<b>gold</b>", Card: []byte(`{}`),
			Trend: []byte(`{"window_days":30,"delta":0,"direction":"<i>up</i>"}`), UpdatedAt: before(time.Hour)}, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	storeGate(t, f.DB, []seedApproval{
		{row: storage.ApprovalRow{ID: `apr_"><script>alert(23)</script>`, Service: svc, Environment: "<i>prod</i>", Version: "<b>v1</b>",
			RequestedBy: who, Origin: "api", OriginKey: "evil-1", Band: "<i>watch</i>",
			Reasons:   []byte(`[{"kind":"band","text":"<script>alert(24)</script>","playbook":"x\"><script>alert(25)</script>"}]`),
			CreatedAt: before(time.Hour), ExpiresAt: now.Add(time.Hour), Quorum: 2},
			votes: map[string]time.Duration{`<script>alert(26)</script>`: 30 * time.Minute}},
		{row: storage.ApprovalRow{ID: "apr_evil2", Service: svc, Environment: "production", RequestedBy: who, Origin: "api", OriginKey: "evil-2",
			Reasons: []byte(`[{"kind":"band","text":"<script>alert(27)</script>"}]`), CreatedAt: before(2 * time.Hour), ExpiresAt: before(time.Hour)},
			decided: `denied"><script>alert(28)</script>`, by: `<script>alert(29)</script>`, at: 90 * time.Minute},
	}, []storage.AuditRow{{At: before(time.Minute), Kind: `<script>alert(30)</script>`, Service: svc, Actor: who, ApprovalID: `<b>apr</b>`,
		Detail: []byte(`{"reason":"</code><script>alert(31)</script>"}`)}})
	f.register(fakeTeamInitiatives{owner: {{ID: `x"><script>alert(32)</script>`, Name: `<script>alert(33)</script>`, Deadline: `<i>2026</i>`, DaysLeft: 1, Done: 0, Total: 1}}})

	pages := map[string]string{}
	var code int
	_, pages["teams"] = f.get(t, "/teams")
	m := regexp.MustCompile(`<a class="team" href="(/teams/team%22%3E[^"]*)">`).FindStringSubmatch(pages["teams"])
	if m == nil {
		t.Fatalf("teams page has no escaped link to the hostile owner:\n%s", pages["teams"])
	}
	if code, pages["team"] = f.get(t, m[1]); code != http.StatusOK {
		t.Fatalf("GET %s = %d, want the hostile owner's page", m[1], code)
	}
	_, pages["approvals"] = f.get(t, "/approvals")
	_, pages["audit"] = f.get(t, "/audit")
	_, pages["audit of the service"] = f.get(t, "/audit?service="+url.QueryEscape(svc))
	for name, body := range pages {
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>", "<i>"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s page contains unescaped %q", name, bad)
			}
		}
		if !strings.Contains(body, "&lt;") {
			t.Errorf("%s page does not show the hostile text escaped", name)
		}
	}
	for name, want := range map[string][]string{
		"teams":     {"team&#34;&gt;&lt;script&gt;alert(21)&lt;/script&gt;"},
		"team":      {"svc&lt;img src=x onerror=alert(22)&gt;", "&lt;script&gt;alert(33)&lt;/script&gt;", "&lt;script&gt;alert(24)&lt;/script&gt;", "&lt;script&gt;alert(26)&lt;/script&gt;"},
		"approvals": {"&lt;b&gt;mallory&lt;/b&gt;", "&lt;script&gt;alert(29)&lt;/script&gt;", "&lt;script&gt;alert(27)&lt;/script&gt;", `class="badge state-unknown"`},
		"audit":     {"&lt;script&gt;alert(30)&lt;/script&gt;", "&lt;/code&gt;&lt;script&gt;alert(31)&lt;/script&gt;", "&lt;b&gt;apr&lt;/b&gt;"},
	} {
		for _, w := range want {
			if !strings.Contains(pages[name], w) {
				t.Errorf("%s page does not show %q", name, w)
			}
		}
	}
	if !strings.Contains(pages["team"], `href="/initiatives/x%22%3E%3Cscript%3Ealert%2832%29%3C%2Fscript%3E"`) {
		t.Errorf("the initiative's link is not path-escaped")
	}
}
