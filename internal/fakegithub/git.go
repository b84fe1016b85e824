package fakegithub

import (
	"crypto/sha1" //nolint:gosec // git names objects by SHA-1; nothing here is a security check
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"
)

// The default branch's files are hashed as git hashes them, so that a tree's sha changes
// exactly when something under it does: a reader that skips a subtree whose sha it has seen
// is right to, and one that does not notice a change is caught.

type gitEntry struct {
	name string
	mode string // as the trees API shows it: 100644, 040000
	typ  string // blob, tree
	sha  string
	size int
}

type gitTree struct {
	sha     string
	entries []gitEntry
}

// gitSnapshot is the head of the default branch.
type gitSnapshot struct {
	files  map[string]string   // path → content
	blobs  map[string]string   // sha → content
	trees  map[string]*gitTree // sha → tree
	paths  map[string]string   // tree path ("" root) → sha
	root   string
	commit string
	parent string
	at     time.Time
}

func blobSHA(content string) string {
	h := sha1.New() //nolint:gosec // git object names
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write([]byte(content))
	return hex.EncodeToString(h.Sum(nil))
}

// snapshot builds the git objects of files, committed at at.
func snapshot(full string, files map[string]string, at time.Time) *gitSnapshot {
	g := &gitSnapshot{files: files, blobs: map[string]string{}, trees: map[string]*gitTree{}, paths: map[string]string{}, at: at}
	dirs := map[string]map[string]bool{"": {}}
	var all []string
	for p := range files {
		all = append(all, p)
	}
	sort.Strings(all)
	for _, p := range all {
		for d := path.Dir(p); ; d = path.Dir(d) {
			if d == "." {
				d = ""
			}
			if dirs[d] == nil {
				dirs[d] = map[string]bool{}
			}
			if d == "" {
				break
			}
		}
		dir := path.Dir(p)
		if dir == "." {
			dir = ""
		}
		dirs[dir][p] = false
		for d := dir; d != ""; {
			parent := path.Dir(d)
			if parent == "." {
				parent = ""
			}
			dirs[parent][d] = true
			d = parent
		}
	}
	g.root = g.hashDir("", dirs)
	parent := sha1.Sum([]byte("parent of " + full)) //nolint:gosec // a stable fake parent commit
	g.parent = hex.EncodeToString(parent[:])
	stamp := fmt.Sprintf("%d +0000", at.Unix())
	body := fmt.Sprintf("tree %s\nparent %s\nauthor Octo Cat <octocat@example.com> %s\ncommitter GitHub <noreply@github.com> %s\n\nUpdate %s\n",
		g.root, g.parent, stamp, stamp, full)
	h := sha1.New() //nolint:gosec // git object names
	fmt.Fprintf(h, "commit %d\x00%s", len(body), body)
	g.commit = hex.EncodeToString(h.Sum(nil))
	return g
}

// hashDir hashes one directory (after its subdirectories) the way git writes a tree object.
func (g *gitSnapshot) hashDir(dir string, dirs map[string]map[string]bool) string {
	var entries []gitEntry
	for p, isDir := range dirs[dir] {
		name := path.Base(p)
		if isDir {
			entries = append(entries, gitEntry{name: name, mode: "040000", typ: "tree", sha: g.hashDir(p, dirs)})
			continue
		}
		content := g.files[p]
		sha := blobSHA(content)
		g.blobs[sha] = content
		entries = append(entries, gitEntry{name: name, mode: "100644", typ: "blob", sha: sha, size: len(content)})
	}
	// git sorts a tree's entries by name, a directory as if its name ended in "/".
	key := func(e gitEntry) string {
		if e.typ == "tree" {
			return e.name + "/"
		}
		return e.name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	var raw strings.Builder
	for _, e := range entries {
		mode := strings.TrimPrefix(e.mode, "0")
		b, _ := hex.DecodeString(e.sha)
		raw.WriteString(mode + " " + e.name + "\x00" + string(b))
	}
	h := sha1.New() //nolint:gosec // git object names
	fmt.Fprintf(h, "tree %d\x00", raw.Len())
	h.Write([]byte(raw.String()))
	sha := hex.EncodeToString(h.Sum(nil))
	g.trees[sha] = &gitTree{sha: sha, entries: entries}
	g.paths[dir] = sha
	return sha
}

// resolveTree finds a tree by its sha, the commit's sha, or the branch name, as the trees
// API accepts any of them.
func (g *gitSnapshot) resolveTree(ref, branch string) (*gitTree, bool) {
	if ref == branch || ref == g.commit || ref == "refs/heads/"+branch {
		return g.trees[g.root], true
	}
	t, ok := g.trees[ref]
	return t, ok
}

// dir lists the entries of a directory path ("" is the root), or false.
func (g *gitSnapshot) dir(p string) ([]gitEntry, bool) {
	sha, ok := g.paths[strings.Trim(p, "/")]
	if !ok {
		return nil, false
	}
	return g.trees[sha].entries, true
}
