package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// config.example.yaml says it shows every key: every key the Go types decode appears in it
// (commented-out ones count, "# postgres_url: …"), and every key it shows, commented-out ones
// included, is one the loader knows.
func TestExampleConfigShowsEveryKey(t *testing.T) {
	src, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A comment that is a key ("  # enabled: true") becomes that key; prose comments start
	// with a capital or have no "key:" at their start.
	uncommented := regexp.MustCompile(`(?m)^(\s*)# ([a-z_]+:(?:\s|$))`).ReplaceAll(src, []byte("$1$2"))
	var doc yaml.Node
	if err := yaml.Unmarshal(uncommented, &doc); err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	exampleKeys(doc.Content[0], reflect.TypeOf(Config{}), "", shown)

	known := map[string]bool{}
	typeKeys(reflect.TypeOf(Config{}), "", known, map[reflect.Type]bool{})

	var missing, unknown []string
	for k := range known {
		if !shown[k] {
			missing = append(missing, k)
		}
	}
	for k := range shown {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	if len(missing) > 0 {
		t.Errorf("keys the config decodes that config.example.yaml does not show:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(unknown) > 0 {
		t.Errorf("keys config.example.yaml shows that the config does not decode:\n  %s", strings.Join(unknown, "\n  "))
	}

	// The example with its commented-out keys switched on still loads without an unknown key.
	path := filepath.Join(t.TempDir(), "all.yaml")
	if err := os.WriteFile(path, uncommented, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, nil); err != nil {
		var p *Problems
		if !errors.As(err, &p) {
			t.Fatal(err)
		}
		for _, s := range p.List {
			if strings.Contains(s, "unknown key") {
				t.Error(s)
			}
		}
	}
}

// typeKeys adds the YAML path of every key t decodes: a map's keys are "*", a list's
// elements "[]".
func typeKeys(t reflect.Type, path string, out map[string]bool, seen map[reflect.Type]bool) {
	if isLeaf(t) || seen[t] {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		typeKeys(t.Elem(), path, out, seen)
	case reflect.Struct:
		seen[t] = true
		defer delete(seen, t)
		for name, f := range yamlFields(t) {
			p := join(path, name)
			out[p] = true
			typeKeys(f.Type, p, out, seen)
		}
	case reflect.Map:
		if e := t.Elem(); !isLeaf(e) && e.Kind() != reflect.Slice {
			typeKeys(e, path+".*", out, seen)
		}
	case reflect.Slice:
		typeKeys(t.Elem(), path+"[]", out, seen)
	}
}

// exampleKeys adds the path of every key in n, read as t (so that a map's keys are "*").
func exampleKeys(n *yaml.Node, t reflect.Type, path string, out map[string]bool) {
	if n == nil || isLeaf(t) {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		exampleKeys(n, t.Elem(), path, out)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			p := join(path, key)
			out[p] = true
			if f, ok := fields[key]; ok {
				exampleKeys(n.Content[i+1], f.Type, p, out)
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			exampleKeys(n.Content[i+1], t.Elem(), path+".*", out)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			exampleKeys(c, t.Elem(), path+"[]", out)
		}
	}
}
