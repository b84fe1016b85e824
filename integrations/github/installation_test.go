package github

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"
)

func TestInstallationRepos(t *testing.T) {
	created, err := os.ReadFile("testdata/installation/installation.created.json")
	if err != nil {
		t.Fatal(err)
	}
	added, err := os.ReadFile("testdata/installation/installation_repositories.added.json")
	if err != nil {
		t.Fatal(err)
	}
	jsonH := http.Header{"Content-Type": {"application/json"}}
	id, repos := InstallationRepos("installation", jsonH, created)
	if id != 42 || !slices.Equal(repos, []string{"acme/api", "acme/web"}) {
		t.Errorf("installation created: %d %v", id, repos)
	}
	id, repos = InstallationRepos("installation_repositories", jsonH, added)
	if id != 42 || !slices.Equal(repos, []string{"acme/billing"}) {
		t.Errorf("repositories added: %d %v", id, repos)
	}
	// Form-encoded deliveries carry the JSON in the payload field.
	form := []byte("payload=" + url.QueryEscape(string(added)))
	if _, repos = InstallationRepos("installation_repositories", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form); len(repos) != 1 {
		t.Errorf("form body: %v", repos)
	}
	if _, repos = InstallationRepos("push", jsonH, created); repos != nil {
		t.Errorf("push named repositories: %v", repos)
	}
	deleted := []byte(`{"action":"deleted","installation":{"id":42},"repositories":[{"full_name":"acme/api"}]}`)
	if _, repos = InstallationRepos("installation", jsonH, deleted); repos != nil {
		t.Errorf("an uninstall names no repository to read: %v", repos)
	}
}
