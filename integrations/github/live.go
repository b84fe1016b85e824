package github

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
)

// LiveOptions are what `releaseops check-config --live` asks of GitHub: the configured
// credentials (the App wins over Token, as in NewClients) and whether the webhook secret is
// set.
type LiveOptions struct {
	Token          string
	AppID          int64
	PrivateKey     []byte
	InstallationID int64
	APIURL         string
	WebhookSecret  bool
	// DiscoveryOrgs (catalog.github_discovery.orgs) make read:org a requirement of a classic
	// token.
	DiscoveryOrgs []string
	// Timeout bounds each call (default 10 s), so an address that swallows packets costs
	// seconds, not the minutes of a TCP timeout.
	Timeout   time.Duration
	Transport http.RoundTripper // nil: http.DefaultTransport
}

// LiveResult and LiveProblem are the root package's: every source's check reports the same way.
type (
	LiveResult  = releaseops.LiveResult
	LiveProblem = releaseops.LiveProblem
)

// permissionUse says what breaks without each manifest permission, so a problem says why it
// matters rather than only that something differs from a file.
var permissionUse = map[string]string{
	"metadata":             "which every repository lookup needs",
	"administration":       "which sync needs to read branch protection and rulesets",
	"contents":             "which sync needs to read CODEOWNERS and catalog-info.yaml and release notes need to compare commits",
	"pull_requests":        "which sync needs to read merged pull requests and their reviews",
	"deployments":          "which the gate needs to approve or reject deployments on their protection rules",
	"actions":              "which GitHub requires of an App answering deployment protection rules",
	"checks":               "which check_run events (Terraform plan checks) need",
	"vulnerability_alerts": "which sync needs to read Dependabot alerts",
	"security_events":      "which sync needs to read code-scanning alerts",
}

var accessRank = map[string]int{"read": 1, "write": 2, "admin": 3}

// CheckLive makes a few cheap calls with the configured credentials. It never fails as a
// whole: whatever goes wrong is a problem in the result.
func CheckLive(ctx context.Context, o LiveOptions) LiveResult {
	res := LiveResult{Visible: -1}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	c, err := NewClients(ClientOptions{Token: o.Token, AppID: o.AppID, PrivateKey: o.PrivateKey,
		InstallationID: o.InstallationID, APIURL: o.APIURL, Transport: o.Transport, Timeout: o.Timeout})
	if err != nil {
		key := "github.token"
		switch {
		case strings.HasPrefix(err.Error(), "github.api_url"):
			key = "github.api_url"
		case o.AppID != 0 || len(o.PrivateKey) > 0:
			key = "github.private_key"
		}
		res.Problem(key, "%v", err)
		return res
	}
	lc := &liveCheck{c: c, o: o, res: &res}
	if c.IsApp() {
		lc.app(ctx)
	} else {
		lc.token(ctx)
	}
	if o.WebhookSecret {
		res.Details = append(res.Details, "webhook secret set")
	} else {
		res.Problem("github.webhook_secret", "not set: GitHub webhooks cannot be verified, so POST /webhooks/github stays off and changes wait for the next sync")
	}
	return res
}

type liveCheck struct {
	c   *Clients
	o   LiveOptions
	res *LiveResult
}

// unreachable turns a failure to get any answer into a problem on github.api_url and
// reports whether it was one; the check stops there, since every later call would wait out
// the same timeout.
func (lc *liveCheck) unreachable(err error) bool {
	cause, ok := releaseops.NetworkFailure(err, lc.o.Timeout)
	if ok {
		lc.res.Problem("github.api_url", "cannot reach the GitHub API at %s: %s", lc.c.BaseURL(), cause)
	}
	return ok
}

func (lc *liveCheck) call(ctx context.Context, cl *gh.Client, path string, v any) (*gh.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, lc.o.Timeout)
	defer cancel()
	req, err := cl.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return nil, fmt.Errorf("build GET %s: %w", path, err)
	}
	return cl.Do(ctx, req, v)
}

// liveApp is GET /app decoded as a plain map of permissions, like Permissions, so a
// permission newer than go-github is compared too.
type liveApp struct {
	ID          int64             `json:"id"`
	Slug        string            `json:"slug"`
	Name        string            `json:"name"`
	Permissions map[string]string `json:"permissions"`
}

func (lc *liveCheck) app(ctx context.Context) {
	app, _ := lc.c.App()
	var a liveApp
	if resp, err := lc.call(ctx, app, "app", &a); err != nil {
		if !lc.unreachable(err) {
			lc.res.Problem("github.app_id", "GET /app as App %d: %v", lc.o.AppID, appAuthHint(resp, err))
		}
		return
	}
	name := a.Slug
	if name == "" {
		name = a.Name
	}
	lc.res.Who = fmt.Sprintf("App %s (id %d)", name, a.ID)
	installs, err := lc.installations(ctx)
	if err != nil {
		if !lc.unreachable(err) {
			lc.res.Problem("github.app_id", "%v", err)
		}
		return
	}
	if len(installs) == 0 {
		lc.res.Problem("github.app_id", "App %s is not installed on any account: install it on your organisation (all repositories, or the catalogued ones)", name)
		return
	}
	var accounts []string
	for _, in := range installs {
		accounts = append(accounts, fmt.Sprintf("%s (%d)", in.GetAccount().GetLogin(), in.GetID()))
	}
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d installation(s): %s", len(installs), strings.Join(accounts, ", ")))
	checked := installs
	if id := lc.o.InstallationID; id != 0 {
		i := slices.IndexFunc(installs, func(in *gh.Installation) bool { return in.GetID() == id })
		if i < 0 {
			lc.res.Problem("github.installation_id", "installation %d is not one of App %s's installations (%s)", id, name, strings.Join(accounts, ", "))
			return
		}
		checked = installs[i : i+1]
	}
	visible := 0
	for _, in := range checked {
		n, ok := lc.installation(ctx, a, in)
		if !ok {
			return
		}
		visible += n
	}
	lc.res.Visible = visible
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d repositories visible", visible))
}

func (lc *liveCheck) installations(ctx context.Context) ([]*gh.Installation, error) {
	in, err := lc.c.Installations(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(in, func(i, j int) bool { return in[i].GetID() < in[j].GetID() })
	return in, nil
}

// installation checks one installation's permissions against the manifest and counts its
// repositories; ok is false when GitHub could not be reached.
func (lc *liveCheck) installation(ctx context.Context, a liveApp, in *gh.Installation) (visible int, ok bool) {
	id := in.GetID()
	label := fmt.Sprintf("installation %d (%s)", id, in.GetAccount().GetLogin())
	where := "the organisation's settings"
	if in.GetTargetType() == "User" {
		where = "the account's settings"
	}
	if u := in.GetHTMLURL(); u != "" {
		where += " (" + u + ")"
	}
	if in.SuspendedAt != nil {
		lc.res.Problem("github.app_id", "%s is suspended since %s: nothing is read or answered for it; unsuspend it in %s",
			label, in.SuspendedAt.UTC().Format(time.RFC3339), where)
		return 0, true
	}
	granted, err := lc.c.Permissions(ctx, id)
	if err != nil {
		if lc.unreachable(err) {
			return 0, false
		}
		lc.res.Problem("github.app_id", "%s: %v", label, err)
	} else {
		wanted := ManifestPermissions()
		for _, perm := range sortedKeys(wanted) {
			want := wanted[perm]
			have := granted[perm]
			if accessRank[have] >= accessRank[want] {
				continue
			}
			lacks := perm + ":" + want
			if have != "" {
				lacks += " (it has " + perm + ":" + have + ")"
			}
			fix := "accept the new permissions in " + where
			if accessRank[a.Permissions[perm]] < accessRank[want] {
				fix = fmt.Sprintf("the App itself does not ask for it: add %s:%s in the App's settings (Permissions & events), then accept the new permissions in %s", perm, want, where)
			}
			use := permissionUse[perm]
			if use == "" {
				use = "which the App manifest asks for"
			}
			lc.res.Problem("github.app_id", "%s lacks %s, %s; %s", label, lacks, use, fix)
		}
	}
	cl, err := lc.c.ForInstallation(id)
	if err != nil {
		lc.res.Problem("github.app_id", "%s: %v", label, err)
		return 0, true
	}
	var page gh.ListRepositories
	if _, err := lc.call(ctx, cl, "installation/repositories?per_page=1", &page); err != nil {
		if lc.unreachable(err) {
			return 0, false
		}
		lc.res.Problem("github.app_id", "%s: list its repositories: %v", label, err)
		return 0, true
	}
	if page.GetTotalCount() == 0 {
		lc.res.Problem("github.app_id", "%s sees no repository: give it the repositories of the catalogued services in %s", label, where)
	}
	return page.GetTotalCount(), true
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (lc *liveCheck) token(ctx context.Context) {
	cl, _ := lc.c.ForInstallation(0)
	var u gh.User
	resp, err := lc.call(ctx, cl, "user", &u)
	switch {
	case err == nil:
	case lc.unreachable(err):
		return
	case resp != nil && resp.StatusCode == http.StatusUnauthorized:
		lc.res.Problem("github.token", "GitHub refused the token (401 Bad credentials): it was revoked, expired or mistyped")
		return
	case resp != nil && resp.StatusCode == http.StatusForbidden:
		// An installation token cannot read /user, but can say which App it belongs to.
		lc.installationToken(ctx, cl, err)
		return
	default:
		lc.res.Problem("github.token", "GET /user: %v", err)
		return
	}
	lc.res.Who = u.GetLogin()
	lc.scopes(resp)
	var repos []*gh.Repository
	// One repository a page: the last page's number is then how many the token sees.
	resp, err = lc.call(ctx, cl, "user/repos?per_page=1", &repos)
	if err != nil {
		if !lc.unreachable(err) {
			lc.res.Problem("github.token", "GET /user/repos: %v", err)
		}
		return
	}
	lc.res.Visible = len(repos)
	if resp.LastPage > 0 {
		lc.res.Visible = resp.LastPage
	}
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d repositories visible", lc.res.Visible))
}

// scopes reads X-OAuth-Scopes, which GitHub sends only for classic tokens.
func (lc *liveCheck) scopes(resp *gh.Response) {
	raw, classic := resp.Header[http.CanonicalHeaderKey("X-OAuth-Scopes")]
	if !classic {
		lc.res.Details = append(lc.res.Details, "a fine-grained token (GitHub lists no scopes for it: its repository access and permissions are set on the token's page)")
		return
	}
	have := map[string]bool{}
	var list []string
	for _, s := range strings.Split(strings.Join(raw, ","), ",") {
		if s = strings.TrimSpace(s); s != "" {
			have[s] = true
			list = append(list, s)
		}
	}
	if len(list) == 0 {
		list = []string{"none"}
	}
	lc.res.Details = append(lc.res.Details, "classic token scopes: "+strings.Join(list, ", "))
	switch {
	case have["repo"]:
	case have["public_repo"]:
		lc.res.Details = append(lc.res.Details, "public repositories only (public_repo)")
	default:
		lc.res.Problem("github.token", "the classic token lacks the repo scope (or public_repo for public repositories only), which sync and release notes need to read repositories")
	}
	if len(lc.o.DiscoveryOrgs) > 0 && !have["read:org"] && !have["write:org"] && !have["admin:org"] {
		lc.res.Problem("github.token", "the classic token lacks read:org, which catalog.github_discovery needs to list the repositories of %s", strings.Join(lc.o.DiscoveryOrgs, ", "))
	}
}

func (lc *liveCheck) installationToken(ctx context.Context, cl *gh.Client, userErr error) {
	var a liveApp
	if _, err := lc.call(ctx, cl, "app", &a); err != nil {
		if !lc.unreachable(err) {
			lc.res.Problem("github.token", "GET /user: %v", userErr)
		}
		return
	}
	lc.res.Who = fmt.Sprintf("an installation token of App %s (id %d)", a.Slug, a.ID)
	lc.res.Problem("github.token", "an installation token expires within an hour: set github.app_id and github.private_key instead, and ReleaseOps mints its own")
	var page gh.ListRepositories
	if _, err := lc.call(ctx, cl, "installation/repositories?per_page=1", &page); err != nil {
		if !lc.unreachable(err) {
			lc.res.Problem("github.token", "list the installation's repositories: %v", err)
		}
		return
	}
	lc.res.Visible = page.GetTotalCount()
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d repositories visible", lc.res.Visible))
}
