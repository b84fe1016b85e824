package bot

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-github/v62/github"
)

// repoClients stands in for integrations/github.Clients in App mode: a client per repository.
type repoClients struct {
	base  *url.URL
	mu    sync.Mutex
	asked []string
}

func (r *repoClients) BaseURL() *url.URL { u := *r.base; return &u }

func (r *repoClients) ForRepo(_ context.Context, repo string) (*github.Client, int64, error) {
	r.mu.Lock()
	r.asked = append(r.asked, repo)
	r.mu.Unlock()
	if repo != "acme/checkout" {
		return nil, 0, errors.New("the GitHub App (id 1) is not installed on " + repo + "; install it on the repository or organisation")
	}
	c := github.NewClient(nil).WithAuthToken("ghp-test")
	c.BaseURL = r.BaseURL()
	return c, 42, nil
}

func TestGitHubNotesFromRepoClients(t *testing.T) {
	gh := newFakeGitHub(t)
	base, _ := url.Parse(gh.srv.URL + "/api/v3/")
	clients := &repoClients{base: base}
	notes := NewGitHubNotesFrom(clients)
	ch, err := notes.Changes(context.Background(), "acme/checkout", prevSHA, headSHA)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.PullRequests) != 2 || ch.PullRequests[0].Number != 101 || len(ch.Commits) != 1 {
		t.Errorf("changes %+v", ch)
	}
	if len(clients.asked) != 1 || clients.asked[0] != "acme/checkout" {
		t.Errorf("clients asked for %v, want the repository once per Changes", clients.asked)
	}
	if got, want := notes.CompareURL("acme/checkout", "a", "b"), gh.srv.URL+"/acme/checkout/compare/a...b"; got != want {
		t.Errorf("CompareURL = %s, want %s", got, want)
	}

	_, err = notes.Changes(context.Background(), "acme/ghost", prevSHA, headSHA)
	var ne *NotesError
	if !errors.As(err, &ne) || ne.Retryable || !strings.Contains(ne.Reason, "not installed on acme/ghost") {
		t.Fatalf("err = %#v, want a final NotesError saying the App is not installed", err)
	}
	if strings.Count(ne.Error(), "not installed") != 1 {
		t.Errorf("Error() repeats itself: %s", ne.Error())
	}
}
