package github

import (
	"context"
	"fmt"
	"strings"

	"github.com/releaseops/releaseops/risk"
)

// Comparer reads the size of a change between two commits from GitHub's compare API, for the
// release risk (change size). *Clients gives it its clients.
type Comparer struct {
	Clients ClientSource
}

// Compare returns the diff from base to head in repo ("owner/name"). GitHub lists at most 300
// files in one compare; a bigger change is reported as its first 300, which is already the
// top of the risk scale.
func (c Comparer) Compare(ctx context.Context, repo, base, head string) (*risk.Change, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return nil, fmt.Errorf("compare %s: want owner/name", repo)
	}
	cl, _, err := c.Clients.ForRepo(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("compare %s %s...%s: %w", repo, short(base), short(head), err)
	}
	cmp, _, err := cl.Repositories.CompareCommits(ctx, owner, name, base, head, nil)
	if err != nil {
		return nil, fmt.Errorf("compare %s %s...%s: %w", repo, short(base), short(head), err)
	}
	ch := &risk.Change{Base: base, Head: head, Files: len(cmp.Files), Commits: cmp.GetTotalCommits(), URL: cmp.GetHTMLURL()}
	for _, f := range cmp.Files {
		ch.Additions += f.GetAdditions()
		ch.Deletions += f.GetDeletions()
	}
	return ch, nil
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
