package github

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fixtures"
)

const secret = "github-webhook-secret"

func sign256(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if got := Sign(secret, body); got != want {
		panic("Sign disagrees with HMAC-SHA256: " + got)
	}
	return want
}

func sign1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

// eventOf derives the X-GitHub-Event of a fixture from its file name: "push.tag-deleted.json"
// is a push.
func eventOf(name string) string {
	return strings.SplitN(name, ".", 2)[0]
}

func headers(event, delivery string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/044aadd")
	h.Set(EventHeader, event)
	h.Set(DeliveryHeader, delivery)
	h.Set(SignatureHeader, sign256(secret, body))
	h.Set(LegacySignatureHeader, sign1(secret, body))
	return h
}

func wantCode(t *testing.T, err error, code string) *releaseops.Error {
	t.Helper()
	var e *releaseops.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *releaseops.Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
	return e
}

func verifyAndParse(t *testing.T, src *Source, event string, body []byte) releaseops.Parsed {
	t.Helper()
	h := headers(event, "delivery-"+event, body)
	if err := src.Verify(h, body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	p, err := src.Parse(h, body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// expected facts per fixture: the kinds, in order, and the subject repository.
var expected = map[string]struct {
	kinds []releaseops.FactKind
	repo  string
}{
	"branch_protection_rule.created.json":       {[]releaseops.FactKind{releaseops.FactBranchProtection}, "octo-org/octo-repo"},
	"branch_protection_rule.edited.json":        {[]releaseops.FactKind{releaseops.FactBranchProtection}, "octo-org/octo-repo"},
	"code_scanning_alert.created.json":          {[]releaseops.FactKind{releaseops.FactVulnerability}, "Codertocat/Hello-World"},
	"dependabot_alert.created.json":             {[]releaseops.FactKind{releaseops.FactVulnerability}, "wolfy1339/pika-pack"},
	"deployment.created.json":                   {nil, "Codertocat/Hello-World"},
	"deployment_protection_rule.requested.json": {[]releaseops.FactKind{releaseops.FactProtectionRule}, "Codertocat/Hello-World"},
	"deployment_review.requested.json":          {nil, "terraform-test-github/sample-app"},
	"deployment_status.in_progress.json":        {[]releaseops.FactKind{releaseops.FactDeploy}, "Codertocat/Hello-World"},
	"deployment_status.success.json":            {[]releaseops.FactKind{releaseops.FactDeploy}, "Codertocat/Hello-World"},
	"ping.json":                                 {nil, "Octocoders/Hello-World"},
	"ping.with-app_id.json":                     {nil, "Octocoders/Hello-World"},
	"pull_request.closed.merged.json":           {[]releaseops.FactKind{releaseops.FactPullRequest}, "robvanderleek/create-issue-branch"},
	"pull_request.closed.not-merged.json":       {nil, "Codertocat/Hello-World"},
	"pull_request.review_requested.json":        {nil, "Codertocat/Hello-World"},
	"pull_request_review.submitted.json":        {[]releaseops.FactKind{releaseops.FactReview}, "Codertocat/Hello-World"},
	"push.branch-with-commit.json":              {[]releaseops.FactKind{releaseops.FactPush}, "Codertocat/Hello-World"},
	"push.tag-deleted.json":                     {[]releaseops.FactKind{releaseops.FactPush}, "Codertocat/Hello-World"},
	"release.published.json":                    {[]releaseops.FactKind{releaseops.FactRelease}, "Codertocat/Hello-World"},
	"repository_ruleset.edited.json":            {[]releaseops.FactKind{releaseops.FactRuleset}, "Laxynium/webhooks.net"},
	"workflow_run.completed.json":               {[]releaseops.FactKind{releaseops.FactCIRun}, "octo-org/octo-repo"},
}

func TestFixturesVerifyAndParse(t *testing.T) {
	names, bodies := fixtures.All(t, "github")
	src := New(secret, Options{})
	for _, name := range names {
		body := bodies[name]
		t.Run(name, func(t *testing.T) {
			want, ok := expected[name]
			if !ok {
				t.Fatalf("fixture %s has no expectation in this test; add one", name)
			}
			event := eventOf(name)
			delivery := "72d3162e-cc78-11e3-81ab-4c9367dc0958"
			h := headers(event, delivery, body)
			if err := src.Verify(h, body); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			p, err := src.Parse(h, body)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if p.Type != event || p.DeliveryID != delivery {
				t.Errorf("type/delivery = %q/%q", p.Type, p.DeliveryID)
			}
			subject := releaseops.Subject{Kind: releaseops.SubjectRepo, Key: want.repo}
			if p.Subject != subject {
				t.Errorf("subject = %+v, want %+v", p.Subject, subject)
			}
			var kinds []releaseops.FactKind
			for _, f := range p.Facts {
				kinds = append(kinds, f.Kind)
				if f.Subject != subject {
					t.Errorf("fact subject = %+v", f.Subject)
				}
			}
			if fmt.Sprint(kinds) != fmt.Sprint(want.kinds) {
				t.Errorf("fact kinds = %v, want %v", kinds, want.kinds)
			}
		})
	}
}

func TestFixturesRefused(t *testing.T) {
	names, bodies := fixtures.All(t, "github")
	src := New(secret, Options{})
	for _, name := range names {
		body := bodies[name]
		t.Run(name, func(t *testing.T) {
			event := eventOf(name)
			good := sign256(secret, body)
			tampered := bytes.Replace(body, []byte(`"`), []byte(`'`), 1)
			cases := []struct {
				name    string
				mutate  func(h http.Header)
				body    []byte
				message string
			}{
				{"wrong secret", func(h http.Header) { h.Set(SignatureHeader, sign256("not-the-secret", body)) }, body, "does not match"},
				{"missing header", func(h http.Header) { h.Del(SignatureHeader); h.Del(LegacySignatureHeader) }, body, "missing X-Hub-Signature-256"},
				{"sha1 only", func(h http.Header) { h.Del(SignatureHeader) }, body, "missing X-Hub-Signature-256"},
				{"sha1 value in the sha256 header", func(h http.Header) { h.Set(SignatureHeader, sign1(secret, body)) }, body, "malformed X-Hub-Signature-256"},
				{"no prefix", func(h http.Header) { h.Set(SignatureHeader, strings.TrimPrefix(good, "sha256=")) }, body, "malformed X-Hub-Signature-256"},
				{"not hex", func(h http.Header) { h.Set(SignatureHeader, "sha256="+strings.Repeat("x", 64)) }, body, "malformed X-Hub-Signature-256"},
				{"tampered body", func(h http.Header) {}, tampered, "does not match"},
			}
			for _, c := range cases {
				h := headers(event, "d-1", body)
				c.mutate(h)
				err := src.Verify(h, c.body)
				e := wantCode(t, err, releaseops.EUNAUTHORIZED)
				if !strings.Contains(e.Error(), c.message) {
					t.Errorf("%s: error %q does not name %q", c.name, e.Error(), c.message)
				}
				for _, leak := range []string{strings.TrimPrefix(good, "sha256="), strings.TrimPrefix(sign256(secret, c.body), "sha256=")} {
					if strings.Contains(e.Error(), leak) {
						t.Errorf("%s: error leaks a signature", c.name)
					}
				}
			}
		})
	}
	body := []byte(`{}`)
	err := New("", Options{}).Verify(headers("ping", "d", body), body)
	wantCode(t, err, releaseops.EUNAVAILABLE)
}

func TestSHA1OnlyMessage(t *testing.T) {
	body := []byte(`{"zen":"x"}`)
	h := http.Header{}
	h.Set(LegacySignatureHeader, sign1(secret, body))
	e := wantCode(t, New(secret, Options{}).Verify(h, body), releaseops.EUNAUTHORIZED)
	if e.Message != "missing X-Hub-Signature-256" {
		t.Errorf("message = %q", e.Message)
	}
}

func TestFormEncoded(t *testing.T) {
	names, bodies := fixtures.All(t, "github")
	src := New(secret, Options{})
	for _, name := range names {
		payload := bodies[name]
		event := eventOf(name)
		form := []byte(url.Values{"payload": {string(payload)}}.Encode())
		h := headers(event, "d-form", form)
		h.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		if err := src.Verify(h, form); err != nil {
			t.Fatalf("%s: Verify(form) = %v", name, err)
		}
		// go-github agrees on the signature and the payload.
		got, err := gh.ValidatePayloadFromBody("application/x-www-form-urlencoded", bytes.NewReader(form), h.Get(SignatureHeader), []byte(secret))
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("%s: go-github ValidatePayloadFromBody: %v", name, err)
		}
		p, err := src.Parse(h, form)
		if err != nil {
			t.Fatalf("%s: Parse(form) = %v", name, err)
		}
		pj, err := src.Parse(headers(event, "d-form", payload), payload)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(p)
		b, _ := json.Marshal(pj)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: form and JSON deliveries parse differently:\n%s\n%s", name, a, b)
		}
		// The HMAC covers the raw form body, not the payload inside it.
		h.Set(SignatureHeader, sign256(secret, payload))
		wantCode(t, src.Verify(h, form), releaseops.EUNAUTHORIZED)
	}

	h := headers("ping", "d", []byte("zen=1"))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := src.Parse(h, []byte("zen=1"))
	if e := wantCode(t, err, releaseops.EMALFORMED); !strings.Contains(e.Message, "payload") {
		t.Errorf("message %q does not name the payload field", e.Message)
	}
	h.Set("Content-Type", "text/plain")
	_, err = src.Parse(h, []byte("{}"))
	wantCode(t, err, releaseops.EMALFORMED)
}

func TestParseHeaders(t *testing.T) {
	body := fixtures.Read(t, "github/ping.json")
	src := New(secret, Options{})

	h := headers("ping", "d", body)
	h.Del(DeliveryHeader)
	_, err := src.Parse(h, body)
	if e := wantCode(t, err, releaseops.EMALFORMED); !strings.Contains(e.Message, "X-GitHub-Delivery") {
		t.Errorf("message %q does not name X-GitHub-Delivery", e.Message)
	}

	h = headers("ping", "d", body)
	h.Del(EventHeader)
	_, err = src.Parse(h, body)
	if e := wantCode(t, err, releaseops.EMALFORMED); !strings.Contains(e.Message, "X-GitHub-Event") {
		t.Errorf("message %q does not name X-GitHub-Event", e.Message)
	}

	// A replayed delivery may come without a Content-Type: it is JSON.
	h = headers("ping", "d", body)
	h.Del("Content-Type")
	if p, err := src.Parse(h, body); err != nil || p.Type != "ping" {
		t.Errorf("Parse without Content-Type = %+v, %v", p, err)
	}
}

func TestParseMalformedAndInvalid(t *testing.T) {
	src := New(secret, Options{})
	cases := []struct {
		event, body, code, want string
	}{
		{"push", `not json`, releaseops.EMALFORMED, "JSON"},
		{"push", `[1]`, releaseops.EMALFORMED, "object"},
		{"push", ``, releaseops.EMALFORMED, "JSON"},
		{"push", `{"ref":"refs/heads/main","commits":"many"}`, releaseops.EINVALID, "commits"},
		{"pull_request", `{"action":"closed","pull_request":{"number":"seven"}}`, releaseops.EINVALID, "pull_request.number"},
		{"repository_ruleset", `{"action":"edited"}`, releaseops.EINVALID, "repository_ruleset"},
		{"repository_ruleset", `{"action":"edited","repository_ruleset":{"id":"x"}}`, releaseops.EINVALID, "repository_ruleset.id"},
		{"repository_ruleset", `{"action":"edited","repository_ruleset":{"enforcement":"active","rules":[{"type":"pull_request","parameters":{"required_approving_review_count":"2"}}]}}`, releaseops.EINVALID, "repository_ruleset.rules[0].parameters"},
	}
	for _, c := range cases {
		_, err := src.Parse(headers(c.event, "d", []byte(c.body)), []byte(c.body))
		e := wantCode(t, err, c.code)
		if !strings.Contains(e.Message, c.want) {
			t.Errorf("%s %s: message %q does not name %q", c.event, c.body, e.Message, c.want)
		}
	}
}

func TestUnusedTypesAreStoredWithoutFacts(t *testing.T) {
	src := New(secret, Options{})
	for _, event := range []string{"star", "issues", "made_up_event", "workflow_job"} {
		body := []byte(`{"action":"created","repository":{"full_name":"acme/checkout"}}`)
		p, err := src.Parse(headers(event, "d-"+event, body), body)
		if err != nil {
			t.Fatalf("%s: %v", event, err)
		}
		if p.Type != event || len(p.Facts) != 0 || p.Subject.Key != "acme/checkout" || p.DeliveryID != "d-"+event {
			t.Errorf("%s: %+v", event, p)
		}
	}
}

func TestPing(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "ping", fixtures.Read(t, "github/ping.with-app_id.json"))
	if p.Type != "ping" || len(p.Facts) != 0 {
		t.Errorf("ping = %+v", p)
	}
}

func TestPushBranch(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "push", fixtures.Read(t, "github/push.branch-with-commit.json"))
	push := p.Facts[0].Push
	if push.Repo != "Codertocat/Hello-World" || push.Ref != "refs/heads/master" || !push.DefaultBranch || push.Deleted ||
		push.Pusher != "Codertocat" || push.After != "6113728f27ae82c7b1a177c8d03f9e96e0adf246" {
		t.Errorf("push = %+v", push)
	}
	if len(push.Commits) != 1 || push.Commits[0].Message != "Initial commit" || push.Commits[0].Author != "Codertocat" ||
		fmt.Sprint(push.Commits[0].Files) != "[README.md]" {
		t.Errorf("commits = %+v", push.Commits)
	}
	if push.TouchesCodeowners || push.TouchesRunbook || push.TouchesTerraform {
		t.Errorf("README.md classified as special: %+v", push)
	}
	if !push.HeadCommitAt.Equal(time.Date(2019, 5, 15, 15, 19, 25, 0, time.UTC)) {
		t.Errorf("head commit at = %v", push.HeadCommitAt)
	}
	if want := time.Unix(1557933657, 0).UTC(); !p.Facts[0].At.Equal(want) || !p.OccurredAt.Equal(want) {
		t.Errorf("at = %v, want pushed_at %v", p.Facts[0].At, want)
	}
}

func TestPushTagDeleted(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "push", fixtures.Read(t, "github/push.tag-deleted.json"))
	push := p.Facts[0].Push
	if !push.Deleted || push.DefaultBranch || push.Ref != "refs/tags/simple-tag" || len(push.Commits) != 0 || !push.HeadCommitAt.IsZero() {
		t.Errorf("push = %+v", push)
	}
}

func TestPushClassification(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "push.ops-files.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := verifyAndParse(t, New(secret, Options{}), "push", body)
	push := p.Facts[0].Push
	if !push.TouchesCodeowners || !push.TouchesRunbook || !push.TouchesTerraform || !push.DefaultBranch || push.Forced {
		t.Errorf("push = %+v", push)
	}
	if len(push.Commits) != 2 || len(push.Commits[0].Files) != 3 {
		t.Errorf("commits = %+v", push.Commits)
	}

	src := New(secret, Options{RunbookPatterns: []string{"ops/*.md", "/wiki/oncall/"}})
	cases := map[string][3]bool{ // codeowners, runbook, terraform
		"CODEOWNERS":                 {true, false, false},
		".github/CODEOWNERS":         {true, false, false},
		"docs/CODEOWNERS":            {true, false, false},
		"src/CODEOWNERS":             {false, false, false},
		"RUNBOOK.md":                 {false, true, false},
		"runbook.md":                 {false, true, false},
		"docs/runbook-checkout.md":   {false, true, false},
		"docs/runbooks/failover.md":  {false, true, false},
		"services/a/Runbook.txt":     {false, true, false},
		"ops/restart.md":             {false, true, false},
		"ops/deep/restart.md":        {false, false, false},
		"wiki/oncall/paging.md":      {false, true, false},
		"README.md":                  {false, false, false},
		"infra/main.tf":              {false, false, true},
		"infra/prod.tfvars":          {false, false, true},
		"infra/stack.tf.json":        {false, false, true},
		"infra/terraform.tfstate":    {false, false, false},
		"notes/runbooks-are-fun.txt": {false, true, false},
	}
	for path, want := range cases {
		got := [3]bool{IsCodeowners(path), src.IsRunbook(path), IsTerraform(path)}
		if got != want {
			t.Errorf("%s: codeowners/runbook/terraform = %v, want %v", path, got, want)
		}
	}
	if New(secret, Options{}).IsRunbook("ops/restart.md") {
		t.Errorf("ops/restart.md is a runbook only with the configured pattern")
	}
}

func TestPullRequestMerged(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "pull_request", fixtures.Read(t, "github/pull_request.closed.merged.json"))
	if len(p.Facts) != 1 {
		t.Fatalf("facts = %+v", p.Facts)
	}
	pr := p.Facts[0].PullRequest
	merged := time.Date(2020, 3, 23, 6, 46, 56, 0, time.UTC)
	if pr.Repo != "robvanderleek/create-issue-branch" || pr.Number != 117 || pr.Title != `Revert "Update README.md"` ||
		pr.Author != "robvanderleek" || pr.MergedBy != "robvanderleek" || !pr.MergedAt.Equal(merged) ||
		pr.MergeCommitSHA != "5a47c3f3c22f54f37a3297f2f1c98d860fba4489" || pr.BaseRef != "main" ||
		pr.URL != "https://github.com/robvanderleek/create-issue-branch/pull/117" {
		t.Errorf("pr = %+v", pr)
	}
	if !p.Facts[0].At.Equal(merged) {
		t.Errorf("at = %v", p.Facts[0].At)
	}
}

func TestPullRequestNotMerged(t *testing.T) {
	src := New(secret, Options{})
	for _, name := range []string{"pull_request.closed.not-merged.json", "pull_request.review_requested.json"} {
		p := verifyAndParse(t, src, "pull_request", fixtures.Read(t, "github/"+name))
		if len(p.Facts) != 0 {
			t.Errorf("%s: facts = %+v (merge_commit_sha alone is not a merge)", name, p.Facts)
		}
	}
	// merged true on another action (e.g. edited after merge) is not a new merge either.
	body := bytes.Replace(fixtures.Read(t, "github/pull_request.closed.merged.json"), []byte(`"action": "closed"`), []byte(`"action": "edited"`), 1)
	if p := verifyAndParse(t, src, "pull_request", body); len(p.Facts) != 0 {
		t.Errorf("edited merged PR: facts = %+v", p.Facts)
	}
}

func TestReview(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "pull_request_review", fixtures.Read(t, "github/pull_request_review.submitted.json"))
	r := p.Facts[0].Review
	if r.Repo != "Codertocat/Hello-World" || r.PRNumber != 2 || r.Reviewer != "Codertocat" || r.State != "commented" || r.Action != "submitted" {
		t.Errorf("review = %+v", r)
	}
	body := bytes.Replace(fixtures.Read(t, "github/pull_request_review.submitted.json"), []byte(`"state": "commented"`), []byte(`"state": "APPROVED"`), 1)
	if p := verifyAndParse(t, New(secret, Options{}), "pull_request_review", body); p.Facts[0].Review.State != "approved" {
		t.Errorf("state = %q, want lowercase approved", p.Facts[0].Review.State)
	}
}

func TestBranchProtection(t *testing.T) {
	src := New(secret, Options{})
	p := verifyAndParse(t, src, "branch_protection_rule", fixtures.Read(t, "github/branch_protection_rule.created.json"))
	bp := p.Facts[0].BranchProtection
	if bp.Repo != "octo-org/octo-repo" || bp.Pattern != "production" || bp.Action != "created" || bp.Deleted ||
		bp.RequiredApprovingReviews != 0 || bp.RequireCodeOwnerReview || bp.DismissStaleReviews || bp.LinearHistory ||
		bp.SignedCommits || bp.AdminEnforced || bp.AllowForcePushes || fmt.Sprint(bp.RequiredStatusChecks) != "[basic-CI]" {
		// The fixture's required_approving_review_count is 1 but its
		// pull_request_reviews_enforcement_level is "off": no review is actually required.
		t.Errorf("created = %+v", bp)
	}
	on := bytes.Replace(fixtures.Read(t, "github/branch_protection_rule.created.json"),
		[]byte(`"pull_request_reviews_enforcement_level": "off"`), []byte(`"pull_request_reviews_enforcement_level": "everyone"`), 1)
	if bp := verifyAndParse(t, src, "branch_protection_rule", on).Facts[0].BranchProtection; bp.RequiredApprovingReviews != 1 {
		t.Errorf("reviews enforced for everyone: required reviews = %d, want 1", bp.RequiredApprovingReviews)
	}
	if want := time.Date(2021, 8, 19, 16, 16, 32, 0, time.UTC); !p.Facts[0].At.Equal(want) {
		t.Errorf("at = %v, want %v", p.Facts[0].At, want)
	}

	p = verifyAndParse(t, src, "branch_protection_rule", fixtures.Read(t, "github/branch_protection_rule.edited.json"))
	if bp := p.Facts[0].BranchProtection; bp.Action != "edited" || bp.Deleted {
		t.Errorf("edited = %+v", bp)
	}

	body := string(fixtures.Read(t, "github/branch_protection_rule.created.json"))
	body = strings.Replace(body, `"action": "created"`, `"action": "deleted"`, 1)
	for field, level := range map[string]string{"linear_history_requirement_enforcement_level": "everyone", "signature_requirement_enforcement_level": "non_admins", "allow_force_pushes_enforcement_level": "everyone"} {
		body = strings.Replace(body, `"`+field+`": "off"`, `"`+field+`": "`+level+`"`, 1)
	}
	p = verifyAndParse(t, src, "branch_protection_rule", []byte(body))
	if bp := p.Facts[0].BranchProtection; !bp.Deleted || bp.Action != "deleted" || !bp.LinearHistory || !bp.SignedCommits || !bp.AllowForcePushes {
		t.Errorf("deleted with levels on = %+v", bp)
	}
}

func TestRuleset(t *testing.T) {
	src := New(secret, Options{})
	body := fixtures.Read(t, "github/repository_ruleset.edited.json")
	p := verifyAndParse(t, src, "repository_ruleset", body)
	r := p.Facts[0].Ruleset
	if r.Repo != "Laxynium/webhooks.net" || r.ID != 164067 || r.Name != "_hello_world_" || r.Action != "edited" || r.Deleted ||
		r.Target != "branch" || r.Enforcement != "active" || r.RequiredApprovingReviews != 4 || r.RequireCodeOwnerReview ||
		r.LinearHistory || !r.SignedCommits || !r.BlocksForcePush || !r.BlocksDeletion ||
		fmt.Sprint(r.Includes) != "[~DEFAULT_BRANCH refs/heads/feature/ refs/heads/pattern/]" {
		t.Errorf("ruleset = %+v", r)
	}
	if want := time.Date(2023, 10, 25, 16, 19, 0, 989e6, time.UTC); !p.Facts[0].At.Equal(want) {
		t.Errorf("at = %v", p.Facts[0].At)
	}

	// The fixture's changes.rules.deleted lists required_linear_history; put it back as a rule.
	withLinear := bytes.Replace(body, []byte(`{"type":"required_signatures"}`), []byte(`{"type":"required_signatures"},{"type":"required_linear_history"}`), 1)
	if bytes.Equal(withLinear, body) {
		withLinear = bytes.Replace(body, []byte(`"type": "required_signatures"`), []byte(`"type": "required_signatures"}, {"type": "required_linear_history"`), 1)
	}
	if p := verifyAndParse(t, src, "repository_ruleset", withLinear); !p.Facts[0].Ruleset.LinearHistory {
		t.Errorf("required_linear_history rule not read")
	}

	for _, enforcement := range []string{"disabled", "evaluate"} {
		b := bytes.Replace(body, []byte(`"enforcement": "active"`), []byte(`"enforcement": "`+enforcement+`"`), 1)
		r := verifyAndParse(t, src, "repository_ruleset", b).Facts[0].Ruleset
		if r.Enforcement != enforcement || r.RequiredApprovingReviews != 0 || r.SignedCommits || r.BlocksForcePush || r.BlocksDeletion {
			t.Errorf("%s ruleset reports requirements: %+v", enforcement, r)
		}
	}

	b := bytes.Replace(body, []byte(`"action": "edited"`), []byte(`"action": "deleted"`), 1)
	if r := verifyAndParse(t, src, "repository_ruleset", b).Facts[0].Ruleset; !r.Deleted || r.RequiredApprovingReviews != 0 {
		t.Errorf("deleted ruleset = %+v", r)
	}
}

func TestDeploymentStatus(t *testing.T) {
	src := New(secret, Options{})
	body := fixtures.Read(t, "github/deployment_status.success.json")
	p := verifyAndParse(t, src, "deployment_status", body)
	d := p.Facts[0].Deploy
	started := time.Date(2019, 5, 15, 15, 20, 53, 0, time.UTC)
	finished := time.Date(2019, 5, 15, 15, 20, 55, 0, time.UTC)
	if d.ID != "145988746" || d.Status != releaseops.DeploySucceeded || d.Environment != "production" || d.Kind != releaseops.KindDeploy ||
		d.Version != "master" || d.CommitSHA != "f95f852bd8fca8fcc58a9a2d6c842781e32a215e" || d.Repo != "Codertocat/Hello-World" ||
		d.Actor != "Codertocat" || d.StartedAt == nil || !d.StartedAt.Equal(started) || d.FinishedAt == nil || !d.FinishedAt.Equal(finished) {
		t.Errorf("success = %+v", d)
	}
	if !p.Facts[0].At.Equal(finished) {
		t.Errorf("at = %v", p.Facts[0].At)
	}

	p = verifyAndParse(t, src, "deployment_status", fixtures.Read(t, "github/deployment_status.in_progress.json"))
	d = p.Facts[0].Deploy
	if d.Status != releaseops.DeployStarted || d.Environment != "github-pages" || d.FinishedAt != nil ||
		d.URL != "https://github.com/CorsixTH/CorsixTH/runs/4687056418?check_suite_focus=true" {
		t.Errorf("in_progress = %+v", d)
	}

	mapping := map[string]string{
		"failure": releaseops.DeployFailed, "error": releaseops.DeployFailed,
		"queued": releaseops.DeployStarted, "pending": releaseops.DeployStarted, "waiting": releaseops.DeployStarted,
		"inactive": "", "something_new": "",
	}
	for state, want := range mapping {
		b := bytes.Replace(body, []byte(`"state": "success"`), []byte(`"state": "`+state+`"`), 1)
		if bytes.Equal(b, body) {
			t.Fatal("fixture has no state to mutate")
		}
		p := verifyAndParse(t, src, "deployment_status", b)
		if want == "" {
			if len(p.Facts) != 0 {
				t.Errorf("%s: facts = %+v, want none", state, p.Facts)
			}
			continue
		}
		if len(p.Facts) != 1 || p.Facts[0].Deploy.Status != want || p.Facts[0].Deploy.ID != "145988746" {
			t.Errorf("%s: facts = %+v, want a %s deploy", state, p.Facts, want)
		}
		if want == releaseops.DeployFailed && p.Facts[0].Deploy.FinishedAt == nil {
			t.Errorf("%s: a failed deploy has finished", state)
		}
	}
}

func TestDeploymentProtectionRule(t *testing.T) {
	src := New(secret, Options{})
	body := fixtures.Read(t, "github/deployment_protection_rule.requested.json")
	p := verifyAndParse(t, src, "deployment_protection_rule", body)
	r := p.Facts[0].ProtectionRule
	if r.Repo != "Codertocat/Hello-World" || r.Environment != "my-environment" || r.Event != "my-event" ||
		r.CallbackURL != "https://github.local/deploy-the-thing" || r.RunID != 0 || r.InstallationID != 0 ||
		r.DeploymentID != 145988746 || r.SHA != "f95f852bd8fca8fcc58a9a2d6c842781e32a215e" || r.Ref != "master" ||
		r.Creator != "Codertocat" || fmt.Sprint(r.PRNumbers) != "[2]" {
		t.Errorf("rule = %+v", r)
	}
	if !p.Facts[0].At.IsZero() {
		t.Errorf("at = %v, want zero (the pipeline uses the received time)", p.Facts[0].At)
	}

	// A real App delivery: callback URL with the run id, and an installation.
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["deployment_callback_url"] = "https://api.github.com/repos/Codertocat/Hello-World/actions/runs/4687056418/deployment_protection_rule"
	m["installation"] = map[string]any{"id": 2311213, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMjMxMTIxMw=="}
	real, _ := json.Marshal(m)
	r = verifyAndParse(t, src, "deployment_protection_rule", real).Facts[0].ProtectionRule
	if r.RunID != 4687056418 || r.InstallationID != 2311213 {
		t.Errorf("real delivery: run id %d, installation %d", r.RunID, r.InstallationID)
	}
}

func TestRunIDFromCallbackURL(t *testing.T) {
	cases := map[string]int64{
		"https://api.github.com/repos/o/r/actions/runs/123/deployment_protection_rule":        123,
		"https://ghe.example.com/api/v3/repos/o/r/actions/runs/77/deployment_protection_rule": 77,
		"https://api.github.com/repos/o/r/actions/runs/123/deployment_protection_rule/":       123,
		"https://github.local/deploy-the-thing":                                               0,
		"https://api.github.com/repos/o/r/actions/runs/abc/deployment_protection_rule":        0,
		"https://api.github.com/repos/o/r/actions/runs/-5/deployment_protection_rule":         0,
		"https://api.github.com/repos/o/r/actions/jobs/123/deployment_protection_rule":        0,
		"::not a url":                        0,
		"":                                   0,
		"/runs/1/deployment_protection_rule": 0,
	}
	for in, want := range cases {
		if got := RunIDFromCallbackURL(in); got != want {
			t.Errorf("RunIDFromCallbackURL(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestWorkflowRun(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "workflow_run", fixtures.Read(t, "github/workflow_run.completed.json"))
	r := p.Facts[0].CIRun
	if r.Repo != "octo-org/octo-repo" || r.Kind != "workflow_run" || r.Name != "test" || r.Status != "completed" ||
		r.Conclusion != "success" || r.HeadSHA != "3484a3fb816e0859fd6e1cea078d76385ff50625" || r.HeadBranch != "master" ||
		r.Event != "repository_dispatch" || r.URL != "https://github.com/octo-org/octo-repo/actions/runs/289782451" || len(r.PRNumbers) != 0 {
		t.Errorf("workflow run = %+v", r)
	}
	if want := time.Date(2020, 10, 5, 16, 33, 49, 0, time.UTC); !p.Facts[0].At.Equal(want) {
		t.Errorf("at = %v", p.Facts[0].At)
	}
}

func TestCheckRun(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "check_run.completed.json"))
	if err != nil {
		t.Fatal(err)
	}
	p := verifyAndParse(t, New(secret, Options{}), "check_run", body)
	if len(p.Facts) != 1 {
		t.Fatalf("facts = %+v", p.Facts)
	}
	r := p.Facts[0].CIRun
	if r.Repo != "acme/checkout" || r.Kind != "check_run" || r.Name != "terraform plan (prod)" || r.Status != "completed" ||
		r.Conclusion != "failure" || r.HeadSHA != "9f2c1e0aa1d6b1e1c8e5d0f6a7b8c9d0e1f2a3b4" || r.HeadBranch != "add-queue-workers" ||
		fmt.Sprint(r.PRNumbers) != "[42]" || r.URL != "https://github.com/acme/checkout/runs/4" {
		t.Errorf("check run = %+v", r)
	}
	if want := time.Date(2026, 11, 20, 9, 41, 0, 0, time.UTC); !p.Facts[0].At.Equal(want) {
		t.Errorf("at = %v", p.Facts[0].At)
	}
}

func TestRelease(t *testing.T) {
	p := verifyAndParse(t, New(secret, Options{}), "release", fixtures.Read(t, "github/release.published.json"))
	r := p.Facts[0].Release
	if r.Repo != "Codertocat/Hello-World" || r.Action != "published" || r.Tag != "0.0.1" || r.Draft || r.Prerelease ||
		r.URL != "https://github.com/Codertocat/Hello-World/releases/tag/0.0.1" {
		t.Errorf("release = %+v", r)
	}
	if want := time.Date(2019, 5, 15, 15, 20, 53, 0, time.UTC); !p.Facts[0].At.Equal(want) {
		t.Errorf("at = %v", p.Facts[0].At)
	}
}

func TestVulnerabilities(t *testing.T) {
	src := New(secret, Options{})
	v := verifyAndParse(t, src, "dependabot_alert", fixtures.Read(t, "github/dependabot_alert.created.json")).Facts[0].Vulnerability
	if v.Repo != "wolfy1339/pika-pack" || v.Tool != "dependabot" || v.Number != 20 || v.Action != "created" || v.State != "open" ||
		v.Severity != "medium" || v.Summary != "semver vulnerable to Regular Expression Denial of Service" ||
		v.URL != "https://github.com/wolfy1339/pika-pack/security/dependabot/20" {
		t.Errorf("dependabot = %+v", v)
	}
	v = verifyAndParse(t, src, "code_scanning_alert", fixtures.Read(t, "github/code_scanning_alert.created.json")).Facts[0].Vulnerability
	if v.Repo != "Codertocat/Hello-World" || v.Tool != "code_scanning" || v.Number != 10 || v.Action != "created" || v.State != "open" ||
		v.Severity != "error" || v.Summary != "Query built from user-controlled sources" ||
		v.URL != "https://github.com/Codertocat/Hello-World/security/code-scanning/10" {
		t.Errorf("code scanning = %+v", v)
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range fixtures.Seeds("github") {
		for event := range handled {
			f.Add(event, b)
		}
		f.Add("repository_ruleset", b)
	}
	for _, b := range fixtures.Testdata(f, ".json") {
		f.Add("push", b)
		f.Add("check_run", b)
	}
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		h := http.Header{}
		h.Set(EventHeader, event)
		h.Set(DeliveryHeader, "d")
		p, err := New(secret, Options{RunbookPatterns: []string{"ops/[a-", "wiki/"}}).Parse(h, body)
		if err != nil {
			if code := releaseops.ErrorCode(err); code != releaseops.EMALFORMED && code != releaseops.EINVALID {
				t.Fatalf("unexpected code %s: %v", code, err)
			}
			return
		}
		if p.DeliveryID != "d" {
			t.Fatalf("delivery = %q", p.DeliveryID)
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, b := range fixtures.Seeds("github") {
		f.Add(b, sign256(secret, b))
	}
	f.Add([]byte("{}"), "sha256=")
	f.Add([]byte("{}"), "sha512="+strings.Repeat("0", 128))
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		h := http.Header{}
		h.Set(SignatureHeader, sig)
		err := New(secret, Options{}).Verify(h, body)
		if err == nil && strings.ToLower(strings.TrimSpace(sig)) != sign256(secret, body) {
			t.Fatalf("accepted %q", sig)
		}
		if err != nil && releaseops.ErrorCode(err) != releaseops.EUNAUTHORIZED {
			t.Fatalf("code = %s", releaseops.ErrorCode(err))
		}
	})
}
