// Package playbooks holds one Markdown playbook per scoring dimension: what is measured, why it
// matters, how to improve it step by step, and what evidence counts. They are embedded in the
// binary, served at /playbooks/{id}, and linked from every weak dimension.
package playbooks

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.md
var files embed.FS

// Get returns the Markdown of the playbook with the id (a dimension id such as
// "branch_governance").
func Get(id string) ([]byte, bool) {
	if id == "" || strings.ContainsAny(id, "/\\.") {
		return nil, false
	}
	b, err := files.ReadFile(id + ".md")
	if err != nil {
		return nil, false
	}
	return b, true
}

// IDs lists the playbook ids, sorted.
func IDs() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil
	}
	var ids []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".md"); ok && !e.IsDir() {
			ids = append(ids, name)
		}
	}
	slices.Sort(ids)
	return ids
}

// Title returns the playbook's first Markdown heading, without the leading "# ".
func Title(id string) string {
	b, ok := Get(id)
	if !ok {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if t, ok := strings.CutPrefix(line, "# "); ok {
			return strings.TrimSpace(t)
		}
	}
	return id
}
