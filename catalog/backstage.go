package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/releaseops/releaseops"
)

// Backstage annotations read from catalog-info.yaml. The first two are Backstage's own; the
// releaseops.io ones declare what Backstage has no field for.
const (
	annProjectSlug = "github.com/project-slug"
	annPagerDuty   = "pagerduty.com/service-id"
	annSlack       = "releaseops.io/slack-channel"
	annTier        = "releaseops.io/tier"
	annApprovers   = "releaseops.io/approvers"
	annRunbook     = "releaseops.io/runbook-url"
	annWorkspaces  = "releaseops.io/terraform-workspaces"
	annStateful    = "releaseops.io/stateful"
	annTerraform   = "releaseops.io/terraform"
	annGateMode    = "releaseops.io/gate-mode"
)

type backstageEntity struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Annotations map[string]string `yaml:"annotations"`
		Links       []struct {
			URL   string `yaml:"url"`
			Title string `yaml:"title"`
		} `yaml:"links"`
	} `yaml:"metadata"`
	Spec struct {
		Owner     string `yaml:"owner"`
		Lifecycle string `yaml:"lifecycle"`
		Type      string `yaml:"type"`
	} `yaml:"spec"`
}

// LoadBackstage reads every catalog-info.yaml (or .yml) under the given files or directories
// and returns the Component entities as services. Other kinds are skipped.
func LoadBackstage(paths []string) ([]releaseops.Service, error) {
	var out []releaseops.Service
	for _, root := range paths {
		st, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("backstage catalog %s: %w", root, err)
		}
		var files []string
		if st.IsDir() {
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() && (d.Name() == "catalog-info.yaml" || d.Name() == "catalog-info.yml") {
					files = append(files, p)
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("backstage catalog %s: %w", root, err)
			}
		} else {
			files = []string{root}
		}
		for _, f := range files {
			svcs, err := parseBackstageFile(f)
			if err != nil {
				return nil, err
			}
			out = append(out, svcs...)
		}
	}
	return out, nil
}

func parseBackstageFile(path string) ([]releaseops.Service, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backstage catalog %s: %w", path, err)
	}
	return ParseBackstage(data, path, "backstage:"+path)
}

// ParseBackstage reads the Component entities of a catalog-info.yaml (several documents
// allowed). name is used in errors; origin is recorded on each service.
func ParseBackstage(data []byte, name, origin string) ([]releaseops.Service, error) {
	path := name
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []releaseops.Service
	for i := 0; ; i++ {
		var e backstageEntity
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("backstage catalog %s document %d: %w", path, i+1, err)
		}
		if e.Kind != "Component" {
			continue
		}
		s, err := serviceFromEntity(e)
		if err != nil {
			return nil, fmt.Errorf("backstage catalog %s document %d (%s): %w", path, i+1, e.Metadata.Name, err)
		}
		s.Origin = origin
		out = append(out, s)
	}
	return out, nil
}

func serviceFromEntity(e backstageEntity) (releaseops.Service, error) {
	a := e.Metadata.Annotations
	s := releaseops.Service{
		Name:               strings.ToLower(e.Metadata.Name),
		Repo:               a[annProjectSlug],
		PagerDutyServiceID: a[annPagerDuty],
		SlackChannel:       a[annSlack],
		RunbookURL:         a[annRunbook],
	}
	if s.Name == "" {
		return s, errors.New("metadata.name is required")
	}
	// spec.owner is an entity reference: "group:default/team-payments" or "team-payments".
	owner := e.Spec.Owner
	if _, after, ok := strings.Cut(owner, ":"); ok {
		owner = after
	}
	if _, after, ok := strings.Cut(owner, "/"); ok {
		owner = after
	}
	s.Owner = owner
	if v := a[annTier]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return s, fmt.Errorf("annotation %s: want a whole number, got %q", annTier, v)
		}
		s.Tier = n
	}
	s.Approvers = splitList(a[annApprovers])
	s.TerraformWorkspaces = splitList(a[annWorkspaces])
	if v := a[annStateful]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("annotation %s: want true or false, got %q", annStateful, v)
		}
		s.Stateful = b
	}
	if v := a[annTerraform]; v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return s, fmt.Errorf("annotation %s: want true or false, got %q", annTerraform, v)
		}
		s.Terraform = &b
	}
	switch v := a[annGateMode]; v {
	case "", "enforce", "observe":
		s.GateMode = v
	default:
		return s, fmt.Errorf("annotation %s: want enforce or observe, got %q", annGateMode, v)
	}
	if s.RunbookURL == "" {
		for _, l := range e.Metadata.Links {
			if strings.Contains(strings.ToLower(l.Title), "runbook") {
				s.RunbookURL = l.URL
				break
			}
		}
	}
	return s, nil
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
