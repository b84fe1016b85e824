// Package web serves ReleaseOps' read-only pages (SPEC §7, §8): the services list, a service's
// scorecard with its evidence and history chart, the heat map, raw deliveries and the
// playbooks. Pages are rendered on the server with html/template and work with JavaScript off;
// every byte they need (templates, stylesheet) is embedded in the binary.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// Store is the storage the pages read. *storage.DB implements it.
type Store interface {
	GetScore(ctx context.Context, service string) (storage.ScoreRow, error)
	ListScores(ctx context.Context) ([]storage.ScoreRow, error)
	History(ctx context.Context, service string, since time.Time) ([]storage.HistoryPoint, error)
	ScoreAt(ctx context.Context, service string, t time.Time) (storage.HistoryPoint, bool, error)
	GetDelivery(ctx context.Context, source, deliveryID string) (storage.DeliveryRow, error)
}

// Catalog is what the pages need of the catalog: owner and repository for the service page,
// and "did you mean" names for an unknown service. *catalog.Catalog implements it.
type Catalog interface {
	Get(name string) (releaseops.Service, bool)
	Closest(name string, n int) []string
}

// Deps are what the pages need. DB, Catalog and Log are required.
type Deps struct {
	DB      Store
	Catalog Catalog
	Log     *slog.Logger
	// Now is the clock for "updated 2 h ago" and the chart's time axis (default time.Now).
	Now func() time.Time
	// Thresholds draw the band lines of the history chart: the production thresholds, the
	// ones the stored bands were computed with (default scoring.DefaultThresholds).
	Thresholds scoring.Thresholds
	// HistoryWindow is the span of the history chart (default 30 days).
	HistoryWindow time.Duration
	// Timeout bounds each page's storage reads (default 5 s).
	Timeout time.Duration
	// Auth decides who may read the pages that show evidence (nil: everyone, web.auth none).
	Auth *Auth
	// Deploy, if set, gives the service page what the gate would answer a production deploy
	// now: its release risk, the window and the trust ladder.
	Deploy DeployPreviewer
	// Initiatives, if set, serves /initiatives and /initiatives/{id}.
	Initiatives InitiativeSource
}

// Register mounts the pages on e. Every page that shows evidence goes through Deps.Auth; the
// playbooks stay public, because every Slack post and gate answer links to them. With the
// built-in sign-in, /auth/login, /auth/callback and /auth/logout are mounted too.
func Register(e *echo.Echo, d Deps) {
	h := newHandler(d)
	private := []echo.MiddlewareFunc{secureHeaders, h.protect}
	public := []echo.MiddlewareFunc{secureHeaders, h.identify}
	// HEAD too, as monitors and link checkers ask; net/http drops the body.
	mount := func(path string, fn echo.HandlerFunc, mw []echo.MiddlewareFunc) {
		e.GET(path, fn, mw...)
		e.HEAD(path, fn, mw...)
	}
	mount("/", h.list, private)
	mount("/services/:name", h.service, private)
	mount("/heatmap", h.heatmap, private)
	mount("/events/:source/:delivery", h.event, private)
	if d.Initiatives != nil {
		mount("/initiatives", h.initiatives, private)
		mount("/initiatives/:id", h.initiative, private)
	}
	mount("/playbooks", h.playbookIndex, public)
	mount("/playbooks/:id", h.playbook, public)
	if d.Auth.Mode() == AuthOIDC {
		e.GET("/auth/login", h.login, secureHeaders)
		e.GET("/auth/callback", h.callback, secureHeaders)
		e.GET("/auth/logout", h.logoutForm, secureHeaders)
		e.POST("/auth/logout", h.logout, secureHeaders)
	}
}

type handler struct {
	d         Deps
	playbooks map[string]renderedPlaybook
}

func newHandler(d Deps) *handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Thresholds == (scoring.Thresholds{}) {
		d.Thresholds = scoring.DefaultThresholds
	}
	if d.HistoryWindow <= 0 {
		d.HistoryWindow = scoring.DefaultTrendWindow
	}
	if d.Timeout <= 0 {
		d.Timeout = 5 * time.Second
	}
	h := &handler{d: d}
	pbs, err := renderPlaybooks()
	if err != nil {
		// Only a broken embedded playbook gets here; the test suite renders every one, so
		// this is logged rather than refusing to start the rest of the service.
		d.Log.Error("render playbooks", "err", err)
	}
	h.playbooks = pbs
	return h
}

// ctx bounds a page's work by the request's context and the page timeout, so a slow disk or
// a client that went away never holds a read connection for long.
func (h *handler) ctx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), h.d.Timeout)
}

// param returns a path parameter decoded. Echo matches on the raw path when the request has
// one (a name with an escaped "/" or "%") and then leaves the parameter escaped.
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// contentSecurityPolicy allows nothing but the inline stylesheet (by hash) and inline SVG:
// the pages run no script at all, so an escaping bug could not execute one either.
var contentSecurityPolicy = "default-src 'none'; style-src '" + styleHash + "'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		return next(c)
	}
}

// serverError logs the cause and shows a page that names none of it: storage errors can
// carry paths and SQL that are no business of a reader.
func (h *handler) serverError(c echo.Context, what string, err error) error {
	h.d.Log.Error("web page failed", "page", what, "path", c.Request().URL.Path, "err", err)
	return h.render(c, http.StatusInternalServerError, "error", errorPage{
		page:    page{Title: "Something went wrong"},
		Heading: "Something went wrong",
		Message: "The page could not be built. The cause is in the server log.",
	})
}
