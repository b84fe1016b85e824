package github

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// pullsMemo records the merged pull requests already read, so that their reviews are not
// read again while they do not change.
type pullsMemo struct {
	PRs map[int]pullMemo `json:"prs,omitempty"`
	// Newest is the latest updated_at of the last walk, in GitHub's clock: a pull request
	// changed since then has a later one, so the walk stops at the first older than it.
	Newest time.Time `json:"newest,omitempty"`
}

type pullMemo struct {
	Updated time.Time `json:"u"`
	Merged  time.Time `json:"m"`
}

// readPulls reads the pull requests merged into the default branch within the window, with
// their reviews: one observation per pull request that is new or changed since last time.
//
// Closed pull requests are listed most recently updated first, and any change to one (a
// merge, a review, a label) bumps its updated_at to the top. So a 304 on the first page
// means nothing changed, and the walk stops at the first pull request updated before the
// window, or before the newest one the last walk saw: everything after it is older still,
// and was read then.
func (r *repoRead) readPulls(ctx context.Context) ([]syncer.Observation, error) {
	next := &pullsMemo{PRs: map[int]pullMemo{}}
	var seen time.Time // the last walk's newest
	if old := r.old.Pulls; old != nil {
		for n, m := range old.PRs {
			if !m.Merged.Before(r.cutoff) {
				next.PRs[n] = m
			}
		}
		seen, next.Newest = old.Newest, old.Newest
	}
	r.next.Pulls = next
	if r.branch == "" {
		return nil, nil
	}
	q := url.Values{"state": {"closed"}, "base": {r.branch}, "sort": {"updated"}, "direction": {"desc"}, "per_page": {"100"}}
	first, err := r.f.get(ctx, r.base()+"/pulls?"+q.Encode(), getOpts{keep: true, conditional: r.old.Pulls != nil})
	if err != nil || first.notModified() {
		return nil, err
	}

	type change struct {
		pr   *gh.PullRequest
		item syncer.Request
	}
	var changed []change
	_, err = r.f.list(ctx, first, func(page *fetched, items []json.RawMessage) (bool, error) {
		for _, raw := range items {
			pr := new(gh.PullRequest)
			if err := r.f.decode(page, raw, pr); err != nil {
				return false, err
			}
			updated := at(pr.GetUpdatedAt())
			if updated.Before(r.cutoff) || updated.Before(seen) {
				return false, nil
			}
			if updated.After(next.Newest) {
				next.Newest = updated
			}
			merged := at(pr.GetMergedAt()) // the list has no "merged" flag; merged_at says it
			if merged.IsZero() || merged.Before(r.cutoff) {
				continue
			}
			if m, ok := next.PRs[pr.GetNumber()]; ok && m.Updated.Equal(updated) {
				continue
			}
			// The item alone, not the page: a page of 100 pull requests is megabytes.
			changed = append(changed, change{pr: pr, item: syncer.Request{Path: page.Path, Status: page.Status,
				FetchedAt: page.FetchedAt, Response: raw}})
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}

	obs := make([]syncer.Observation, len(changed))
	fns := make([]func(context.Context) error, len(changed))
	for i, c := range changed {
		fns[i] = func(ctx context.Context) error {
			reviews, calls, err := r.readReviews(ctx, c.pr.GetNumber())
			if err != nil {
				return err
			}
			o := syncer.Observation{Key: "pull:" + strconv.Itoa(c.pr.GetNumber()), Requests: []syncer.Request{c.item}}
			for _, call := range calls {
				o.Requests = append(o.Requests, call.request())
			}
			o.Facts = append([]releaseops.Fact{r.pullFact(c.pr)}, reviews...)
			obs[i] = o
			return nil
		}
	}
	if err := runAll(ctx, fns...); err != nil {
		return nil, err
	}
	for _, c := range changed {
		next.PRs[c.pr.GetNumber()] = pullMemo{Updated: at(c.pr.GetUpdatedAt()), Merged: at(c.pr.GetMergedAt())}
	}
	return obs, nil
}

// pullFact builds the merged pull request as the pull_request webhook parser does. The list
// does not carry merged_by, so MergedBy stays empty.
func (r *repoRead) pullFact(pr *gh.PullRequest) releaseops.Fact {
	mergedAt := firstTime(pr.GetMergedAt(), pr.GetClosedAt(), pr.GetUpdatedAt())
	var labels []string
	for _, l := range pr.Labels {
		if l.GetName() != "" {
			labels = append(labels, l.GetName())
		}
	}
	return releaseops.Fact{Kind: releaseops.FactPullRequest, At: mergedAt, PullRequest: &releaseops.PullRequest{
		Repo:           r.fullName,
		Number:         pr.GetNumber(),
		Title:          pr.GetTitle(),
		Author:         pr.GetUser().GetLogin(),
		MergedBy:       pr.GetMergedBy().GetLogin(),
		MergedAt:       mergedAt,
		MergeCommitSHA: pr.GetMergeCommitSHA(),
		BaseRef:        pr.GetBase().GetRef(),
		Labels:         labels,
		URL:            pr.GetHTMLURL(),
	}}
}

// readReviews reads every submitted review of a pull request. The REST API spells states in
// upper case; facts use the webhooks' lower case. Pending reviews are not submitted yet.
func (r *repoRead) readReviews(ctx context.Context, number int) ([]releaseops.Fact, []*fetched, error) {
	first, err := r.f.get(ctx, r.base()+"/pulls/"+strconv.Itoa(number)+"/reviews?per_page=100", getOpts{})
	if err != nil {
		return nil, nil, err
	}
	var facts []releaseops.Fact
	calls, err := r.f.list(ctx, first, func(page *fetched, items []json.RawMessage) (bool, error) {
		for _, raw := range items {
			var rv gh.PullRequestReview
			if err := r.f.decode(page, raw, &rv); err != nil {
				return false, err
			}
			state := strings.ToLower(rv.GetState())
			if state == "" || state == "pending" {
				continue
			}
			facts = append(facts, releaseops.Fact{Kind: releaseops.FactReview, At: at(rv.GetSubmittedAt()), Review: &releaseops.Review{
				Repo:     r.fullName,
				PRNumber: number,
				Reviewer: rv.GetUser().GetLogin(),
				State:    state,
				Action:   "submitted",
			}})
		}
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return facts, calls, nil
}
