package github

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gh "github.com/google/go-github/v62/github"
)

func appClients(t *testing.T, f *fakeGitHub, mutate func(*ClientOptions)) *Clients {
	t.Helper()
	o := ClientOptions{AppID: testAppID, PrivateKey: testKeyPEM(), APIURL: f.APIURL(), Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&o)
	}
	c, err := NewClients(o)
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsApp() {
		t.Fatal("IsApp() = false with an App id and key")
	}
	return c
}

// getRepo makes one API call as the client.
func getRepo(t *testing.T, cl *gh.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err := cl.Repositories.Get(ctx, "acme", "checkout")
	return err
}

func auths(calls []apiCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.auth)
	}
	return out
}

func TestAppTokenMintedOnceAndReused(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	cl, err := c.ForInstallation(42)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := getRepo(t, cl); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := c.ForInstallation(42); again != cl {
		t.Error("ForInstallation built a second client for the same installation")
	}
	mints, api, _ := f.snapshot()
	if mints[42] != 1 {
		t.Errorf("installation 42 minted %d tokens, want 1", mints[42])
	}
	if got, want := auths(api), []string{"Bearer ghs_42_1", "Bearer ghs_42_1", "Bearer ghs_42_1"}; !slices.Equal(got, want) {
		t.Errorf("Authorization headers %q, want %q", got, want)
	}
	f.noJWTErrors(t)
}

func TestAppTokensPerInstallationConcurrently(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	var wg sync.WaitGroup
	for i := range 20 {
		id := int64(42)
		if i%2 == 1 {
			id = 7
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := c.ForInstallation(id)
			if err == nil {
				err = getRepo(t, cl)
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	mints, api, _ := f.snapshot()
	if mints[42] != 1 || mints[7] != 1 {
		t.Errorf("mints %v, want one per installation", mints)
	}
	for _, a := range api {
		if a.auth != "Bearer ghs_42_1" && a.auth != "Bearer ghs_7_1" {
			t.Errorf("Authorization %q", a.auth)
		}
	}
}

func TestAppTokenNearExpiryIsRefreshed(t *testing.T) {
	f := newFakeGitHub(t, "")
	// ghinstallation refreshes a minute before expires_at, on wall time: a token that
	// expires in 30s is stale as soon as it arrives.
	f.set(func(f *fakeGitHub) { f.ttl = 30 * time.Second })
	c := appClients(t, f, nil)
	cl, _ := c.ForInstallation(42)
	for range 2 {
		if err := getRepo(t, cl); err != nil {
			t.Fatal(err)
		}
	}
	mints, api, _ := f.snapshot()
	if mints[42] != 2 {
		t.Errorf("minted %d tokens, want 2", mints[42])
	}
	if got, want := auths(api), []string{"Bearer ghs_42_1", "Bearer ghs_42_2"}; !slices.Equal(got, want) {
		t.Errorf("Authorization headers %q, want %q", got, want)
	}
}

func TestApp401RefreshesTheTokenOnce(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	cl, _ := c.ForInstallation(42)
	if err := getRepo(t, cl); err != nil {
		t.Fatal(err)
	}
	f.revoke("ghs_42_1")
	if err := getRepo(t, cl); err != nil {
		t.Fatalf("after a revoked token: %v", err)
	}
	mints, api, _ := f.snapshot()
	if mints[42] != 2 {
		t.Errorf("minted %d tokens, want 2", mints[42])
	}
	if got, want := auths(api), []string{"Bearer ghs_42_1", "Bearer ghs_42_1", "Bearer ghs_42_2"}; !slices.Equal(got, want) {
		t.Errorf("Authorization headers %q, want %q", got, want)
	}

	// A request with a body is replayed whole.
	f.revoke("ghs_42_2")
	req, err := cl.NewRequest(http.MethodPost, "repos/acme/checkout/actions/runs/5/deployment_protection_rule",
		map[string]string{"environment_name": "production", "state": "approved"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Do(context.Background(), req, nil); err != nil {
		t.Fatalf("POST after a revoked token: %v", err)
	}
	_, api, _ = f.snapshot()
	last := api[len(api)-2:]
	if last[0].status != 401 || last[1].status != 204 || last[1].auth != "Bearer ghs_42_3" ||
		last[0].body != last[1].body || !strings.Contains(last[1].body, `"state":"approved"`) {
		t.Errorf("POST attempts %+v", last)
	}
}

func TestAppSecond401IsAnError(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.set(func(f *fakeGitHub) { f.rejectAll = true })
	c := appClients(t, f, nil)
	cl, _ := c.ForInstallation(42)
	err := getRepo(t, cl)
	var er *gh.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err = %v, want GitHub's 401", err)
	}
	if strings.Contains(err.Error(), "ghs_") {
		t.Errorf("the token is in the error: %v", err)
	}
	mints, api, _ := f.snapshot()
	if mints[42] != 2 || len(api) != 2 {
		t.Errorf("%d mints and %d API calls, want 2 and 2 (one retry, no loop)", mints[42], len(api))
	}
}

func TestMintRefusedIsNamed(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	cl, _ := c.ForInstallation(999) // the fake does not know installation 999
	err := getRepo(t, cl)
	if err == nil || !strings.Contains(err.Error(), "installation 999") || !strings.Contains(err.Error(), "does not know the installation") {
		t.Fatalf("err = %v", err)
	}
	if _, api, _ := f.snapshot(); len(api) != 0 {
		t.Errorf("API called without a token: %+v", api)
	}
}

func TestForRepoLooksUpTheInstallationOnce(t *testing.T) {
	f := newFakeGitHub(t, "")
	f.set(func(f *fakeGitHub) { f.repoInst["acme/checkout"] = 42 })
	c := appClients(t, f, nil)
	for range 2 {
		cl, id, err := c.ForRepo(context.Background(), "acme/checkout")
		if err != nil {
			t.Fatal(err)
		}
		if id != 42 {
			t.Fatalf("installation %d, want 42", id)
		}
		if err := getRepo(t, cl); err != nil {
			t.Fatal(err)
		}
	}
	// GitHub's names are case-insensitive; so is the cache.
	if _, id, err := c.ForRepo(context.Background(), "ACME/Checkout"); err != nil || id != 42 {
		t.Fatalf("ForRepo(ACME/Checkout) = %d, %v", id, err)
	}
	mints, api, lookups := f.snapshot()
	if lookups != 1 || mints[42] != 1 || len(api) != 2 || api[0].auth != "Bearer ghs_42_1" {
		t.Errorf("lookups %d, mints %v, api %+v", lookups, mints, api)
	}
	f.noJWTErrors(t)
}

func TestForRepoNotInstalled(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	_, _, err := c.ForRepo(context.Background(), "acme/ghost")
	want := "the GitHub App (id 12345) is not installed on acme/ghost; install it on the repository or organisation"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, ErrNotInstalled) {
		t.Error("errors.Is(err, ErrNotInstalled) = false")
	}
	// Not cached: installing the App makes the next call work.
	f.set(func(f *fakeGitHub) { f.repoInst["acme/ghost"] = 7 })
	if _, id, err := c.ForRepo(context.Background(), "acme/ghost"); err != nil || id != 7 {
		t.Fatalf("after installing: %d, %v", id, err)
	}
	if _, _, err := c.ForRepo(context.Background(), "not-a-repo"); err == nil {
		t.Error("ForRepo accepted a name without owner/")
	}
}

func TestForRepoPinnedInstallation(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, func(o *ClientOptions) { o.InstallationID = 7 })
	cl, id, err := c.ForRepo(context.Background(), "acme/checkout")
	if err != nil || id != 7 {
		t.Fatalf("ForRepo = %d, %v", id, err)
	}
	if err := getRepo(t, cl); err != nil {
		t.Fatal(err)
	}
	if def, _ := c.ForInstallation(0); def != cl {
		t.Error("ForInstallation(0) is not the pinned installation")
	}
	mints, _, lookups := f.snapshot()
	if lookups != 0 || mints[7] != 1 {
		t.Errorf("lookups %d, mints %v", lookups, mints)
	}
}

func TestForInstallationNeedsAnID(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	if _, err := c.ForInstallation(0); err == nil || !strings.Contains(err.Error(), "github.installation_id") {
		t.Fatalf("err = %v, want one naming github.installation_id", err)
	}
}

func TestTokenMode(t *testing.T) {
	f := newFakeGitHub(t, "")
	c, err := NewClients(ClientOptions{Token: "ghp_test_token", APIURL: f.APIURL()})
	if err != nil {
		t.Fatal(err)
	}
	if c.IsApp() {
		t.Error("IsApp() = true with a token")
	}
	cl, err := c.ForInstallation(42)
	if err != nil {
		t.Fatal(err)
	}
	byRepo, id, err := c.ForRepo(context.Background(), "acme/checkout")
	if err != nil || id != 0 || byRepo != cl {
		t.Fatalf("ForRepo = %v, %d, %v", byRepo, id, err)
	}
	if err := getRepo(t, cl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.App(); err == nil {
		t.Error("App() worked in token mode")
	}
	if _, err := c.InstallationRepos(context.Background(), 42); err == nil {
		t.Error("InstallationRepos worked in token mode")
	}
	mints, api, _ := f.snapshot()
	if len(mints) != 0 || len(api) != 1 || api[0].auth != "Bearer ghp_test_token" {
		t.Errorf("mints %v, api %+v", mints, api)
	}
}

func TestEnterpriseBaseURL(t *testing.T) {
	f := newFakeGitHub(t, "/api/v3")
	// Without the trailing slash, as people write it.
	c := appClients(t, f, func(o *ClientOptions) { o.APIURL = strings.TrimSuffix(f.APIURL(), "/") })
	if got := c.BaseURL().String(); got != f.srv.URL+"/api/v3/" {
		t.Errorf("BaseURL() = %s", got)
	}
	cl, _ := c.ForInstallation(42)
	if err := getRepo(t, cl); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.mintPaths, []string{"/api/v3/app/installations/42/access_tokens"}) || len(f.stray) != 0 {
		t.Errorf("mints at %q, outside /api/v3: %q", f.mintPaths, f.stray)
	}
}

func TestInstallationsReposAndPermissions(t *testing.T) {
	f := newFakeGitHub(t, "")
	c := appClients(t, f, nil)
	ctx := context.Background()
	insts, err := c.Installations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, in := range insts {
		ids = append(ids, in.GetID())
	}
	if !slices.Equal(ids, []int64{42, 7}) {
		t.Errorf("installations %v, want [42 7] (two pages)", ids)
	}
	repos, err := c.InstallationRepos(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range repos {
		names = append(names, r.GetFullName())
	}
	if !slices.Equal(names, []string{"acme/checkout", "acme/payments"}) {
		t.Errorf("repositories %v (two pages)", names)
	}
	perms, err := c.Permissions(ctx, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(perms, ManifestPermissions()) {
		t.Errorf("permissions %v, want the manifest's %v", perms, ManifestPermissions())
	}
	f.noJWTErrors(t)
}

func TestNewClientsRefusesBadOptions(t *testing.T) {
	badKey := []byte("-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n")
	for name, o := range map[string]ClientOptions{
		"nothing":          {},
		"app without key":  {AppID: 1},
		"key without app":  {PrivateKey: testKeyPEM()},
		"unparsable key":   {AppID: 1, PrivateKey: badKey},
		"relative api_url": {Token: "x", APIURL: "api.github.com"},
	} {
		_, err := NewClients(o)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), "bm90IGEga2V5") {
			t.Errorf("%s: the key is in the error: %v", name, err)
		}
	}
	c, err := NewClients(ClientOptions{Token: "x"})
	if err != nil || c.BaseURL().String() != DefaultAPIURL {
		t.Errorf("default API URL: %v, %v", c, err)
	}
}

// A redirect to another host never carries the token there.
func TestClientRefusesCrossHostRedirects(t *testing.T) {
	var leaked atomic.Bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Store(true)
		}
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	}))
	defer api.Close()
	c, err := NewClients(ClientOptions{Token: "ghp_secret", APIURL: api.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.ForInstallation(0)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cl.Repositories.Get(context.Background(), "acme", "api")
	if err == nil || !strings.Contains(err.Error(), "refusing a redirect") {
		t.Fatalf("err = %v, want the redirect refused", err)
	}
	if leaked.Load() {
		t.Fatal("the token reached another host")
	}
}
