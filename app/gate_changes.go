package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/storage"
)

// Bounds of the lookups: the request is composed just before the gate's transaction (and
// inside a vote's), so the work is kept small and fixed however long the service's history.
const (
	deployLookup = 200 // recent deploy facts searched for the last production deploy
	prLookup     = 50  // recent merged pull requests considered
)

// pendingChanges lists the pull requests merged since the service's last successful
// production deploy, newest first, from the stored GitHub events: what the deploy asking for
// approval would ship. It reads only what webhooks already delivered, so the approval request
// never waits on GitHub.
func pendingChanges(ctx context.Context, db *storage.DB, service string, now time.Time) ([]bot.Change, error) {
	// Both reads at once: one round trip on PostgreSQL.
	recent, err := db.RecentFactsOfKinds(ctx, service, now.Add(time.Millisecond),
		storage.RecentKind{Kind: releaseops.FactDeploy, Limit: deployLookup}, storage.RecentKind{Kind: releaseops.FactPullRequest, Limit: prLookup})
	if err != nil {
		return nil, err
	}
	deploys, prs := recent[0], recent[1]
	var lastDeploy time.Time
	for _, f := range deploys {
		d := f.Deploy
		if d == nil || d.Status != releaseops.DeploySucceeded || (d.Kind != "" && d.Kind != releaseops.KindDeploy) {
			continue
		}
		if env := strings.ToLower(d.Environment); env == "production" || env == "prod" {
			lastDeploy = f.At // newest first: the first match is the last deploy
			break
		}
	}
	var out []bot.Change
	seen := map[string]bool{}
	for _, f := range prs {
		pr := f.PullRequest
		if pr == nil || !pr.MergedAt.After(lastDeploy) {
			continue
		}
		key := fmt.Sprintf("%s#%d", pr.Repo, pr.Number)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, bot.Change{Number: pr.Number, Title: pr.Title, Author: pr.Author, URL: pr.URL})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out, nil
}
