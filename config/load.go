package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/releaseops/releaseops"
)

// Problems is every problem found in a config, each starting with its YAML path or
// environment variable.
type Problems struct {
	Source string // the file, or "embedded defaults"
	List   []string
}

func (p *Problems) Error() string {
	return fmt.Sprintf("config %s: %d problem(s):\n  %s", p.Source, len(p.List), strings.Join(p.List, "\n  "))
}

// Load reads the YAML file at path (none: the embedded defaults), applies RELEASEOPS_*
// overrides from environ (os.Environ() form), and validates the result. Every problem is
// reported at once, as *Problems.
func Load(path string, environ []string) (*Config, error) {
	cfg := Default()
	source := "embedded defaults"
	var problems []string
	if path != "" {
		source = path
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("load config %s: %w", path, err)
		}
		problems = append(problems, decodeYAML(data, &cfg)...)
	}
	problems = append(problems, applyEnv(&cfg, environ)...)
	cfg.derive()
	if len(problems) == 0 {
		problems = append(problems, cfg.validate()...)
	}
	if len(problems) > 0 {
		return nil, &Problems{Source: source, List: problems}
	}
	return &cfg, nil
}

// derive copies settings that one section owns into the packages that read them: scoring
// judges staleness of API reads by sync.stale_after.
func (c *Config) derive() {
	c.Scoring.SyncStaleAfter = c.Sync.StaleAfter.Std()
}

// Parse decodes and validates YAML bytes over the defaults, without environment overrides.
func Parse(data []byte) (*Config, error) {
	cfg := Default()
	problems := decodeYAML(data, &cfg)
	cfg.derive()
	if len(problems) == 0 {
		problems = cfg.validate()
	}
	if len(problems) > 0 {
		return nil, &Problems{Source: "(bytes)", List: problems}
	}
	return &cfg, nil
}

func decodeYAML(data []byte, cfg *Config) []string {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is the defaults
		}
		return []string{"(syntax): " + err.Error()}
	}
	var problems []string
	checkNode(&root, reflect.TypeOf(*cfg), "", &problems)
	if len(problems) > 0 {
		return problems
	}
	if err := root.Decode(cfg); err != nil {
		return []string{"(decode): " + err.Error()}
	}
	return nil
}

// NotConfigKeys are RELEASEOPS_* variables read by the command line and the benchmarks, not
// config keys: they are not reported as unknown (a pipeline exports RELEASEOPS_TOKEN for
// `releaseops gate` and may run other commands in the same shell).
var NotConfigKeys = []string{
	"RELEASEOPS_CONFIG", "RELEASEOPS_TOKEN", "RELEASEOPS_SERVER", "RELEASEOPS_REQUESTED_BY", "RELEASEOPS_LOCAL_TOKEN",
	"RELEASEOPS_SCALE_SERVICES", "RELEASEOPS_SCALE_EVENTS", "RELEASEOPS_SCALE_VERBOSE",
	"RELEASEOPS_TEST_POSTGRES_URL", // the PostgreSQL tests' server (.ci/run exports it)
}

// applyEnv sets every scalar key from RELEASEOPS_<PATH> where PATH is the YAML path in upper
// case with dots as underscores (RELEASEOPS_SLACK_SIGNING_SECRET). Lists of scalars take
// comma-separated values (RELEASEOPS_PAGERDUTY_WEBHOOK_SECRETS=a,b).
func applyEnv(cfg *Config, environ []string) []string {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "RELEASEOPS_") {
			env[k] = v
		}
	}
	if len(env) == 0 {
		return nil
	}
	var problems []string
	used := map[string]bool{}
	for _, k := range NotConfigKeys {
		used[k] = true
	}
	walkEnv(reflect.ValueOf(cfg).Elem(), "RELEASEOPS", env, used, &problems)
	for k := range env {
		if !used[k] {
			problems = append(problems, fmt.Sprintf("%s: no such config key", k))
		}
	}
	return problems
}

func walkEnv(v reflect.Value, prefix string, env map[string]string, used map[string]bool, problems *[]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || name == "" {
			continue
		}
		key := prefix + "_" + strings.ToUpper(name)
		fv := v.Field(i)
		ft := f.Type
		if ft.Kind() == reflect.Struct && !isLeaf(ft) {
			walkEnv(fv, key, env, used, problems)
			continue
		}
		raw, ok := env[key]
		if !ok {
			continue
		}
		used[key] = true
		if err := setFromEnv(fv, raw); err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %v", key, err))
		}
	}
}

func setFromEnv(v reflect.Value, raw string) error {
	t := v.Type()
	if t.Kind() == reflect.Slice && isLeaf(t.Elem()) {
		var parts []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		s := reflect.MakeSlice(t, len(parts), len(parts))
		for i, p := range parts {
			if err := setFromEnv(s.Index(i), p); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if t.Kind() == reflect.Pointer && isLeaf(t.Elem()) {
		p := reflect.New(t.Elem())
		if err := setFromEnv(p.Elem(), raw); err != nil {
			return err
		}
		v.Set(p)
		return nil
	}
	if !isLeaf(t) {
		return fmt.Errorf("cannot be set from the environment; use the YAML file")
	}
	// Leaves decode through YAML so that Secret files, durations and numbers parse exactly as
	// they do in the file.
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: raw, Tag: "!!str"}
	switch t.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("want true or false")
		}
		v.SetBool(b)
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		if t.Name() == "Duration" {
			break
		}
		i, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("want a whole number")
		}
		v.SetInt(i)
		return nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("want a number")
		}
		v.SetFloat(f)
		return nil
	}
	if t == reflect.TypeOf(releaseops.Duration(0)) {
		d, err := releaseops.ParseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	p := reflect.New(t)
	if err := n.Decode(p.Interface()); err != nil {
		return err
	}
	v.Set(p.Elem())
	return nil
}
