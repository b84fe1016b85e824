// Package catalog maps what events are about (a repository, a PagerDuty service, a Terraform
// workspace) to the services ReleaseOps scores. Services come from config `services:`, from
// Backstage catalog-info.yaml files, and by convention from repositories seen in events.
package catalog

import (
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
	mu          sync.RWMutex
	byName      map[string]releaseops.Service
	byRepo      map[string]string // lower-case org/name → service
	byPagerDuty map[string]string
	byWorkspace map[string]string // lower-case "org/workspace" or "workspace" → service
}

// New builds a catalog from declared services. Later entries with the same name replace
// earlier ones field by field (config after Backstage), see Merge.
func New(services []releaseops.Service) *Catalog {
	c := &Catalog{byName: map[string]releaseops.Service{}, byRepo: map[string]string{}, byPagerDuty: map[string]string{}, byWorkspace: map[string]string{}}
	for _, s := range services {
		c.add(s)
	}
	return c
}

func (c *Catalog) add(s releaseops.Service) {
	if old, ok := c.byName[s.Name]; ok {
		s = Merge(old, s)
	}
	if s.Origin == "" {
		s.Origin = "config"
	}
	c.byName[s.Name] = s
	if s.Repo != "" {
		c.byRepo[strings.ToLower(s.Repo)] = s.Name
	}
	if s.PagerDutyServiceID != "" {
		c.byPagerDuty[s.PagerDutyServiceID] = s.Name
	}
	for _, w := range s.TerraformWorkspaces {
		c.byWorkspace[strings.ToLower(w)] = s.Name
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

// AddFound adds a service found at run time (a catalog-info.yaml read from a GitHub
// repository by discovery). What the config or a local Backstage file declares for the same
// name wins field by field, as at start; an entry found earlier is replaced.
func (c *Catalog) AddFound(s releaseops.Service) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byName[s.Name]; ok && old.Origin != s.Origin && old.Origin != "convention" {
		origin := old.Origin
		s = Merge(s, old)
		s.Origin = origin
	}
	delete(c.byName, s.Name) // add would merge with what is there; s already is the merge
	c.add(s)
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
		c.byRepo[strings.ToLower(s.Key)] = name
	}
	c.byName[name] = svc
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
