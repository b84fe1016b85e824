package github

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// sentToEveryApp are the events GitHub delivers to every App without a subscription (and
// refuses in a manifest's default_events): "All GitHub Apps receive this event by default.
// You cannot manually subscribe to this event." ping comes with the webhook itself.
var sentToEveryApp = []string{"installation", "installation_repositories", "ping"}

// eventPermission is the permission GitHub requires (at least read) to subscribe an App to
// each event, from docs.github.com/webhooks/webhook-events-and-payloads.
var eventPermission = map[string]string{
	"push": "contents", "release": "contents",
	"pull_request": "pull_requests", "pull_request_review": "pull_requests",
	"branch_protection_rule": "administration", "repository_ruleset": "administration",
	"deployment": "deployments", "deployment_status": "deployments", "deployment_protection_rule": "deployments",
	"workflow_run": "actions", "check_run": "checks",
	"dependabot_alert": "vulnerability_alerts", "code_scanning_alert": "security_events",
}

func TestManifestParses(t *testing.T) {
	dec := json.NewDecoder(bytes.NewReader(AppManifest()))
	dec.DisallowUnknownFields()
	var m AppManifestFields
	// An unknown field is a typo GitHub would ignore silently.
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("app-manifest.json: %v", err)
	}
	if m.Name == "" || m.URL == "" || m.HookAttributes.URL == "" || m.RedirectURL == "" {
		t.Errorf("name, url, hook_attributes.url and redirect_url are required: %+v", m)
	}
	if m.Public {
		t.Error("the App must not be public: it reads an organisation's repositories")
	}
	for p, level := range m.DefaultPermissions {
		if level != "read" && level != "write" {
			t.Errorf("permission %s: %q, want read or write", p, level)
		}
	}
	// Answering a deployment protection rule is a write to deployments.
	if m.DefaultPermissions["deployments"] != "write" || m.DefaultPermissions["metadata"] != "read" {
		t.Errorf("deployments %q, metadata %q", m.DefaultPermissions["deployments"], m.DefaultPermissions["metadata"])
	}
	if _, ok := m.DefaultPermissions["members"]; ok {
		t.Error("members is not read by ReleaseOps")
	}
	if got := ManifestPermissions(); len(got) != len(m.DefaultPermissions) {
		t.Errorf("ManifestPermissions() = %v", got)
	}
}

func TestManifestSubscribesToEveryParsedEvent(t *testing.T) {
	events := ManifestEvents()
	parsed := []string{"repository_ruleset"}
	for e := range handled {
		parsed = append(parsed, e)
	}
	for _, e := range parsed {
		if !slices.Contains(events, e) && !slices.Contains(sentToEveryApp, e) {
			t.Errorf("Parse handles %s but the manifest does not subscribe to it", e)
		}
	}
	perms := ManifestPermissions()
	for _, e := range events {
		if slices.Contains(sentToEveryApp, e) {
			t.Errorf("%s is sent to every App; GitHub refuses it in default_events", e)
		}
		if !slices.Contains(parsed, e) {
			t.Errorf("the manifest subscribes to %s, which Parse does not use", e)
		}
		p, ok := eventPermission[e]
		if !ok {
			t.Errorf("%s: no known permission; add it to eventPermission", e)
		} else if perms[p] == "" {
			t.Errorf("%s needs the %s permission, which the manifest does not ask for", e, p)
		}
	}
}
