// Package catalog maps what events are about (a repository, a PagerDuty service, a Terraform
// workspace) to the services ReleaseOps scores. Services come from config `services:`, from
// Backstage catalog-info.yaml files, and by convention from repositories seen in events.
package catalog

import (
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/nearest"
)

// Catalog is safe for concurrent use: the ingest path resolves subjects while the rescoring
// worker reads entries and convention adds discovered services.
type Catalog struct {
	mu sync.RWMutex
	index
	// declared is the catalog without what discovery found: each discovery rebuilds from it,
	// so what a file may claim never depends on what earlier runs happened to see first.
	declared index
}

type index struct {
	byName      map[string]releaseops.Service
	byRepo      map[string]string // lower-case org/name → service
	byPagerDuty map[string]string
	byWorkspace map[string]string // lower-case "org/workspace" or "workspace" → service
}

func newIndex() index {
	return index{byName: map[string]releaseops.Service{}, byRepo: map[string]string{}, byPagerDuty: map[string]string{}, byWorkspace: map[string]string{}}
}

func (x index) clone() index {
	return index{byName: maps.Clone(x.byName), byRepo: maps.Clone(x.byRepo), byPagerDuty: maps.Clone(x.byPagerDuty), byWorkspace: maps.Clone(x.byWorkspace)}
}

// New builds a catalog from declared services. Later entries with the same name replace
// earlier ones field by field (config after Backstage), see Merge.
func New(services []releaseops.Service) *Catalog {
	c := &Catalog{index: newIndex()}
	for _, s := range services {
		c.add(s)
	}
	c.declared = c.index.clone()
	return c
}

func (x index) add(s releaseops.Service) {
	stampGateMode(&s, "config")
	if old, ok := x.byName[s.Name]; ok {
		s = Merge(old, s)
	}
	if s.Origin == "" {
		s.Origin = "config"
	}
	x.put(s)
}

// put records s as it is, with its mappings.
func (x index) put(s releaseops.Service) {
	x.byName[s.Name] = s
	if s.Repo != "" {
		x.byRepo[strings.ToLower(s.Repo)] = s.Name
	}
	if s.PagerDutyServiceID != "" {
		x.byPagerDuty[s.PagerDutyServiceID] = s.Name
	}
	for _, w := range s.TerraformWorkspaces {
		x.byWorkspace[strings.ToLower(w)] = s.Name
	}
}

// stampGateMode records where s's gate_mode comes from before a merge can move it onto an
// entry declared elsewhere; fallback is the origin of an entry that names none (config's).
func stampGateMode(s *releaseops.Service, fallback string) {
	if s.GateMode != "" && s.GateModeOrigin == "" {
		s.GateModeOrigin = s.Origin
		if s.GateModeOrigin == "" {
			s.GateModeOrigin = fallback
		}
	}
}

// Merge returns base with every non-zero field of over applied.
func Merge(base, over releaseops.Service) releaseops.Service {
	out := base
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&out.Repo, over.Repo)
	set(&out.Owner, over.Owner)
	set(&out.SlackChannel, over.SlackChannel)
	set(&out.PagerDutyServiceID, over.PagerDutyServiceID)
	set(&out.RunbookURL, over.RunbookURL)
	set(&out.StatusPageURL, over.StatusPageURL)
	set(&out.StakeholderChannel, over.StakeholderChannel)
	set(&out.DefaultBranch, over.DefaultBranch)
	set(&out.Origin, over.Origin)
	if over.GateMode != "" {
		out.GateMode, out.GateModeOrigin = over.GateMode, over.GateModeOrigin
	}
	if over.Tier != 0 {
		out.Tier = over.Tier
	}
	if over.EscalationLevels != 0 {
		out.EscalationLevels = over.EscalationLevels
	}
	if over.RTOTargetSeconds != 0 {
		out.RTOTargetSeconds = over.RTOTargetSeconds
	}
	if over.Terraform != nil {
		out.Terraform = over.Terraform
	}
	out.StructuredLogging = out.StructuredLogging || over.StructuredLogging
	out.TraceCorrelation = out.TraceCorrelation || over.TraceCorrelation
	out.Stateful = out.Stateful || over.Stateful
	out.Codeowners = out.Codeowners || over.Codeowners
	if len(over.Approvers) > 0 {
		out.Approvers = over.Approvers
	}
	if len(over.RunbookPaths) > 0 {
		out.RunbookPaths = over.RunbookPaths
	}
	if len(over.SLOs) > 0 {
		out.SLOs = over.SLOs
	}
	if len(over.ComplianceControls) > 0 {
		out.ComplianceControls = over.ComplianceControls
	}
	if len(over.TerraformWorkspaces) > 0 {
		out.TerraformWorkspaces = over.TerraformWorkspaces
	}
	if len(over.TerraformModules) > 0 {
		out.TerraformModules = over.TerraformModules
	}
	if len(over.NotApplicable) > 0 {
		out.NotApplicable = over.NotApplicable
	}
	return out
}

// Resolution is the outcome of mapping a subject.
type Resolution struct {
	Service string
	// Discovered is true when the service was created by convention just now (a repository
	// org/name not named by the catalog becomes service name).
	Discovered bool
}

var nonName = regexp.MustCompile(`[^a-z0-9._-]+`)

// ConventionName turns a repository "org/Name" into the service name "name".
func ConventionName(repo string) string {
	_, name, ok := strings.Cut(repo, "/")
	if !ok {
		name = repo
	}
	name = strings.Trim(nonName.ReplaceAllString(strings.ToLower(name), "-"), "-._")
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// Resolve maps a subject to a service. ok is false when nothing claims it: the event is stored
// as unmapped until the catalog names the subject. A repository maps by convention only when
// no catalogued service already has that name (a stranger's org/checkout must not feed our
// checkout).
func (c *Catalog) Resolve(s releaseops.Subject) (Resolution, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	switch s.Kind {
	case releaseops.SubjectService:
		_, known := c.byName[s.Key]
		return Resolution{Service: s.Key, Discovered: !known}, s.Key != ""
	case releaseops.SubjectRepo:
		if name, ok := c.byRepo[strings.ToLower(s.Key)]; ok {
			return Resolution{Service: name}, true
		}
		name := ConventionName(s.Key)
		if name == "" {
			return Resolution{}, false
		}
		if _, taken := c.byName[name]; taken {
			return Resolution{}, false
		}
		return Resolution{Service: name, Discovered: true}, true
	case releaseops.SubjectPagerDuty:
		name, ok := c.byPagerDuty[s.Key]
		return Resolution{Service: name}, ok
	case releaseops.SubjectWorkspace:
		if name, ok := c.byWorkspace[strings.ToLower(s.Key)]; ok {
			return Resolution{Service: name}, true
		}
		if _, ws, found := strings.Cut(s.Key, "/"); found {
			if name, ok := c.byWorkspace[strings.ToLower(ws)]; ok {
				return Resolution{Service: name}, true
			}
		}
	}
	return Resolution{}, false
}

// Found is a service read by discovery from a catalog-info.yaml at a repository's root.
type Found struct {
	Repo    string // the repository the file was read in, owner/name
	Service releaseops.Service
}

// Conflict is a claim of a found entry the catalog refused.
type Conflict struct {
	Repo    string // where the entry was found
	Service string // the entry's name
	// Claim is what was refused: "name" (the whole entry is left out), "repo",
	// "pagerduty_service_id" or "terraform_workspace" (only that mapping is dropped).
	Claim string
	Value string
	// Owner is the service already holding the claim, OwnerOrigin where it comes from.
	Owner, OwnerOrigin string
}

// Rejected reports whether the whole entry was left out.
func (c Conflict) Rejected() bool { return c.Claim == "name" }

func (c Conflict) String() string {
	if c.Rejected() {
		return fmt.Sprintf("%s: service %q is left out: the name belongs to %s", c.Repo, c.Service, c.OwnerOrigin)
	}
	return fmt.Sprintf("%s: service %q does not get %s %q: it belongs to service %q (%s)", c.Repo, c.Service, c.Claim, c.Value, c.Owner, c.OwnerOrigin)
}

// SetFound replaces what discovery found before with found, and returns what it refused.
// Anyone who can create a repository in the organisation can write a catalog-info.yaml, so
// a found entry describes only the repository it was read in (its Repo is that repository)
// and never takes what another service holds:
//   - its name, when taken by a declared entry (config, a local Backstage file, convention),
//     is accepted only if both name the same repository; it then merges under the declared
//     entry, whose fields win (a convention entry, which declares nothing, is replaced);
//   - its repository, PagerDuty service and Terraform workspaces are dropped from it when
//     another declared or found service maps them (convention entries give way).
//
// Found entries are taken in a fixed order, whatever the order of found: the one read in the
// repository named like it first (acme/ledger for ledger), then by repository name, then as
// the file lists them. The first to claim a name or a mapping keeps it.
func (c *Catalog) SetFound(found []Found) []Conflict {
	order := make([]Found, len(found))
	copy(order, found)
	sort.SliceStable(order, func(i, j int) bool {
		ni, nj := namedAfter(order[i]), namedAfter(order[j])
		if ni != nj {
			return ni
		}
		return strings.ToLower(order[i].Repo) < strings.ToLower(order[j].Repo)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.declared.clone()
	var refused []Conflict
	for _, f := range order {
		s := f.Service
		s.Repo = f.Repo
		stampGateMode(&s, "")
		refuse := func(claim, value, owner string) {
			refused = append(refused, Conflict{Repo: f.Repo, Service: s.Name, Claim: claim, Value: value, Owner: owner, OwnerOrigin: live.byName[owner].Origin})
		}
		old, taken := live.byName[s.Name]
		_, declared := c.declared.byName[s.Name]
		if taken && (!declared || !strings.EqualFold(old.Repo, f.Repo)) {
			refuse("name", s.Name, s.Name)
			continue
		}
		// A convention entry only says a repository was seen in events: it gives way.
		yields := func(owner string) bool { return owner == s.Name || live.byName[owner].Origin == "convention" }
		held := func(owners []string) string {
			for _, o := range owners {
				if !yields(o) {
					return o
				}
			}
			return ""
		}
		if owner := held(owners(live.byRepo, s.Repo, false)); owner != "" {
			refuse("repo", s.Repo, owner)
			s.Repo = ""
		}
		if owner := held(owners(live.byPagerDuty, s.PagerDutyServiceID, false)); owner != "" {
			refuse("pagerduty_service_id", s.PagerDutyServiceID, owner)
			s.PagerDutyServiceID = ""
		}
		var workspaces []string
		for _, w := range s.TerraformWorkspaces {
			if owner := held(owners(live.byWorkspace, w, true)); owner != "" {
				refuse("terraform_workspace", w, owner)
				continue
			}
			workspaces = append(workspaces, w)
		}
		s.TerraformWorkspaces = workspaces
		if taken && old.Origin != "convention" {
			s = Merge(s, old)
		}
		// What the merge brought back from the declared entry may be mapped to another
		// declared service (the last of two naming it): that mapping stays.
		claim := func(m map[string]string, key string) {
			if key == "" {
				return
			}
			if owner, ok := m[key]; ok && owner != s.Name {
				if !yields(owner) {
					return
				}
				if conv := live.byName[owner]; strings.EqualFold(conv.Repo, key) {
					conv.Repo = "" // one service per repository, or the sync would record it under either
					live.byName[owner] = conv
				}
			}
			m[key] = s.Name
		}
		live.byName[s.Name] = s
		claim(live.byRepo, strings.ToLower(s.Repo))
		claim(live.byPagerDuty, s.PagerDutyServiceID)
		for _, w := range s.TerraformWorkspaces {
			claim(live.byWorkspace, strings.ToLower(w))
		}
	}
	c.index = live
	return refused
}

// namedAfter reports whether the entry was read in the repository of its name: there is
// only one such repository in an organisation, so no newcomer can outrank it.
func namedAfter(f Found) bool {
	_, name, _ := strings.Cut(f.Repo, "/")
	return strings.EqualFold(name, f.Service.Name)
}

// owners are the services mapping key in m, sorted, matched as the sync would read it: any
// case (a PagerDuty id or repository spelled otherwise is the same one), and a workspace of
// that name in any organisation (a bare name belongs to terraform.organization, which the
// catalog does not know, so "acme/prod" and "prod" may be the same workspace).
func owners(m map[string]string, key string, workspace bool) []string {
	if key == "" {
		return nil
	}
	bare := func(k string) string {
		if _, after, ok := strings.Cut(k, "/"); ok && workspace {
			return strings.ToLower(after)
		}
		return strings.ToLower(k)
	}
	var out []string
	for k, owner := range m {
		if bare(k) == bare(key) {
			out = append(out, owner)
		}
	}
	sort.Strings(out)
	return out
}

// AddDiscovered records a service created by convention, so later lookups and scoring see it.
// It does nothing if the name is already known.
func (c *Catalog) AddDiscovered(name string, s releaseops.Subject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byName[name]; ok {
		return
	}
	svc := releaseops.Service{Name: name, Origin: "convention"}
	if s.Kind == releaseops.SubjectRepo {
		svc.Repo = s.Key
	}
	c.declared.put(svc)
	if _, mapped := c.byRepo[strings.ToLower(svc.Repo)]; mapped {
		svc.Repo = "" // a found entry took the repository since the event was resolved
	}
	c.index.put(svc)
}

// Get returns a service by name.
func (c *Catalog) Get(name string) (releaseops.Service, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.byName[name]
	return s, ok
}

// Names returns every service name, sorted.
func (c *Catalog) Names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.byName))
	for n := range c.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Subjects returns every subject the catalog claims for a service, for claiming facts that
// arrived before the catalog named them.
func (c *Catalog) Subjects() map[releaseops.Subject]string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := map[releaseops.Subject]string{}
	for k, v := range c.byRepo {
		out[releaseops.Subject{Kind: releaseops.SubjectRepo, Key: k}] = v
	}
	for k, v := range c.byPagerDuty {
		out[releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: k}] = v
	}
	for k, v := range c.byWorkspace {
		out[releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: k}] = v
	}
	return out
}

// Closest returns up to n known names nearest to name, for "did you mean".
func (c *Catalog) Closest(name string, n int) []string { return nearest.Among(name, c.Names(), n) }
