package github

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v62/github"
)

// installTransport authenticates API calls as one installation. It takes the token from the
// installation's ghinstallation.Transport (which mints it with the App JWT and caches it
// until a minute before expires_at) rather than using that transport's RoundTrip, so that a
// 401 can be told apart from a failed mint and answered by minting again.
type installTransport struct {
	c  *Clients
	id int64
}

func (t *installTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	src := t.c.source(t.id)
	resp, err := t.send(src, req, req.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// GitHub revoked the token early (the installation's permissions changed, or it was
	// revoked by hand). Once: a second 401 means the installation itself is refused, and
	// looping would only spend the rate limit.
	body, ok := replayBody(req)
	if !ok {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	t.c.log.Warn("GitHub refused an installation token; minting a new one and retrying once",
		"installation", t.id, "method", req.Method, "path", req.URL.Path)
	return t.send(t.c.resetSource(t.id, src), req, body)
}

func (t *installTransport) send(src *ghinstallation.Transport, req *http.Request, body io.ReadCloser) (*http.Response, error) {
	token, err := src.Token(req.Context())
	if err != nil {
		if body != nil {
			body.Close()
		}
		var he *ghinstallation.HTTPError
		if errors.As(err, &he) && he.Response != nil && he.Response.StatusCode == http.StatusNotFound {
			t.c.forgetInstallation(t.id)
		}
		return nil, mintError(t.id, err)
	}
	out := req.Clone(req.Context())
	out.Body = body
	out.Header.Set("Authorization", "Bearer "+token)
	return t.c.rt.RoundTrip(out)
}

// replayBody returns a fresh copy of the request body for a retry, and whether there is one.
func replayBody(req *http.Request) (io.ReadCloser, bool) {
	if req.Body == nil || req.Body == http.NoBody {
		return req.Body, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	b, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	return b, true
}

// mintError says why no installation token could be had, in configuration terms. The token
// never appears: the mint failed, and ghinstallation's messages carry the URL and status.
func mintError(id int64, err error) error {
	var he *ghinstallation.HTTPError
	if errors.As(err, &he) && he.Response != nil {
		switch he.Response.StatusCode {
		case http.StatusUnauthorized:
			return fmt.Errorf("mint a token for GitHub App installation %d: GitHub refused the App's JWT (check github.app_id and github.private_key): %w", id, err)
		case http.StatusNotFound:
			return fmt.Errorf("mint a token for GitHub App installation %d: GitHub does not know the installation (the App was uninstalled, or github.installation_id is wrong): %w", id, err)
		}
	}
	return fmt.Errorf("mint a token for GitHub App installation %d: %w", id, err)
}

func (c *Clients) source(id int64) *ghinstallation.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.installs[id].src
}

// resetSource discards the cached token of an installation by replacing its source, unless
// a concurrent 401 already did: requests refused together mint one new token.
func (c *Clients) resetSource(id int64, stale *ghinstallation.Transport) *ghinstallation.Transport {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := c.installs[id]
	if in.src == stale {
		in.src = c.newSource(id)
	}
	return in.src
}

// Installations lists the App's installations, every page.
func (c *Clients) Installations(ctx context.Context) ([]*gh.Installation, error) {
	app, err := c.App()
	if err != nil {
		return nil, err
	}
	var out []*gh.Installation
	opt := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.listInstallations(ctx, app, opt)
		if err != nil {
			return nil, fmt.Errorf("list the GitHub App's installations: %w", appAuthHint(resp, err))
		}
		out = append(out, page...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

func (c *Clients) listInstallations(ctx context.Context, app *gh.Client, opt *gh.ListOptions) ([]*gh.Installation, *gh.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return app.Apps.ListInstallations(ctx, opt)
}

// InstallationRepos lists the repositories one installation can see
// (GET /installation/repositories), every page. id 0 means github.installation_id.
func (c *Clients) InstallationRepos(ctx context.Context, id int64) ([]*gh.Repository, error) {
	if !c.IsApp() {
		return nil, errors.New("listing an installation's repositories needs a GitHub App (github.app_id and github.private_key)")
	}
	cl, err := c.ForInstallation(id)
	if err != nil {
		return nil, err
	}
	var out []*gh.Repository
	opt := &gh.ListOptions{PerPage: 100}
	for {
		page, resp, err := c.listRepos(ctx, cl, opt)
		if err != nil {
			return nil, fmt.Errorf("list the repositories of GitHub App installation %d: %w", id, err)
		}
		out = append(out, page.Repositories...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opt.Page = resp.NextPage
	}
}

func (c *Clients) listRepos(ctx context.Context, cl *gh.Client, opt *gh.ListOptions) (*gh.ListRepositories, *gh.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return cl.Apps.ListRepos(ctx, opt)
}

// Permissions returns the permissions granted to an installation (GET
// /app/installations/{id}), keyed as GitHub names them ("contents": "read"), to compare
// with ManifestPermissions. It decodes a plain map rather than go-github's struct so that a
// permission newer than go-github v62 is not dropped. id 0 means github.installation_id.
func (c *Clients) Permissions(ctx context.Context, id int64) (map[string]string, error) {
	app, err := c.App()
	if err != nil {
		return nil, err
	}
	if id == 0 {
		id = c.installationID
	}
	if id <= 0 {
		return nil, errors.New("no GitHub App installation named and github.installation_id is not set")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := app.NewRequest(http.MethodGet, fmt.Sprintf("app/installations/%d", id), nil)
	if err != nil {
		return nil, fmt.Errorf("build the installation request: %w", err)
	}
	var v struct {
		Permissions map[string]string `json:"permissions"`
	}
	if resp, err := app.Do(ctx, req, &v); err != nil {
		return nil, fmt.Errorf("read the permissions of GitHub App installation %d: %w", id, appAuthHint(resp, err))
	}
	if v.Permissions == nil {
		v.Permissions = map[string]string{}
	}
	return v.Permissions, nil
}
