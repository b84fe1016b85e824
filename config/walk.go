package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/releaseops/releaseops/internal/nearest"
)

// checkNode compares a YAML tree with the Go type it will be decoded into and reports every
// unknown key and every value of the wrong type with its YAML path ("services[2].tier"). The
// yaml package alone stops at the first error and names lines, not keys.
func checkNode(n *yaml.Node, t reflect.Type, path string, problems *[]string) {
	if n == nil {
		return
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			checkNode(c, t, path, problems)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		checkNode(n.Alias, t, path, problems)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if isLeaf(t) {
		if n.Kind != yaml.ScalarNode {
			*problems = append(*problems, fmt.Sprintf("%s: want %s, got %s", display(path), describe(t), nodeKind(n)))
			return
		}
		v := reflect.New(t)
		if err := n.Decode(v.Interface()); err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %s", display(path), cleanYAMLError(err, t)))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkNode(n, t.Elem(), path, problems)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			*problems = append(*problems, fmt.Sprintf("%s: want a mapping, got %s", display(path), nodeKind(n)))
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i].Value, n.Content[i+1]
			f, ok := fields[key]
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s: unknown key%s", join(path, key), suggest(key, fields)))
				continue
			}
			checkNode(val, f.Type, join(path, key), problems)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			*problems = append(*problems, fmt.Sprintf("%s: want a mapping, got %s", display(path), nodeKind(n)))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), problems)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			*problems = append(*problems, fmt.Sprintf("%s: want a list, got %s", display(path), nodeKind(n)))
			return
		}
		for i, c := range n.Content {
			checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), problems)
		}
	}
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// isLeaf reports whether t decodes from one scalar.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func describe(t reflect.Type) string {
	switch t.Name() {
	case "Duration":
		return "a duration such as 30m, 12h or 30d"
	case "Secret":
		return "a string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

func cleanYAMLError(err error, t reflect.Type) string {
	msg := err.Error()
	if te, ok := err.(*yaml.TypeError); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if strings.Contains(msg, "cannot unmarshal") {
		return "want " + describe(t)
	}
	return msg
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func display(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

// suggest names the closest known key, for typos like "webhook_secert".
func suggest(key string, fields map[string]reflect.StructField) string {
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	return nearest.Suggest(key, known)
}
