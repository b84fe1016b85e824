package bot

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestApprovalRequestListsPendingPullRequestsEscaped(t *testing.T) {
	r := ApprovalRequest{ID: "apr-1", Service: "checkout", Environment: "production", Version: "v1.2.0", Band: "watch"}
	for i := 1; i <= 12; i++ {
		r.Changes = append(r.Changes, Change{Number: i, Title: "feat: <!channel> ping", Author: "dev", URL: "https://github.com/acme/checkout/pull/1"})
	}
	b, _ := json.Marshal(ApprovalRequestMessage(r, "https://releaseops.example.com").Blocks)
	s := string(b)
	if !strings.Contains(s, "Pull requests since the last production deploy") || !strings.Contains(s, "and 2 more") {
		t.Fatalf("changes not listed or not truncated: %s", s)
	}
	if strings.Contains(s, "<!channel>") {
		t.Fatalf("a PR title injected a mention: %s", s)
	}
}
