package bot

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-github/v62/github"
)

// NotesSource finds what changed between two commits of a repository.
type NotesSource interface {
	Changes(ctx context.Context, repo, base, head string) (*Changes, error)
	CompareURL(repo, base, head string) string
}

// NotesError says why the notes could not be had. Reason is shown in Slack; Err is logged.
type NotesError struct {
	Reason    string
	Retryable bool // a network error or a 5xx: worth another try before giving up
	Err       error
}

func (e *NotesError) Error() string {
	if e.Err == nil || e.Err.Error() == e.Reason {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}
func (e *NotesError) Unwrap() error { return e.Err }

// RepoClients gives the client that can read a repository: the installation of a GitHub
// App that covers it, or the one token client. *integrations/github.Clients implements it.
type RepoClients interface {
	ForRepo(ctx context.Context, repo string) (*github.Client, int64, error)
	BaseURL() *url.URL
}

// GitHubNotes reads release notes from the GitHub REST API: the compare of two commits, then
// the pull requests of each commit.
type GitHubNotes struct {
	client  *github.Client // one client for every repository (NewGitHubNotes)
	clients RepoClients    // or the client of each repository (NewGitHubNotesFrom)
	web     string
	// MaxCommits caps the commits read from the compare (one page).
	MaxCommits int
	// Concurrency bounds the parallel "pull requests of a commit" calls.
	Concurrency int
}

// NewGitHubNotes returns a source for the API at apiURL (https://api.github.com/ or a GitHub
// Enterprise /api/v3/), authenticated with token.
func NewGitHubNotes(token, apiURL string, hc *http.Client) (*GitHubNotes, error) {
	c := github.NewClient(hc)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		u, err := url.Parse(apiURL)
		if err != nil {
			return nil, fmt.Errorf("github.api_url: %w", err)
		}
		c.BaseURL = u
	}
	return &GitHubNotes{client: c, web: webBase(c.BaseURL), MaxCommits: 100, Concurrency: 4}, nil
}

// NewGitHubNotesFrom returns a source that reads each repository with the client clients
// give for it, so a GitHub App reads through the installation that covers the repository.
func NewGitHubNotesFrom(clients RepoClients) *GitHubNotes {
	return &GitHubNotes{clients: clients, web: webBase(clients.BaseURL()), MaxCommits: 100, Concurrency: 4}
}

// webBase derives the web address from the API address: api.github.com → github.com,
// https://ghe.example.com/api/v3/ → https://ghe.example.com/.
func webBase(api *url.URL) string {
	if api.Host == "api.github.com" {
		return "https://github.com/"
	}
	u := *api
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3") + "/"
	return u.String()
}

// CompareURL is the web page comparing two commits.
func (g *GitHubNotes) CompareURL(repo, base, head string) string {
	if repo == "" || head == "" {
		return ""
	}
	if base == "" {
		return g.web + repo + "/commit/" + url.PathEscape(head)
	}
	return g.web + repo + "/compare/" + url.PathEscape(base) + "..." + url.PathEscape(head)
}

// Changes returns the merged pull requests and the other commits in base..head.
func (g *GitHubNotes) Changes(ctx context.Context, repo, base, head string) (*Changes, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return nil, &NotesError{Reason: "the repository is not named org/name", Err: fmt.Errorf("repo %q", repo)}
	}
	client, err := g.clientFor(ctx, repo)
	if err != nil {
		return nil, err
	}
	cmp, _, err := client.Repositories.CompareCommits(ctx, owner, name, base, head, &github.ListOptions{PerPage: g.MaxCommits})
	if err != nil {
		return nil, notesError("compare the two commits", err)
	}
	commits := cmp.Commits
	if len(commits) > g.MaxCommits {
		commits = commits[:g.MaxCommits]
	}
	prsOf := make([][]*github.PullRequest, len(commits))
	errs := make([]error, len(commits))
	sem := make(chan struct{}, max(1, g.Concurrency))
	var wg sync.WaitGroup
	for i, c := range commits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			prsOf[i], _, errs[i] = client.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, c.GetSHA(), nil)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, notesError("list the pull requests of the commits", err)
	}
	out := &Changes{PullRequests: []PullRequestNote{}, Commits: []CommitNote{}, TotalCommits: cmp.GetTotalCommits(), Examined: len(commits), CompareURL: cmp.GetHTMLURL()}
	if out.TotalCommits < len(commits) {
		out.TotalCommits = len(commits)
	}
	seen := map[int]bool{}
	type merged struct {
		note PullRequestNote
		at   int64
	}
	var prs []merged
	for i, c := range commits {
		inPR := false
		for _, pr := range prsOf[i] {
			if pr.MergedAt == nil {
				continue // an open pull request that happens to contain the commit
			}
			inPR = true
			if seen[pr.GetNumber()] {
				continue
			}
			seen[pr.GetNumber()] = true
			n := PullRequestNote{Number: pr.GetNumber(), Title: pr.GetTitle(), Author: pr.GetUser().GetLogin(), URL: pr.GetHTMLURL()}
			for _, l := range pr.Labels {
				n.Labels = append(n.Labels, l.GetName())
			}
			prs = append(prs, merged{n, pr.MergedAt.UnixMilli()})
		}
		if inPR {
			continue
		}
		author := c.GetAuthor().GetLogin()
		if author == "" {
			author = c.GetCommit().GetAuthor().GetName()
		}
		out.Commits = append(out.Commits, CommitNote{SHA: c.GetSHA(), Message: c.GetCommit().GetMessage(), Author: author, URL: c.GetHTMLURL()})
	}
	sort.SliceStable(prs, func(i, j int) bool { return prs[i].at < prs[j].at })
	for _, p := range prs {
		out.PullRequests = append(out.PullRequests, p.note)
	}
	return out, nil
}

func (g *GitHubNotes) clientFor(ctx context.Context, repo string) (*github.Client, error) {
	if g.clients == nil {
		return g.client, nil
	}
	c, _, err := g.clients.ForRepo(ctx, repo)
	if err == nil {
		return c, nil
	}
	var ge *github.ErrorResponse
	var ne net.Error
	if errors.As(err, &ge) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return nil, notesError("find the GitHub App installation of the repository", err)
	}
	// A configuration problem (the App is not installed on the repository): its message says
	// what to do, so Slack shows it as it is, and trying again will not help.
	return nil, &NotesError{Reason: err.Error(), Err: err}
}

// notesError says in Slack's terms what went wrong; the details stay in Err for the log.
func notesError(doing string, err error) *NotesError {
	var ge *github.ErrorResponse
	var rl *github.RateLimitError
	var arl *github.AbuseRateLimitError
	var ne net.Error
	switch {
	case errors.As(err, &rl), errors.As(err, &arl):
		return &NotesError{Reason: "GitHub's rate limit was reached", Retryable: true, Err: err}
	case errors.As(err, &ge) && ge.Response != nil:
		switch code := ge.Response.StatusCode; {
		case code == http.StatusNotFound:
			return &NotesError{Reason: "GitHub does not know the repository or one of the commits", Err: err}
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return &NotesError{Reason: "GitHub refused the credentials (github.token, or the GitHub App installation, needs read access to contents and pull requests)", Err: err}
		case code >= 500:
			return &NotesError{Reason: "GitHub is failing", Retryable: true, Err: err}
		default:
			return &NotesError{Reason: fmt.Sprintf("GitHub answered HTTP %d to %s", code, doing), Err: err}
		}
	case errors.As(err, &ne), errors.Is(err, context.DeadlineExceeded):
		return &NotesError{Reason: "GitHub could not be reached", Retryable: true, Err: err}
	}
	return &NotesError{Reason: "GitHub could not be reached", Retryable: true, Err: err}
}
