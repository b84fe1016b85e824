package github

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/syncer"
)

// Discovery finds services in GitHub organisations (catalog.github_discovery): it lists the
// repositories the App's installations (or the token) can see in those organisations and
// reads catalog-info.yaml at each root. What it read is remembered with its ETag, so a
// discovery of an unchanged organisation costs one 304 per repository.
type Discovery struct {
	Clients     *Clients
	Orgs        []string
	Concurrency int
	Log         *slog.Logger // nil: discarded

	mu    sync.Mutex
	files map[string]foundFile // by repository, lower-case
}

type foundFile struct {
	etag     string
	services []releaseops.Service
}

// Found is a repository discovery read, with the services its catalog-info.yaml declares.
type Found struct {
	Repo         string
	Installation int64
	Services     []releaseops.Service
}

// Find lists the organisations' repositories and their services. err is set only when the
// repositories cannot be listed: then nothing is known of what the organisations declare. A
// repository whose file cannot be read or parsed is reported in skipped, and what its last
// good read declared, if any, stands for it (a GitHub hiccup or a broken edit must not make a
// service vanish).
func (d *Discovery) Find(ctx context.Context) (found []Found, skipped []error, err error) {
	repos, err := d.repositories(ctx)
	if err != nil {
		return nil, nil, err
	}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	sem := make(chan struct{}, max(1, d.Concurrency))
	for _, r := range repos {
		sem <- struct{}{}
		wg.Add(1)
		go func(r repoRef) {
			defer func() { <-sem; wg.Done() }()
			svcs, err := d.read(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				skipped = append(skipped, err)
				svcs = d.lastGood(r.name)
			}
			if len(svcs) > 0 {
				found = append(found, Found{Repo: r.name, Installation: r.installation, Services: svcs})
			}
		}(r)
	}
	wg.Wait()
	found = d.dropSquatters(found, repos)
	sort.Slice(found, func(i, j int) bool { return found[i].Repo < found[j].Repo })
	sort.Slice(skipped, func(i, j int) bool { return skipped[i].Error() < skipped[j].Error() })
	return found, skipped, nil
}

// dropSquatters refuses a service named after another listed repository (a file in
// acme/sandbox naming itself "search" while acme/search exists): by convention that name is
// acme/search's, whose events and deploys would otherwise go to the squatter's entry.
func (d *Discovery) dropSquatters(found []Found, repos []repoRef) []Found {
	owner := map[string]string{} // convention name → the repository it comes from
	for _, r := range repos {
		owner[catalog.ConventionName(r.name)] = r.name
	}
	out := found[:0]
	for _, f := range found {
		kept := f.Services[:0]
		for _, s := range f.Services {
			if o, ok := owner[s.Name]; ok && !strings.EqualFold(o, f.Repo) {
				d.log().Warn("discovery: a catalog-info.yaml names a service after another repository; ignored",
					"repository", f.Repo, "service", s.Name, "belongs_to", o)
				continue
			}
			kept = append(kept, s)
		}
		if len(kept) > 0 {
			f.Services = kept
			out = append(out, f)
		}
	}
	return out
}

func (d *Discovery) lastGood(repo string) []releaseops.Service {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.files[strings.ToLower(repo)].services
}

func (d *Discovery) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

type repoRef struct {
	name         string
	installation int64
	client       *gh.Client
}

// repositories lists the non-archived repositories of the organisations: through every
// installation on one of them (App), or the organisation's repository list (token).
func (d *Discovery) repositories(ctx context.Context) ([]repoRef, error) {
	orgs := map[string]bool{}
	for _, o := range d.Orgs {
		orgs[strings.ToLower(o)] = true
	}
	var out []repoRef
	add := func(r *gh.Repository, inst int64, cl *gh.Client) {
		if r.GetArchived() || !orgs[strings.ToLower(r.GetOwner().GetLogin())] {
			return
		}
		out = append(out, repoRef{name: r.GetFullName(), installation: inst, client: cl})
	}
	if d.Clients.IsApp() {
		insts, err := d.Clients.Installations(ctx)
		if err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		seen := 0
		for _, in := range insts {
			if !orgs[strings.ToLower(in.GetAccount().GetLogin())] {
				continue
			}
			seen++
			cl, err := d.Clients.ForInstallation(in.GetID())
			if err != nil {
				return nil, fmt.Errorf("discovery: %w", err)
			}
			repos, err := d.Clients.InstallationRepos(ctx, in.GetID())
			if err != nil {
				return nil, fmt.Errorf("discovery: %w", err)
			}
			for _, r := range repos {
				add(r, in.GetID(), cl)
			}
		}
		if seen == 0 {
			return nil, fmt.Errorf("discovery: the GitHub App is not installed on %s (catalog.github_discovery.orgs); install it there", strings.Join(d.Orgs, ", "))
		}
		return out, nil
	}
	cl, err := d.Clients.ForInstallation(0)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	for _, org := range d.Orgs {
		opt := &gh.RepositoryListByOrgOptions{ListOptions: gh.ListOptions{PerPage: 100}}
		for {
			lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			page, resp, err := cl.Repositories.ListByOrg(lctx, org, opt)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("discovery: list the repositories of %s: %w", org, err)
			}
			for _, r := range page {
				add(r, 0, cl)
			}
			if resp.NextPage == 0 {
				break
			}
			opt.Page = resp.NextPage
		}
	}
	return out, nil
}

// read fetches catalog-info.yaml at the repository's root, conditionally.
func (d *Discovery) read(ctx context.Context, r repoRef) ([]releaseops.Service, error) {
	key := strings.ToLower(r.name)
	d.mu.Lock()
	prev, known := d.files[key]
	d.mu.Unlock()
	path := "repos/" + r.name + "/contents/catalog-info.yaml"
	req, err := r.client.NewRequest(http.MethodGet, path, nil)
	if err != nil {
		return nil, fmt.Errorf("discovery %s: %w", r.name, err)
	}
	if known && prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var file gh.RepositoryContent
	resp, err := r.client.Do(rctx, req, &file)
	if resp != nil {
		syncer.CountRequest(ctx, resp.StatusCode == http.StatusNotModified)
	}
	switch {
	case resp != nil && resp.StatusCode == http.StatusNotModified:
		return prev.services, nil
	case resp != nil && resp.StatusCode == http.StatusNotFound:
		d.remember(key, foundFile{etag: resp.Header.Get("ETag")})
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("discovery %s: GET /%s: %w", r.name, path, err)
	}
	content, err := file.GetContent() // decodes GitHub's base64
	if err != nil {
		return nil, fmt.Errorf("discovery %s: catalog-info.yaml content cannot be decoded: %w", r.name, err)
	}
	raw := []byte(content)
	origin := "github:" + r.name + "/catalog-info.yaml"
	svcs, err := catalog.ParseBackstage(raw, r.name+"/catalog-info.yaml", origin)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	for i := range svcs {
		// Anyone who can create a repository in the organisation can write this file: it
		// describes its own repository, never another one (whose webhooks, protection rule
		// requests and sync records would then be hers).
		if slug := svcs[i].Repo; slug != "" && !strings.EqualFold(slug, r.name) {
			d.log().Warn("discovery: github.com/project-slug names another repository; the entry describes the repository it was found in",
				"repo", r.name, "project_slug", slug, "service", svcs[i].Name)
		}
		svcs[i].Repo = r.name
	}
	d.remember(key, foundFile{etag: resp.Header.Get("ETag"), services: svcs})
	return svcs, nil
}

func (d *Discovery) remember(key string, f foundFile) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.files == nil {
		d.files = map[string]foundFile{}
	}
	d.files[key] = f
}
