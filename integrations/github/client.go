package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops/syncer"
)

// DefaultAPIURL is the API root of github.com.
const DefaultAPIURL = "https://api.github.com/"

// ClientOptions say how ReleaseOps authenticates to the GitHub REST API: a token, or a GitHub
// App (AppID and PrivateKey). An App wins when both are given, since only an App's
// installation token can answer deployment protection rules.
type ClientOptions struct {
	Token          string // personal or fine-grained token: the alternative to an App
	AppID          int64
	PrivateKey     []byte // PEM, PKCS#1 or PKCS#8 RSA
	InstallationID int64  // optional: pin one installation
	APIURL         string // "" = https://api.github.com/; GitHub Enterprise Server: https://HOST/api/v3/
	// Transport is the base transport under authentication; nil = http.DefaultTransport. It
	// stays the innermost layer, so whatever it does (rate limits, metrics) sees every
	// request, token mints included.
	Transport http.RoundTripper
	Timeout   time.Duration // per-request http.Client timeout; 0 = 30s
	Log       *slog.Logger
}

// ErrNotInstalled is matched (errors.Is) by the error ForRepo returns for a repository the
// App is not installed on.
var ErrNotInstalled = errors.New("github app not installed")

// NotInstalledError says the App cannot see a repository: GitHub answered 404 to
// GET /repos/{owner}/{repo}/installation.
type NotInstalledError struct {
	AppID int64
	Repo  string
}

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("the GitHub App (id %d) is not installed on %s; install it on the repository or organisation", e.AppID, e.Repo)
}

// Is makes errors.Is(err, ErrNotInstalled) true.
func (e *NotInstalledError) Is(target error) bool { return target == ErrNotInstalled }

// repoCacheTTL bounds how long a repository's installation is trusted: an App removed and
// installed again gets a new installation id, and the old one would fail every call.
const repoCacheTTL = time.Hour

// Clients hands out go-github clients authenticated the configured way. It is safe for
// concurrent use; clients are built once and reused.
type Clients struct {
	base    *url.URL
	timeout time.Duration
	log     *slog.Logger
	rt      http.RoundTripper // the base transport

	token *gh.Client // token mode

	appID          int64
	installationID int64
	apps           *ghinstallation.AppsTransport // signs the App JWT; shared by every installation
	app            *gh.Client                    // authenticated as the App (JWT)
	mintBase       string                        // where installation tokens are minted

	mu       sync.Mutex
	installs map[int64]*installation
	repos    map[string]repoInstallation
}

type installation struct {
	src    *ghinstallation.Transport // mints and caches this installation's token
	client *gh.Client
}

type repoInstallation struct {
	id int64
	at time.Time
}

// NewClients checks the options and builds the token client or the App's transports. It
// makes no network call.
func NewClients(o ClientOptions) (*Clients, error) {
	base, err := apiBase(o.APIURL)
	if err != nil {
		return nil, err
	}
	c := &Clients{base: base, timeout: o.Timeout, log: o.Log, rt: o.Transport}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.rt == nil {
		c.rt = http.DefaultTransport
	}
	hasKey := len(o.PrivateKey) > 0
	switch {
	case o.AppID < 0:
		return nil, fmt.Errorf("github.app_id must be positive, got %d", o.AppID)
	case o.AppID != 0 && !hasKey:
		return nil, errors.New("github.app_id is set without github.private_key")
	case o.AppID == 0 && hasKey:
		return nil, errors.New("github.private_key is set without github.app_id")
	case o.AppID == 0 && o.Token == "":
		return nil, errors.New("no GitHub API credentials: set github.app_id and github.private_key, or github.token")
	case o.AppID == 0:
		c.token = c.newClient(c.rt).WithAuthToken(o.Token)
		c.token.BaseURL = c.BaseURL()
		return c, nil
	}
	apps, err := ghinstallation.NewAppsTransport(c.rt, o.AppID, o.PrivateKey)
	if err != nil {
		// The library's message names the expected format, never the key's bytes.
		return nil, fmt.Errorf("github.private_key: %w", err)
	}
	c.appID, c.installationID, c.apps = o.AppID, o.InstallationID, apps
	// ghinstallation wants the API root without the trailing slash: https://api.github.com,
	// or https://HOST/api/v3 on Enterprise Server.
	c.mintBase = strings.TrimSuffix(base.String(), "/")
	apps.BaseURL = c.mintBase
	c.app = c.newClient(apps)
	c.installs = map[int64]*installation{}
	c.repos = map[string]repoInstallation{}
	return c, nil
}

func apiBase(raw string) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("github.api_url %q: %w", raw, err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("github.api_url %q: want an absolute http(s) URL such as %s or https://HOST/api/v3/", raw, DefaultAPIURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func (c *Clients) newClient(rt http.RoundTripper) *gh.Client {
	host := c.base.Host
	g := gh.NewClient(&http.Client{Transport: rt, Timeout: c.timeout,
		// The token is set inside the transport, below the client's redirect handling, so Go's
		// own stripping of credentials on a cross-host redirect never applies: refuse those.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !strings.EqualFold(req.URL.Host, host) {
				return fmt.Errorf("refusing a redirect from the GitHub API to %s: credentials stay with %s", req.URL.Host, host)
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		}})
	g.BaseURL = c.BaseURL()
	return g
}

// IsApp reports whether the clients authenticate as a GitHub App.
func (c *Clients) IsApp() bool { return c.apps != nil }

// RateLimit is the latest rate-limit reading of the base transport, when it keeps one
// (NewRateLimitTransport does).
func (c *Clients) RateLimit() syncer.RateLimit {
	if rl, ok := c.rt.(syncer.RateLimiter); ok {
		return rl.RateLimit()
	}
	return syncer.RateLimit{}
}

// BaseURL returns a copy of the API root, with its trailing slash.
func (c *Clients) BaseURL() *url.URL {
	u := *c.base
	return &u
}

// ForInstallation returns a client authenticated as installation id (App mode). id 0 means
// the configured github.installation_id. In token mode it returns the token client whatever
// id is. No call is made here: the token is minted on first use.
func (c *Clients) ForInstallation(id int64) (*gh.Client, error) {
	if c.token != nil {
		return c.token, nil
	}
	if id == 0 {
		id = c.installationID
	}
	if id <= 0 {
		return nil, fmt.Errorf("no GitHub App installation to act as: the request names none and github.installation_id is not set")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	in, ok := c.installs[id]
	if !ok {
		in = &installation{src: c.newSource(id)}
		in.client = c.newClient(&installTransport{c: c, id: id})
		c.installs[id] = in
	}
	return in.client, nil
}

// newSource returns a fresh token source for one installation. Each gets its own copy of
// the AppsTransport: ghinstallation writes BaseURL and Client on it when minting, and one
// shared value would race between installations minting at once.
func (c *Clients) newSource(id int64) *ghinstallation.Transport {
	apps := *c.apps
	src := ghinstallation.NewFromAppsTransport(&apps, id)
	src.BaseURL = c.mintBase
	src.Client = &http.Client{Transport: c.rt, Timeout: c.timeout}
	return src
}

// ForRepo returns a client that can read repo ("owner/name") and the installation id it
// acts as (0 in token mode). In App mode that is github.installation_id when set, else the
// repository's installation, asked of GitHub with the App JWT and cached.
func (c *Clients) ForRepo(ctx context.Context, repo string) (*gh.Client, int64, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, 0, fmt.Errorf("repository %q is not named owner/name", repo)
	}
	if c.token != nil {
		return c.token, 0, nil
	}
	if c.installationID != 0 {
		cl, err := c.ForInstallation(c.installationID)
		return cl, c.installationID, err
	}
	key := strings.ToLower(repo)
	c.mu.Lock()
	e, hit := c.repos[key]
	c.mu.Unlock()
	if hit && time.Since(e.at) < repoCacheTTL {
		cl, err := c.ForInstallation(e.id)
		return cl, e.id, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	inst, resp, err := c.app.Apps.FindRepositoryInstallation(ctx, owner, name)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return nil, 0, &NotInstalledError{AppID: c.appID, Repo: repo}
		}
		return nil, 0, fmt.Errorf("find the GitHub App installation of %s: %w", repo, appAuthHint(resp, err))
	}
	id := inst.GetID()
	if id <= 0 {
		return nil, 0, fmt.Errorf("find the GitHub App installation of %s: GitHub answered without an installation id", repo)
	}
	c.mu.Lock()
	c.repos[key] = repoInstallation{id: id, at: time.Now()}
	c.mu.Unlock()
	c.log.Debug("github app installation found", "repo", repo, "installation", id)
	cl, err := c.ForInstallation(id)
	return cl, id, err
}

// forgetInstallation drops the repositories cached as seen through an installation GitHub
// no longer knows, so the next ForRepo asks again.
func (c *Clients) forgetInstallation(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.repos {
		if e.id == id {
			delete(c.repos, k)
		}
	}
}

// App returns a client authenticated as the App itself (a JWT), for the /app endpoints.
func (c *Clients) App() (*gh.Client, error) {
	if c.app == nil {
		return nil, errors.New("GitHub App endpoints need github.app_id and github.private_key; a token cannot act as an App")
	}
	return c.app, nil
}

// appAuthHint names the likely configuration mistake when GitHub refuses the App JWT.
func appAuthHint(resp *gh.Response, err error) error {
	if resp != nil && resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("GitHub refused the App's JWT (check github.app_id and github.private_key): %w", err)
	}
	return err
}
