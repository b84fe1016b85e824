// Package server is ReleaseOps' HTTP surface: the webhook receivers, the /api/v1 API, health,
// metrics, and the mount points where the Slack bot, the gate and the web pages add routes.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/storage"
)

// Deps are what the server needs. Everything is required except Now (default time.Now).
type Deps struct {
	Config   *config.Config
	DB       *storage.DB
	Pipeline *ingest.Pipeline
	Catalog  *catalog.Catalog
	Metrics  *Metrics
	Log      *slog.Logger
	Now      func() time.Time
}

// Server is the HTTP server.
type Server struct {
	d        Deps
	e        *echo.Echo
	api      *echo.Group
	auth     *tokenAuth
	inflight chan struct{}
	limits   map[string]*rate.Limiter
	http     *http.Server
	trust    TrustFunc // nil: GET /api/v1/services/{name} has no "trust"
}

// New builds the server and its routes.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log)
	s := &Server{d: d, e: e, auth: newTokenAuth(d.Config.API.Tokens), inflight: make(chan struct{}, d.Config.Server.MaxInFlight), limits: map[string]*rate.Limiter{}}
	for src, perSec := range d.Config.Server.RateLimits {
		if perSec > 0 {
			s.limits[src] = rate.NewLimiter(rate.Limit(perSec), max(1, int(perSec)))
		}
	}
	e.Use(d.Metrics.middleware, s.shed)

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(d.Metrics.Registry, promhttp.HandlerOpts{})))

	for _, src := range []string{releaseops.SourceGitHub, releaseops.SourcePagerDuty, releaseops.SourceDeploy, releaseops.SourceTerraform} {
		e.POST("/webhooks/"+src, s.webhook(src))
	}

	s.api = e.Group("/api/v1")
	s.api.GET("/services", s.listServices, s.Require("read"))
	s.api.GET("/services/:name", s.getService, s.Require("read"))
	s.api.GET("/services/:name/history", s.history, s.Require("read"))
	s.api.GET("/events", s.listEvents, s.Require("read"))
	s.api.GET("/events/:source/:delivery", s.getEvent, s.Require("read"))
	s.api.GET("/unmapped", s.listUnmapped, s.Require("read"))
	return s
}

// Echo returns the router, for packages that mount their own routes (bot, web).
func (s *Server) Echo() *echo.Echo { return s.e }

// API returns the /api/v1 group; protect routes with Require.
func (s *Server) API() *echo.Group { return s.api }

// Serve serves HTTP on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	cfg := s.d.Config.Server
	s.http = &http.Server{
		Handler:           s.e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.ReadTimeout.Std(),
		WriteTimeout:      cfg.WriteTimeout.Std(),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.d.Log.Handler(), slog.LevelWarn),
	}
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// Shutdown stops accepting connections and waits for in-flight requests.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	return s.http.Shutdown(ctx)
}

// shed refuses work beyond max_in_flight with 503 and Retry-After, before reading the body:
// every webhook sender retries a 503, so nothing is lost and the server stays responsive.
func (s *Server) shed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Path() {
		case "/healthz", "/readyz", "/metrics":
			return next(c)
		}
		select {
		case s.inflight <- struct{}{}:
			defer func() { <-s.inflight }()
			return next(c)
		default:
			s.d.Metrics.rejected.WithLabelValues("in_flight").Inc()
			c.Response().Header().Set("Retry-After", "1")
			return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "server busy", Detail: "too many requests in flight; retry after 1 s"}
		}
	}
}

// ReadBody reads the request body up to limit bytes; a larger body is ETOOLARGE.
func ReadBody(c echo.Context, limit int64) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > limit {
		return nil, releaseops.Errorf(releaseops.ETOOLARGE, "body of %d bytes exceeds the %d byte limit", r.ContentLength, limit)
	}
	rd := http.MaxBytesReader(c.Response(), r.Body, limit)
	var body []byte
	var err error
	if r.ContentLength > 0 {
		// The length is known: one allocation of the right size instead of ReadAll's doubling
		// (which allocates about twice the body on every webhook).
		body = make([]byte, r.ContentLength)
		if _, err = io.ReadFull(rd, body); err == nil {
			var one [1]byte
			if n, _ := rd.Read(one[:]); n > 0 {
				err = releaseops.Errorf(releaseops.EMALFORMED, "body is longer than its Content-Length")
			}
		}
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var ae *releaseops.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, releaseops.Errorf(releaseops.ETOOLARGE, "body exceeds the %d byte limit", limit)
		}
		return nil, &releaseops.Error{Code: releaseops.EMALFORMED, Message: "cannot read body", Err: err}
	}
	return body, nil
}

var secretKeys = map[string]string{
	releaseops.SourceGitHub:    "github.webhook_secret (or RELEASEOPS_GITHUB_WEBHOOK_SECRET)",
	releaseops.SourcePagerDuty: "pagerduty.webhook_secrets (or RELEASEOPS_PAGERDUTY_WEBHOOK_SECRETS)",
	releaseops.SourceDeploy:    "deploy.webhook_secret (or RELEASEOPS_DEPLOY_WEBHOOK_SECRET)",
	releaseops.SourceTerraform: "terraform.webhook_secret (or RELEASEOPS_TERRAFORM_WEBHOOK_SECRET)",
}

// webhook receives one source's deliveries: 202 once stored, 200 for a redelivery.
func (s *Server) webhook(source string) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := s.d.Pipeline.Sources[source]; !ok {
			return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: source + " webhooks are not configured", Detail: "set " + secretKeys[source]}
		}
		if l := s.limits[source]; l != nil && !l.Allow() {
			s.d.Metrics.rejected.WithLabelValues("rate_" + source).Inc()
			c.Response().Header().Set("Retry-After", "1")
			return echo.NewHTTPError(http.StatusTooManyRequests, source+" rate limit exceeded; retry after 1 s")
		}
		body, err := ReadBody(c, s.d.Config.Server.MaxBodyBytes)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.Request().Context(), 8*time.Second)
		defer cancel()
		res, err := s.d.Pipeline.Receive(ctx, source, c.Request().Header, body, true)
		if err != nil {
			return err
		}
		status := http.StatusAccepted
		if res.Outcome == releaseops.OutcomeDuplicate {
			status = http.StatusOK
		}
		return c.JSON(status, res)
	}
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.d.DB.Ping(ctx); err != nil {
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "database unreachable", Err: err}
	}
	v, err := s.d.DB.SchemaVersion(ctx)
	if err != nil {
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "database unreachable", Err: err}
	}
	if want := s.d.DB.ExpectedSchemaVersion(); v != want {
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "migrations not applied",
			Detail: "schema version " + strconv.Itoa(v) + ", want " + strconv.Itoa(want)}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "schema_version": v, "driver": s.d.DB.Driver(),
		"leases": s.d.DB.HeldLeases()})
}
