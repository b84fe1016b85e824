package github

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The pinned go-github decodes a whole payload into typed structs, so an odd value in a field
// ReleaseOps never reads (the app.created_at of an older GitHub App written
// "2018-04-25 20:42:10", a number too large for an int64, a string where go-github expects a
// number) fails the decode of fields it does read. When the typed decode of a handled type
// fails, Parse keeps only the fields facts.go reads for that type (readFields) and decodes
// again: the facts are the same, since nothing else is looked at. When that decode fails too,
// the broken value is in a field we read, and the delivery is refused naming it.

// readFields lists, per handled event type, the JSON paths facts.go reads (through the
// go-github accessors). "[]" stands for every element of an array; a path keeps everything
// below it. TestReadFieldsGiveTheSameFacts checks that the facts of every fixture are the same
// from the pruned payload as from the whole one: extend this list with facts.go.
var readFields = map[string][]string{
	"ping": {"repository.full_name"},
	"push": {
		"ref", "before", "after", "forced", "deleted",
		"repository.full_name", "repository.pushed_at", "repository.default_branch",
		"pusher.name", "pusher.username", "sender.login",
		"head_commit.id", "head_commit.timestamp", "head_commit.message",
		"head_commit.author.username", "head_commit.author.name",
		"head_commit.added", "head_commit.modified", "head_commit.removed",
		"commits[].id", "commits[].message", "commits[].author.username", "commits[].author.name",
		"commits[].added", "commits[].modified", "commits[].removed",
	},
	"pull_request": {
		"action", "repository.full_name",
		"pull_request.number", "pull_request.title", "pull_request.html_url",
		"pull_request.updated_at", "pull_request.closed_at", "pull_request.merged_at",
		"pull_request.merged", "pull_request.merge_commit_sha",
		"pull_request.user.login", "pull_request.merged_by.login",
		"pull_request.base.ref", "pull_request.labels[].name",
	},
	"pull_request_review": {
		"action", "repository.full_name", "pull_request.number",
		"review.submitted_at", "review.user.login", "review.state",
	},
	"branch_protection_rule": {
		"action", "repository.full_name",
		"rule.name", "rule.created_at", "rule.updated_at",
		"rule.pull_request_reviews_enforcement_level", "rule.required_approving_review_count",
		"rule.require_code_owner_review", "rule.dismiss_stale_reviews_on_push",
		"rule.linear_history_requirement_enforcement_level",
		"rule.signature_requirement_enforcement_level", "rule.admin_enforced",
		"rule.allow_force_pushes_enforcement_level", "rule.required_status_checks",
	},
	"deployment": {"repository.full_name", "deployment.created_at"},
	"deployment_status": {
		"repository.full_name",
		"deployment.id", "deployment.environment", "deployment.ref", "deployment.sha",
		"deployment.creator.login", "deployment.created_at",
		"deployment_status.id", "deployment_status.state", "deployment_status.environment",
		"deployment_status.creator.login", "deployment_status.log_url", "deployment_status.target_url",
		"deployment_status.environment_url", "deployment_status.created_at", "deployment_status.updated_at",
	},
	"deployment_protection_rule": {
		"repository.full_name", "environment", "event", "deployment_callback_url", "installation.id",
		"deployment.id", "deployment.sha", "deployment.ref", "deployment.creator.login",
		"pull_requests[].number",
	},
	"workflow_run": {
		"repository.full_name", "workflow.name",
		"workflow_run.name", "workflow_run.status", "workflow_run.conclusion",
		"workflow_run.head_sha", "workflow_run.head_branch", "workflow_run.event",
		"workflow_run.html_url", "workflow_run.updated_at", "workflow_run.run_started_at",
		"workflow_run.created_at", "workflow_run.pull_requests[].number",
	},
	"check_run": {
		"repository.full_name",
		"check_run.name", "check_run.status", "check_run.conclusion", "check_run.head_sha",
		"check_run.html_url", "check_run.completed_at", "check_run.started_at",
		"check_run.check_suite.head_branch", "check_run.pull_requests[].number",
	},
	"release": {
		"action", "repository.full_name",
		"release.tag_name", "release.name", "release.draft", "release.prerelease",
		"release.html_url", "release.published_at", "release.created_at",
	},
	"dependabot_alert": {
		"action", "repository.full_name",
		"alert.number", "alert.state", "alert.html_url", "alert.updated_at", "alert.created_at",
		"alert.security_advisory.severity", "alert.security_advisory.summary",
		"alert.security_vulnerability.severity",
	},
	"code_scanning_alert": {
		"action", "repository.full_name",
		"alert.number", "alert.state", "alert.html_url",
		"alert.updated_at", "alert.fixed_at", "alert.dismissed_at", "alert.created_at",
		"alert.rule.security_severity_level", "alert.rule.severity", "alert.rule.description",
		"alert.rule.name", "alert.rule.id",
	},
}

// keepTree is readFields of one type as a tree; a node with no children keeps its whole value.
type keepTree map[string]keepTree

var keepTrees = func() map[string]keepTree {
	out := make(map[string]keepTree, len(readFields))
	for event, paths := range readFields {
		root := keepTree{}
		for _, p := range paths {
			n := root
			for _, part := range splitPath(p) {
				c, ok := n[part]
				if !ok {
					c = keepTree{}
					n[part] = c
				}
				n = c
			}
		}
		out[event] = root
	}
	return out
}()

// splitPath splits "commits[].author.name" into commits, [], author, name.
func splitPath(p string) []string {
	var out []string
	for _, part := range strings.Split(p, ".") {
		for strings.HasSuffix(part, "[]") {
			part = strings.TrimSuffix(part, "[]")
			if part != "" {
				out = append(out, part)
			}
			part = ""
			out = append(out, "[]")
		}
		if part != "" {
			out = append(out, part)
		}
	}
	return out
}

// pruneToRead returns payload with only the fields readFields lists for event, or false when
// the type has no list or the payload cannot be re-read. Numbers are kept as written.
func pruneToRead(event string, payload []byte) ([]byte, bool) {
	keep, ok := keepTrees[event]
	if !ok {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	out, err := json.Marshal(prune(v, keep))
	if err != nil {
		return nil, false
	}
	return out, true
}

// prune keeps the parts of v that keep names. A value whose shape is not what keep expects
// (a string where an object or array is read) is kept as it is, so that the typed decode
// reports it, naming the field.
func prune(v any, keep keepTree) any {
	if len(keep) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(keep))
		for k, sub := range keep {
			if val, ok := x[k]; ok {
				out[k] = prune(val, sub)
			}
		}
		return out
	case []any:
		sub, ok := keep["[]"]
		if !ok {
			return x
		}
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = prune(el, sub)
		}
		return out
	}
	return v
}

// badReadTime returns the path of the first time field facts.go reads whose value go-github
// cannot decode (a string that is not RFC 3339), or "". go-github's Timestamp errors do not
// name their field.
func badReadTime(event string, payload []byte) string {
	keep, ok := keepTrees[event]
	if !ok {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return ""
	}
	return findBadTime(v, keep, "")
}

func findBadTime(v any, keep keepTree, path string) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(keep))
		for k := range keep {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val, ok := x[k]
			if !ok {
				continue
			}
			p := k
			if path != "" {
				p = path + "." + k
			}
			if s, ok := val.(string); ok && isTimeKey(k) {
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					return p
				}
				continue
			}
			if bad := findBadTime(val, keep[k], p); bad != "" {
				return bad
			}
		}
	case []any:
		sub, ok := keep["[]"]
		if !ok {
			return ""
		}
		for i, el := range x {
			if bad := findBadTime(el, sub, path+"["+strconv.Itoa(i)+"]"); bad != "" {
				return bad
			}
		}
	}
	return ""
}

func isTimeKey(k string) bool { return strings.HasSuffix(k, "_at") || k == "timestamp" }
