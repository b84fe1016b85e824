package github

import (
	"encoding/json"
	"net/http"
)

// InstallationRepos returns the repositories a GitHub App installation event names as newly
// readable: all of them for installation "created" (or "new_permissions_accepted" and
// "unsuspend", after which reads that failed succeed again), the added ones for
// installation_repositories "added". Other events and actions name none. The body is a
// verified delivery's.
func InstallationRepos(event string, h http.Header, body []byte) (installation int64, repos []string) {
	if event != "installation" && event != "installation_repositories" {
		return 0, nil
	}
	payload, err := payloadOf(h.Get("Content-Type"), body)
	if err != nil {
		return 0, nil
	}
	type repo struct {
		FullName string `json:"full_name"`
	}
	var ev struct {
		Action       string `json:"action"`
		Installation struct {
			ID int64 `json:"id"`
		} `json:"installation"`
		Repositories      []repo `json:"repositories"`
		RepositoriesAdded []repo `json:"repositories_added"`
	}
	if json.Unmarshal(payload, &ev) != nil {
		return 0, nil
	}
	var list []repo
	switch {
	case event == "installation" && (ev.Action == "created" || ev.Action == "new_permissions_accepted" || ev.Action == "unsuspend"):
		list = ev.Repositories
	case event == "installation_repositories" && ev.Action == "added":
		list = ev.RepositoriesAdded
	}
	for _, r := range list {
		if r.FullName != "" {
			repos = append(repos, r.FullName)
		}
	}
	return ev.Installation.ID, repos
}
