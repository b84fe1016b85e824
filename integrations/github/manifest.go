package github

import (
	_ "embed"
	"encoding/json"
	"maps"
	"sync"
)

// manifest is the GitHub App manifest ReleaseOps is registered from (GitHub's manifest
// flow, or by hand with the same permissions and events). It lists only what the code
// reads: the webhooks Parse handles and the REST calls of sync, release notes and the gate.
//
//go:embed app-manifest.json
var manifest []byte

// AppManifest returns a copy of the App manifest (JSON).
func AppManifest() []byte { return append([]byte(nil), manifest...) }

// ManifestPermissions returns the permissions the manifest asks for ("contents": "read"),
// to compare with what an installation was granted.
func ManifestPermissions() map[string]string {
	return maps.Clone(parsedManifest().DefaultPermissions)
}

// ManifestEvents returns the webhook events the manifest subscribes to.
func ManifestEvents() []string {
	return append([]string(nil), parsedManifest().DefaultEvents...)
}

// AppManifestFields is the part of GitHub's manifest format ReleaseOps reads back.
type AppManifestFields struct {
	Name           string `json:"name"`
	URL            string `json:"url"`
	Description    string `json:"description,omitempty"`
	HookAttributes struct {
		URL    string `json:"url"`
		Active *bool  `json:"active,omitempty"`
	} `json:"hook_attributes"`
	RedirectURL        string            `json:"redirect_url"`
	Public             bool              `json:"public"`
	DefaultPermissions map[string]string `json:"default_permissions"`
	DefaultEvents      []string          `json:"default_events"`
}

// parsedManifest decodes the embedded manifest once. The package's tests decode it too, so a
// broken file fails the tests, not a running service.
var parsedManifest = sync.OnceValue(func() AppManifestFields {
	var m AppManifestFields
	if err := json.Unmarshal(manifest, &m); err != nil {
		panic("integrations/github: app-manifest.json: " + err.Error())
	}
	return m
})
