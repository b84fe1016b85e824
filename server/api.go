package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// ServiceSummary is one row of GET /api/v1/services.
type ServiceSummary struct {
	Service string          `json:"service"`
	Score   float64         `json:"score"`
	Band    string          `json:"band"`
	Level   string          `json:"level"`
	Trend   json.RawMessage `json:"trend"`
	Origin  string          `json:"origin,omitempty"`
}

func (s *Server) listServices(c echo.Context) error {
	rows, err := s.d.DB.ListScores(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]ServiceSummary, 0, len(rows))
	for _, r := range rows {
		sum := ServiceSummary{Service: r.Service, Score: r.Score, Band: r.Band, Level: r.Level, Trend: json.RawMessage(r.Trend)}
		if svc, ok := s.d.Catalog.Get(r.Service); ok {
			sum.Origin = svc.Origin
		}
		out = append(out, sum)
	}
	return c.JSON(http.StatusOK, map[string]any{"services": out})
}

// unknownService answers 404 naming the closest services.
func (s *Server) unknownService(name string) error {
	if _, ok := s.d.Catalog.Get(name); ok {
		return &releaseops.Error{Code: releaseops.ENOTFOUND, Message: fmt.Sprintf("service %q has not been scored yet", name),
			Detail: "it is in the catalog; its first score is stored within a second of the next rescore round"}
	}
	e := releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", name)
	if near := s.d.Catalog.Closest(name, 3); len(near) > 0 {
		e.Detail = "did you mean " + strings.Join(near, ", ") + "?"
	}
	return e
}

func (s *Server) getService(c echo.Context) error {
	name := c.Param("name")
	row, err := s.d.DB.GetScore(c.Request().Context(), name)
	if errors.Is(err, storage.ErrNotFound) {
		return s.unknownService(name)
	}
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, row.Card)
}

func (s *Server) history(c echo.Context) error {
	name := c.Param("name")
	days := 30
	if v := c.QueryParam("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3650 {
			return releaseops.Errorf(releaseops.EMALFORMED, "days must be a whole number from 1 to 3650, got %q", v)
		}
		days = n
	}
	if _, err := s.d.DB.GetScore(c.Request().Context(), name); errors.Is(err, storage.ErrNotFound) {
		return s.unknownService(name)
	}
	since := s.d.Now().Add(-time.Duration(days) * 24 * time.Hour)
	pts, err := s.d.DB.History(c.Request().Context(), name, since)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"service": name, "days": days, "history": pts})
}

func (s *Server) listEvents(c echo.Context) error {
	f := storage.DeliveryFilter{Source: c.QueryParam("source"), Service: c.QueryParam("service"), Type: c.QueryParam("type"), Outcome: c.QueryParam("outcome")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return releaseops.Errorf(releaseops.EMALFORMED, "limit must be a whole number from 1 to 1000, got %q", v)
		}
		f.Limit = n
	}
	rows, err := s.d.DB.ListDeliveries(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"events": rows})
}

func (s *Server) getEvent(c echo.Context) error {
	row, err := s.d.DB.GetDelivery(c.Request().Context(), c.Param("source"), c.Param("delivery"))
	if errors.Is(err, storage.ErrNotFound) {
		return releaseops.Errorf(releaseops.ENOTFOUND, "no %s delivery %q", c.Param("source"), c.Param("delivery"))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, row)
}

func (s *Server) listUnmapped(c echo.Context) error {
	rows, err := s.d.DB.ListUnmapped(c.Request().Context())
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []storage.UnmappedSubject{}
	}
	return c.JSON(http.StatusOK, map[string]any{"unmapped": rows})
}
