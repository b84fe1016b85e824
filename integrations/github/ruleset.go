package github

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/releaseops/releaseops"
)

// RulesetEvent is a repository_ruleset webhook payload. go-github v62 has no type for it (it
// arrived in v67), so this package decodes the fields governance reads itself.
type RulesetEvent struct {
	Action     string         `json:"action"`
	Ruleset    *RulesetDetail `json:"repository_ruleset"`
	Repository *struct {
		FullName      string `json:"full_name"`
		DefaultBranch string `json:"default_branch"`
	} `json:"repository"`
}

// RulesetDetail is the repository_ruleset object of the payload.
type RulesetDetail struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Target      string `json:"target"`
	SourceType  string `json:"source_type"`
	Source      string `json:"source"`
	Enforcement string `json:"enforcement"`
	Conditions  *struct {
		RefName *struct {
			Include []string `json:"include"`
			Exclude []string `json:"exclude"`
		} `json:"ref_name"`
	} `json:"conditions"`
	Rules     []RulesetRule `json:"rules"`
	CreatedAt string        `json:"created_at"`
	UpdatedAt string        `json:"updated_at"`
}

// RulesetRule is one rule; Parameters depend on Type.
type RulesetRule struct {
	Type       string          `json:"type"`
	Parameters json.RawMessage `json:"parameters"`
}

type pullRequestParameters struct {
	RequiredApprovingReviewCount int  `json:"required_approving_review_count"`
	RequireCodeOwnerReview       bool `json:"require_code_owner_review"`
}

// parseRuleset turns a repository_ruleset event into a FactRuleset. Only an "active" ruleset
// protects anything: for "evaluate" (report only) and "disabled" rulesets the fact keeps the
// enforcement, the name and the target but reports no requirement.
func (s *Source) parseRuleset(p releaseops.Parsed, payload []byte) (releaseops.Parsed, error) {
	var ev RulesetEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return releaseops.Parsed{}, decodeError("repository_ruleset", err)
	}
	if ev.Ruleset == nil {
		return releaseops.Parsed{}, releaseops.Errorf(releaseops.EINVALID, "repository_ruleset: is required")
	}
	var repo string
	if ev.Repository != nil {
		repo = ev.Repository.FullName
	}
	if repo != "" {
		p.Subject = repoSubject(repo)
	}
	rs := ev.Ruleset
	r := &releaseops.Ruleset{
		Repo:        repo,
		ID:          rs.ID,
		Name:        rs.Name,
		Action:      ev.Action,
		Deleted:     ev.Action == "deleted",
		Target:      rs.Target,
		Enforcement: rs.Enforcement,
	}
	if rs.Conditions != nil && rs.Conditions.RefName != nil {
		r.Includes = rs.Conditions.RefName.Include
	}
	if rs.Enforcement == "active" && !r.Deleted {
		for i, rule := range rs.Rules {
			switch rule.Type {
			case "pull_request":
				var params pullRequestParameters
				if len(rule.Parameters) > 0 && string(rule.Parameters) != "null" {
					if err := json.Unmarshal(rule.Parameters, &params); err != nil {
						return releaseops.Parsed{}, &releaseops.Error{Code: releaseops.EINVALID,
							Message: "repository_ruleset.rules[" + strconv.Itoa(i) + "].parameters: has the wrong type", Err: err}
					}
				}
				r.RequiredApprovingReviews = max(r.RequiredApprovingReviews, params.RequiredApprovingReviewCount)
				r.RequireCodeOwnerReview = r.RequireCodeOwnerReview || params.RequireCodeOwnerReview
			case "required_linear_history":
				r.LinearHistory = true
			case "required_signatures":
				r.SignedCommits = true
			case "non_fast_forward":
				r.BlocksForcePush = true
			case "deletion":
				r.BlocksDeletion = true
			}
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, firstNonEmpty(rs.UpdatedAt, rs.CreatedAt)); err == nil {
		p.OccurredAt = t.UTC()
	}
	p.Facts = []releaseops.Fact{{Kind: releaseops.FactRuleset, Subject: p.Subject, At: p.OccurredAt, Ruleset: r}}
	return p, nil
}
