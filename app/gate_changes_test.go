package app

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"
)

func TestPendingChangesAreThePRsMergedSinceTheLastProductionDeploy(t *testing.T) {
	e := newEnv(t, nil)
	p := e.app.ReplayPipeline()
	ctx := context.Background()
	pr := func(n int, mergedAt string) {
		body := fmt.Sprintf(`{"action":"closed","number":%d,"pull_request":{"number":%d,"title":"feat: change %d <!channel>","merged":true,
			"merged_at":%q,"user":{"login":"dev%d"},"html_url":"https://github.com/acme/checkout/pull/%d","base":{"ref":"main"}},
			"repository":{"full_name":"acme/checkout","name":"checkout","default_branch":"main","owner":{"login":"acme"}}}`, n, n, n, mergedAt, n, n)
		h := http.Header{}
		h.Set("X-GitHub-Event", "pull_request")
		h.Set("X-GitHub-Delivery", fmt.Sprintf("pr-%d", n))
		if _, err := p.Receive(ctx, "github", h, []byte(body), false); err != nil {
			t.Fatal(err)
		}
	}
	pr(1, "2026-11-18T10:00:00Z")
	deploy := `{"id":"d1","service":"checkout","environment":"production","status":"succeeded","finished_at":"2026-11-18T12:00:00Z"}`
	if _, err := p.Receive(ctx, "deploy", http.Header{}, []byte(deploy), false); err != nil {
		t.Fatal(err)
	}
	staging := `{"id":"d2","service":"checkout","environment":"staging","status":"succeeded","finished_at":"2026-11-19T12:00:00Z"}`
	if _, err := p.Receive(ctx, "deploy", http.Header{}, []byte(staging), false); err != nil {
		t.Fatal(err)
	}
	pr(2, "2026-11-19T09:00:00Z")
	pr(3, "2026-11-19T15:00:00Z")
	changes, err := pendingChanges(ctx, e.app.DB, "checkout", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 2 || changes[0].Number != 3 || changes[1].Number != 2 || changes[0].Author != "dev3" || changes[0].URL == "" {
		t.Fatalf("changes = %+v, want #3 and #2 (merged after the production deploy; staging does not count)", changes)
	}
}
