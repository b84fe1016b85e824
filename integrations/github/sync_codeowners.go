package github

import (
	"context"
	"net/url"
	"path"

	gh "github.com/google/go-github/v62/github"
)

// codeownersPaths are where GitHub looks for CODEOWNERS, in the order it looks: the first
// found is the one it uses.
var codeownersPaths = []string{".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"}

// dirMemo is a subtree read for CODEOWNERS. A tree's sha is the hash of its content, so
// what it held is known for as long as the root names the same sha.
type dirMemo struct {
	SHA        string `json:"sha"`
	Codeowners bool   `json:"codeowners,omitempty"`
}

// readCodeowners finds the CODEOWNERS file GitHub uses from the git trees of the branch
// head, tree (a sha, or the branch name). Unlike the contents API, which answers an absent
// file with a 404 that cannot be asked conditionally, trees cost nothing while they do not
// change: a root tree already read needs no call at all, and a subtree is read only when
// the root names a sha not read before, and only as far as the precedence needs.
func (r *repoRead) readCodeowners(ctx context.Context, old, next *branchMemo, tree string) ([]*fetched, error) {
	if old != nil && old.Tree != "" && old.Tree == tree {
		next.Tree, next.Dirs, next.Codeowners = old.Tree, old.Dirs, old.Codeowners
		return nil, nil
	}
	root, call, err := r.readTree(ctx, tree)
	if err != nil {
		return nil, err
	}
	calls := []*fetched{call}
	next.Tree = firstNonEmpty(root.GetSHA(), tree)
	next.Dirs = map[string]dirMemo{}
	for _, p := range codeownersPaths {
		dir, file := path.Split(p)
		present := false
		if dir == "" {
			_, present = treeEntry(root, file, "blob")
		} else if sha, ok := treeEntry(root, path.Clean(dir), "tree"); ok {
			d, known := dirMemo{}, false
			if old != nil {
				d, known = old.Dirs[path.Clean(dir)]
			}
			if !known || d.SHA != sha {
				sub, call, err := r.readTree(ctx, sha)
				if err != nil {
					return nil, err
				}
				calls = append(calls, call)
				_, has := treeEntry(sub, file, "blob")
				d = dirMemo{SHA: sha, Codeowners: has}
			}
			next.Dirs[path.Clean(dir)] = d
			present = d.Codeowners
		}
		next.Codeowners[p] = present
		if present {
			break
		}
	}
	return calls, nil
}

// readTree reads one tree, not recursively: CODEOWNERS is never deeper than one level, so
// GitHub's truncation of large recursive trees does not arise.
func (r *repoRead) readTree(ctx context.Context, ref string) (*gh.Tree, *fetched, error) {
	// No ETag is kept: a sha names one content for ever, and a tree is only asked for
	// when its sha is new.
	resp, err := r.f.get(ctx, r.base()+"/git/trees/"+url.PathEscape(ref), getOpts{})
	if err != nil {
		return nil, nil, err
	}
	var t gh.Tree
	if err := r.f.decode(resp, resp.Body, &t); err != nil {
		return nil, nil, err
	}
	return &t, resp, nil
}

// treeEntry finds the entry called name of type typ ("blob", "tree") and returns its sha.
// A directory called CODEOWNERS, or a submodule called .github, is not what GitHub reads.
func treeEntry(t *gh.Tree, name, typ string) (string, bool) {
	for _, e := range t.Entries {
		if e.GetPath() == name && e.GetType() == typ && e.GetSHA() != "" {
			return e.GetSHA(), true
		}
	}
	return "", false
}
