package web

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"

	"github.com/releaseops/releaseops/playbooks"
)

// markdown renders playbooks as GitHub does (tables, autolinks) with heading anchors, so a
// link can point at "#how-to-improve". Raw HTML in the Markdown is dropped: goldmark only
// passes it through with html.WithUnsafe, which is not set.
var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
)

type renderedPlaybook struct {
	ID    string
	Title string
	Intro template.HTML // the first paragraph, for the index
	Body  template.HTML
}

// renderPlaybooks converts every embedded playbook once: they are fixed at build time, and
// converting per request would redo the same work on every click from Slack.
func renderPlaybooks() (map[string]renderedPlaybook, error) {
	out := map[string]renderedPlaybook{}
	for _, id := range playbooks.IDs() {
		src, ok := playbooks.Get(id)
		if !ok {
			return out, fmt.Errorf("playbook %s listed but not readable", id)
		}
		body, err := toHTML(src)
		if err != nil {
			return out, fmt.Errorf("render playbook %s: %w", id, err)
		}
		intro, err := toHTML([]byte(firstParagraph(string(src))))
		if err != nil {
			return out, fmt.Errorf("render playbook %s intro: %w", id, err)
		}
		out[id] = renderedPlaybook{ID: id, Title: playbooks.Title(id), Intro: intro, Body: body}
	}
	return out, nil
}

// toHTML is trusted output: goldmark escapes text and drops raw HTML.
func toHTML(src []byte) (template.HTML, error) {
	var buf bytes.Buffer
	if err := markdown.Convert(src, &buf); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}

// firstParagraph is the text between the title and the first blank line after it.
func firstParagraph(md string) string {
	var lines []string
	for _, line := range strings.Split(md, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "#"):
			if len(lines) > 0 {
				return strings.Join(lines, "\n")
			}
		case t == "":
			if len(lines) > 0 {
				return strings.Join(lines, "\n")
			}
		default:
			lines = append(lines, t)
		}
	}
	return strings.Join(lines, "\n")
}

type playbookIndexView struct {
	page
	Playbooks []renderedPlaybook
}

type playbookView struct {
	page
	Playbook renderedPlaybook
	Others   []renderedPlaybook
}

func (h *handler) ordered() []renderedPlaybook {
	out := make([]renderedPlaybook, 0, len(h.playbooks))
	for _, id := range playbooks.IDs() {
		if p, ok := h.playbooks[id]; ok {
			out = append(out, p)
		}
	}
	return out
}

func (h *handler) playbookIndex(c echo.Context) error {
	return h.render(c, http.StatusOK, "playbooks", playbookIndexView{page: page{Title: "Playbooks", Nav: "playbooks"}, Playbooks: h.ordered()})
}

// playbook serves /playbooks/{id}. It is linked from Slack, so it must work for anyone the
// link reaches; an unknown id lists the playbooks that exist.
func (h *handler) playbook(c echo.Context) error {
	id := param(c, "id")
	p, ok := h.playbooks[id]
	if !ok {
		links := []link{{Href: "/playbooks", Label: "All playbooks"}}
		for _, o := range h.ordered() {
			links = append(links, link{Href: playbookURL(o.ID), Label: o.Title})
		}
		return h.notFound(c, "Unknown playbook", fmt.Sprintf("There is no playbook %q.", id), nil, links...)
	}
	v := playbookView{page: page{Title: p.Title, Nav: "playbooks"}, Playbook: p}
	for _, o := range h.ordered() {
		if o.ID != id {
			v.Others = append(v.Others, o)
		}
	}
	return h.render(c, http.StatusOK, "playbook", v)
}
