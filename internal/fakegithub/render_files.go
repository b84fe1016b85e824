package fakegithub

import (
	"encoding/base64"
	"net/http"
	"path"
	"strings"
)

// treeJSON renders GET .../git/trees/{sha}; recursive lists every entry below, depth first,
// each path relative to the tree asked for, as GitHub does.
func (s *Server) treeJSON(full string, g *gitSnapshot, t *gitTree, recursive bool) map[string]any {
	base := s.repoAPI(full)
	entries := []any{}
	var walk func(t *gitTree, prefix string)
	walk = func(t *gitTree, prefix string) {
		for _, e := range t.entries {
			item := map[string]any{"path": prefix + e.name, "mode": e.mode, "type": e.typ, "sha": e.sha}
			if e.typ == "blob" {
				item["size"] = e.size
				item["url"] = base + "/git/blobs/" + e.sha
			} else {
				item["url"] = base + "/git/trees/" + e.sha
			}
			entries = append(entries, item)
			if recursive && e.typ == "tree" {
				walk(g.trees[e.sha], prefix+e.name+"/")
			}
		}
	}
	walk(t, "")
	return map[string]any{"sha": t.sha, "url": base + "/git/trees/" + t.sha, "tree": entries, "truncated": false}
}

// contentEntry is one file or directory as the contents API describes it.
func (s *Server) contentEntry(full, branch, p string, e gitEntry) map[string]any {
	base := s.repoAPI(full)
	self := base + "/contents/" + p + "?ref=" + branch
	m := map[string]any{"name": e.name, "path": p, "sha": e.sha, "url": self, "type": "file", "size": e.size}
	if e.typ == "tree" {
		m["type"], m["size"] = "dir", 0
		m["html_url"] = "https://github.com/" + full + "/tree/" + branch + "/" + p
		m["git_url"] = base + "/git/trees/" + e.sha
		m["download_url"] = nil
	} else {
		m["html_url"] = "https://github.com/" + full + "/blob/" + branch + "/" + p
		m["git_url"] = base + "/git/blobs/" + e.sha
		m["download_url"] = "https://raw.githubusercontent.com/" + full + "/" + branch + "/" + p
	}
	m["_links"] = map[string]any{"self": self, "git": m["git_url"], "html": m["html_url"]}
	return m
}

// wrap64 is GitHub's base64 of file content: lines of 60 characters, each ending in \n.
func wrap64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	if enc != "" {
		sb.WriteString(enc + "\n")
	}
	return sb.String()
}

// contents answers GET .../contents/{path}: a file with its content, a directory as the
// list of its entries, else 404.
func (s *Server) contents(c *call, e *repoEntry) reply {
	r := &e.repo
	g := s.snap(e)
	if ref := c.r.URL.Query().Get("ref"); ref != "" && ref != r.DefaultBranch && ref != g.commit && ref != "refs/heads/"+r.DefaultBranch {
		return s.errorReply(http.StatusNotFound, "No commit found for the ref "+ref, "https://docs.github.com/rest/repos/contents#get-repository-content")
	}
	p := strings.Trim(c.param("path"), "/")
	if entries, ok := g.dir(p); ok {
		out := make([]any, len(entries))
		for i, en := range entries {
			out[i] = s.contentEntry(r.FullName, r.DefaultBranch, path.Join(p, en.name), en)
		}
		return s.jsonReply(http.StatusOK, out)
	}
	content, ok := g.files[p]
	if !ok {
		return s.notFound("https://docs.github.com/rest/repos/contents#get-repository-content")
	}
	en := gitEntry{name: path.Base(p), typ: "blob", sha: blobSHA(content), size: len(content)}
	m := s.contentEntry(r.FullName, r.DefaultBranch, p, en)
	m["content"], m["encoding"] = wrap64([]byte(content)), "base64"
	return s.jsonReply(http.StatusOK, m)
}
