package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/style.css
var stylesheet string

// styleHash is the CSP source of the inline stylesheet; it changes with the file, so the
// policy never needs editing by hand.
var styleHash = func() string {
	sum := sha256.Sum256([]byte(stylesheet))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}()

// pageNames are the page templates; each defines "content" and is rendered inside the layout.
var pageNames = []string{"list", "service", "heatmap", "event", "playbooks", "playbook", "error", "auth",
	"teams", "team", "approvals", "audit"}

// pages holds one parsed template set per page. Parsing happens once, at start: the templates
// are embedded, so a parse error is a build defect that the tests catch.
var pages = func() map[string]*template.Template {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts*.html"))
	out := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t := template.Must(base.Clone())
		out[name] = template.Must(t.ParseFS(templateFiles, "templates/"+name+".html"))
	}
	return out
}()

// page is what the layout reads from every view.
type page struct {
	Title string
	Nav   string // the highlighted navigation entry: services, heatmap, playbooks
}

// Style is the inline stylesheet. It is trusted: it comes from the binary.
func (page) Style() template.CSS { return template.CSS(stylesheet) }

// frame is what the layout executes: the page's view, and the signed-in reader for the
// header. Keeping the reader out of the views spares every handler from passing it on.
type frame struct {
	View   any
	Viewer *viewer
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render executes a page into a buffer first, so a template error becomes a clean 500 rather
// than half a page with a 200 status.
func (h *handler) render(c echo.Context, status int, name string, view any) error {
	buf := buffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer buffers.Put(buf)
	if err := renderFrame(buf, name, frame{View: view, Viewer: viewerOf(c)}); err != nil {
		h.d.Log.Error("render page", "page", name, "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		if err := renderTo(buf, "error", errorPage{page: page{Title: "Something went wrong"}, Heading: "Something went wrong",
			Message: "The page could not be rendered. The cause is in the server log."}); err != nil {
			return fmt.Errorf("render error page: %w", err)
		}
	}
	return c.HTMLBlob(status, buf.Bytes())
}

func renderTo(buf *bytes.Buffer, name string, view any) error {
	return renderFrame(buf, name, frame{View: view})
}

func renderFrame(buf *bytes.Buffer, name string, f frame) error {
	t, ok := pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	if err := t.ExecuteTemplate(buf, "layout.html", f); err != nil {
		return fmt.Errorf("execute %s: %w", name, err)
	}
	return nil
}

// errorPage is the view of the 400, 404 and 500 pages.
type errorPage struct {
	page
	Heading string
	Message string
	// Closest are service names that resemble an unknown one.
	Closest []string
	// Links are where the reader may want to go instead.
	Links []link
}

type link struct {
	Href  string
	Label string
}
