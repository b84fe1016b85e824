package github

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

type repoMemo struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	Archived      bool   `json:"archived,omitempty"`
}

// branchMemo is what the default branch's calls said last time, normalised, so that the
// "branch" observation can be rebuilt when only some of them changed.
//
// Memory from before the branch itself was read has no Tree, nor the other fields its
// answer decides; a missing field only means asking again, so the memory version stays.
type branchMemo struct {
	Branch string `json:"branch"`
	// Protected is the branch's "protected": classic protection or an active ruleset.
	Protected bool                         `json:"protected,omitempty"`
	Classic   *releaseops.BranchProtection `json:"classic,omitempty"` // nil: not protected
	// NoClassic is when the protection call last said 404 although the branch is protected
	// (by rulesets only); zero when it was not asked or answered otherwise.
	NoClassic time.Time            `json:"no_classic,omitzero"`
	Rulesets  []releaseops.Ruleset `json:"rulesets,omitempty"`
	RulePages int                  `json:"rule_pages,omitempty"`
	// Tree is the root tree of the branch head that CODEOWNERS was looked for in; Dirs are
	// the subtrees read for it, by name.
	Tree       string             `json:"tree,omitempty"`
	Dirs       map[string]dirMemo `json:"dirs,omitempty"`
	Codeowners map[string]bool    `json:"codeowners,omitempty"` // path looked for → present
}

// readRepo reads GET /repos/{owner}/{repo}: the canonical name and the default branch.
func (r *repoRead) readRepo(ctx context.Context) error {
	resp, err := r.f.get(ctx, r.base(), getOpts{keep: true, conditional: r.old.Repo != nil})
	if err != nil {
		return err
	}
	r.repoCall = resp
	if resp.notModified() {
		r.next.Repo = r.old.Repo
	} else {
		var repo gh.Repository
		if err := r.f.decode(resp, resp.Body, &repo); err != nil {
			return err
		}
		r.next.Repo = &repoMemo{
			FullName:      firstNonEmpty(repo.GetFullName(), r.f.subject),
			DefaultBranch: repo.GetDefaultBranch(),
			Archived:      repo.GetArchived(),
		}
		if !strings.EqualFold(r.next.Repo.FullName, r.f.subject) {
			// GitHub follows renames and transfers with a redirect; the catalog still names
			// the old one, and webhooks will name the new one.
			r.s.log().Warn("github sync: repository answers under another name; update the catalog",
				"repo", r.f.subject, "now", r.next.Repo.FullName)
		}
	}
	// Facts name the repository as GitHub spells it, as webhooks do, so that a pull request
	// seen by both is one pull request to scoring.
	r.fullName, r.branch = r.next.Repo.FullName, r.next.Repo.DefaultBranch
	return nil
}

// readBranch reads the default branch's classic protection, the active rules that apply to
// it, and which CODEOWNERS file GitHub uses, into one RepoState.
func (r *repoRead) readBranch(ctx context.Context) ([]syncer.Observation, error) {
	old := r.old.Branch
	if old != nil && old.Branch != r.branch {
		old = nil // a renamed default branch: nothing kept is about this one
	}
	next := &branchMemo{Branch: r.branch, Codeowners: map[string]bool{}}
	var headCalls, rulesCall []*fetched
	if r.branch != "" {
		err := runAll(ctx,
			func(ctx context.Context) (err error) { headCalls, err = r.readHead(ctx, old, next); return },
			func(ctx context.Context) (err error) { rulesCall, err = r.readRules(ctx, old, next); return },
		)
		if err != nil {
			return nil, err
		}
	}
	r.next.Branch = next

	state := repoState(r.next.Repo, next)
	if r.old.Repo != nil && r.old.Branch != nil && sameJSON(state, repoState(r.old.Repo, r.old.Branch)) {
		return nil, nil // every call said 304, or said again what it said last time
	}
	calls := slices.Concat(headCalls, rulesCall, []*fetched{r.repoCall})
	obs := syncer.Observation{Key: "branch"}
	var at time.Time
	for _, c := range calls {
		obs.Requests = append(obs.Requests, c.request())
		if c.FetchedAt.After(at) {
			at = c.FetchedAt
		}
	}
	obs.Facts = []releaseops.Fact{{Kind: releaseops.FactRepoState, At: at, RepoState: &state}}
	return []syncer.Observation{obs}, nil
}

func (r *repoRead) branchPath() string {
	return r.base() + "/branches/" + url.PathEscape(r.branch)
}

// readHead reads the branch itself, then what it decides: its "protected" says whether a
// classic protection can exist, and its head commit names the root tree CODEOWNERS is
// looked for in. Its ETag covers both, so a 304 says neither changed.
func (r *repoRead) readHead(ctx context.Context, old, next *branchMemo) ([]*fetched, error) {
	resp, err := r.f.get(ctx, r.branchPath(), getOpts{keep: true, conditional: old != nil && old.Tree != "", allow: []int{http.StatusNotFound}})
	if err != nil {
		return nil, err
	}
	tree := ""
	switch resp.Status {
	case http.StatusNotFound:
		// An empty repository names a default branch that has no commit yet: nothing to
		// protect, no file to own.
		return []*fetched{resp}, nil
	case http.StatusNotModified:
		next.Protected, tree = old.Protected, old.Tree
	default:
		var b gh.Branch
		if err := r.f.decode(resp, resp.Body, &b); err != nil {
			return nil, err
		}
		next.Protected = b.GetProtected()
		// GitHub's trees call also takes a ref, should an answer ever omit the tree.
		tree = firstNonEmpty(b.GetCommit().GetCommit().GetTree().GetSHA(), r.branch)
	}
	var protCalls, treeCalls []*fetched
	err = runAll(ctx,
		func(ctx context.Context) (err error) {
			protCalls, err = r.readProtection(ctx, old, next, resp.notModified())
			return
		},
		func(ctx context.Context) (err error) { treeCalls, err = r.readCodeowners(ctx, old, next, tree); return },
	)
	if err != nil {
		return nil, err
	}
	return slices.Concat([]*fetched{resp}, protCalls, treeCalls), nil
}

// readProtection reads the classic branch protection of a protected branch; 404 ("Branch
// not protected") is none. GitHub's "protected" is true for rulesets too, and a branch
// protected by rulesets alone answers 404 every time, without an ETag. While the branch
// answers 304 that 404 is believed for recheckAbsent: the flag is in the branch's answer,
// whose ETag changes when it flips, but a classic protection added where a ruleset already
// protects leaves it true, and GitHub does not document what else would change then.
func (r *repoRead) readProtection(ctx context.Context, old, next *branchMemo, branchUnchanged bool) ([]*fetched, error) {
	if !next.Protected {
		return nil, nil
	}
	if branchUnchanged && old.Classic == nil && !old.NoClassic.IsZero() && r.now.Sub(old.NoClassic) < recheckAbsent {
		next.NoClassic = old.NoClassic
		return nil, nil
	}
	resp, err := r.f.get(ctx, r.branchPath()+"/protection", getOpts{keep: true, conditional: old != nil && old.Classic != nil, allow: []int{http.StatusNotFound}})
	if err != nil {
		return nil, err
	}
	switch resp.Status {
	case http.StatusNotModified:
		next.Classic = old.Classic
	case http.StatusOK:
		var p gh.Protection
		if err := r.f.decode(resp, resp.Body, &p); err != nil {
			return nil, err
		}
		next.Classic = classicProtection(&p, r.fullName, r.branch)
	case http.StatusNotFound:
		next.NoClassic = r.now
	}
	return []*fetched{resp}, nil
}

// classicProtection reduces a classic protection to what governance reads. The current API
// includes required_signatures in the protection itself, so no second call is needed.
func classicProtection(p *gh.Protection, repo, branch string) *releaseops.BranchProtection {
	bp := &releaseops.BranchProtection{Repo: repo, Pattern: branch, Action: "sync"}
	if rv := p.RequiredPullRequestReviews; rv != nil {
		bp.RequiredApprovingReviews = rv.RequiredApprovingReviewCount
		bp.RequireCodeOwnerReview = rv.RequireCodeOwnerReviews
		bp.DismissStaleReviews = rv.DismissStaleReviews
	}
	bp.LinearHistory = p.RequireLinearHistory != nil && p.RequireLinearHistory.Enabled
	bp.SignedCommits = p.RequiredSignatures.GetEnabled()
	bp.AdminEnforced = p.EnforceAdmins != nil && p.EnforceAdmins.Enabled
	bp.AllowForcePushes = p.AllowForcePushes != nil && p.AllowForcePushes.Enabled
	if sc := p.RequiredStatusChecks; sc != nil {
		// checks supersedes the deprecated contexts; both list the same names.
		if sc.Checks != nil && len(*sc.Checks) > 0 {
			for _, c := range *sc.Checks {
				if c != nil && c.Context != "" {
					bp.RequiredStatusChecks = append(bp.RequiredStatusChecks, c.Context)
				}
			}
		} else if sc.Contexts != nil && len(*sc.Contexts) > 0 {
			bp.RequiredStatusChecks = append([]string(nil), *sc.Contexts...)
		}
	}
	return bp
}

// branchRule is one item of GET /repos/{o}/{r}/rules/branches/{branch}, which go-github v62
// has no call for.
type branchRule struct {
	Type              string          `json:"type"`
	Parameters        json.RawMessage `json:"parameters"`
	RulesetSourceType string          `json:"ruleset_source_type"`
	RulesetSource     string          `json:"ruleset_source"`
	RulesetID         int64           `json:"ruleset_id"`
}

// readRules reads the active rules that apply to the branch, whichever level (repository,
// organisation) configured them, grouped into one Ruleset per ruleset id. GitHub returns only
// rules of active rulesets here, so every one is enforced.
func (r *repoRead) readRules(ctx context.Context, old, next *branchMemo) ([]*fetched, error) {
	// A 304 on the first page says nothing about later ones, so only a one-page answer is
	// asked conditionally.
	cond := old != nil && old.RulePages <= 1
	first, err := r.f.get(ctx, r.base()+"/rules/branches/"+url.PathEscape(r.branch)+"?per_page=100", getOpts{keep: true, conditional: cond})
	if err != nil {
		return nil, err
	}
	if first.notModified() {
		next.Rulesets, next.RulePages = old.Rulesets, old.RulePages
		return []*fetched{first}, nil
	}
	byID := map[int64]*releaseops.Ruleset{}
	var order []int64
	pages, err := r.f.list(ctx, first, func(page *fetched, items []json.RawMessage) (bool, error) {
		for _, raw := range items {
			var rule branchRule
			if err := r.f.decode(page, raw, &rule); err != nil {
				return false, err
			}
			rs, ok := byID[rule.RulesetID]
			if !ok {
				rs = &releaseops.Ruleset{
					Repo: r.fullName, ID: rule.RulesetID, Action: "sync", Target: "branch", Enforcement: "active",
					Includes: []string{r.branch},
					// The rules call names no ruleset; this says where it is configured.
					Name: fmt.Sprintf("ruleset %d (%s %s)", rule.RulesetID, strings.ToLower(rule.RulesetSourceType), rule.RulesetSource),
				}
				byID[rule.RulesetID] = rs
				order = append(order, rule.RulesetID)
			}
			if err := applyRule(rs, rule); err != nil {
				return false, fmt.Errorf("%s: GET %s: rule %s of ruleset %d: %w", r.f.subject, page.Path, rule.Type, rule.RulesetID, err)
			}
		}
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(order)
	for _, id := range order {
		next.Rulesets = append(next.Rulesets, *byID[id])
	}
	next.RulePages = len(pages)
	return pages, nil
}

// applyRule adds one rule's requirement to its ruleset, as the repository_ruleset webhook
// parser reads the same rule types.
func applyRule(rs *releaseops.Ruleset, rule branchRule) error {
	switch rule.Type {
	case "pull_request":
		var p struct {
			RequiredApprovingReviewCount int  `json:"required_approving_review_count"`
			RequireCodeOwnerReview       bool `json:"require_code_owner_review"`
		}
		if len(rule.Parameters) > 0 && !bytes.Equal(rule.Parameters, []byte("null")) {
			if err := json.Unmarshal(rule.Parameters, &p); err != nil {
				return err
			}
		}
		rs.RequiredApprovingReviews = max(rs.RequiredApprovingReviews, p.RequiredApprovingReviewCount)
		rs.RequireCodeOwnerReview = rs.RequireCodeOwnerReview || p.RequireCodeOwnerReview
	case "required_linear_history":
		rs.LinearHistory = true
	case "required_signatures":
		rs.SignedCommits = true
	case "non_fast_forward":
		rs.BlocksForcePush = true
	case "deletion":
		rs.BlocksDeletion = true
	}
	return nil
}

// repoState assembles the RepoState fact from the pieces.
func repoState(repo *repoMemo, b *branchMemo) releaseops.RepoState {
	st := releaseops.RepoState{Repo: repo.FullName, DefaultBranch: repo.DefaultBranch, Archived: repo.Archived}
	if b == nil {
		return st
	}
	st.Classic = b.Classic
	st.Rulesets = b.Rulesets
	for _, p := range codeownersPaths {
		if b.Codeowners[p] {
			st.Codeowners, st.CodeownersPath = true, p
			break
		}
	}
	return st
}

// sameJSON compares two values as they would be stored, so nil and empty lists are equal.
func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
