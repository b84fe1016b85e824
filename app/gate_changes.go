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

// changeLookback bounds how far back the approval request looks for the last production
// deploy and the pull requests merged since.
const changeLookback = 90 * 24 * time.Hour

// pendingChanges lists the pull requests merged since the service's last successful
// production deploy, newest first, from the stored GitHub events: what the deploy asking for
// approval would ship. It reads only what webhooks already delivered, so the approval request
// never waits on GitHub.
func pendingChanges(ctx context.Context, db *storage.DB, service string, now time.Time) ([]bot.Change, error) {
	facts, err := db.FactsForService(ctx, service, now.Add(-changeLookback))
	if err != nil {
		return nil, err
	}
	var lastDeploy time.Time
	for _, f := range facts {
		d := f.Deploy
		if f.Kind != releaseops.FactDeploy || d == nil || d.Status != releaseops.DeploySucceeded || (d.Kind != "" && d.Kind != releaseops.KindDeploy) {
			continue
		}
		if env := strings.ToLower(d.Environment); (env == "production" || env == "prod") && f.At.After(lastDeploy) {
			lastDeploy = f.At
		}
	}
	var out []bot.Change
	seen := map[string]bool{}
	for _, f := range facts {
		pr := f.PullRequest
		if f.Kind != releaseops.FactPullRequest || pr == nil || !pr.MergedAt.After(lastDeploy) {
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
