package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
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
	switch inc := c.QueryParam("include"); {
	case inc != "" && inc != "trust":
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "include: unknown value " + strconv.Quote(inc), Detail: "the one value is trust"}
	case inc == "trust" && s.trust == nil:
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "the trust ladder is off: release risk is not configured"}
	}
	name := c.Param("name")
	row, err := s.d.DB.GetScore(c.Request().Context(), name)
	if errors.Is(err, storage.ErrNotFound) {
		return s.unknownService(name)
	}
	if err != nil {
		return err
	}
	card := row.Card
	// The trust ladder is replayed from the service's deploys (a few milliseconds, tens at
	// 10,000 services): only on request, so the scorecard read stays as fast as it was.
	if s.trust != nil && c.QueryParam("include") == "trust" {
		l, err := s.trust(c.Request().Context(), name)
		if err != nil {
			return fmt.Errorf("trust ladder of %s: %w", name, err)
		}
		if l != nil {
			if card, err = withTrust(card, l); err != nil {
				return fmt.Errorf("scorecard of %s: %w", name, err)
			}
		}
	}
	return c.JSONBlob(http.StatusOK, card)
}

// TrustFunc returns a service's place on the trust ladder for GET /api/v1/services/{name};
// nil, nil leaves the field out (release risk off, or a service the gate does not know).
type TrustFunc func(ctx context.Context, service string) (*risk.Ladder, error)

// SetTrust makes GET /api/v1/services/{name} carry "trust". The gate computes the ladder from
// stored deploys; the server does not depend on the gate, so the app wires it here.
func (s *Server) SetTrust(f TrustFunc) { s.trust = f }

// trustJSON is the "trust" field: steps is always a list, so clients need no null case.
type trustJSON struct {
	Rung  int               `json:"rung"`
	Top   int               `json:"top"`
	Steps []risk.LadderStep `json:"steps"`
}

// withTrust appends "trust" to the stored card's JSON object. Splicing the bytes rather than
// decoding and re-encoding the card keeps every other field, and its order, exactly as stored.
func withTrust(card []byte, l *risk.Ladder) ([]byte, error) {
	t := trustJSON{Rung: l.Rung, Top: l.Top, Steps: l.Steps}
	if t.Steps == nil {
		t.Steps = []risk.LadderStep{}
	}
	field, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode trust ladder: %w", err)
	}
	body := bytes.TrimRight(card, " \t\r\n")
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, errors.New("stored card is not a JSON object")
	}
	out := make([]byte, 0, len(body)+len(field)+12)
	out = append(out, body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"trust":`...)
	out = append(out, field...)
	return append(out, '}'), nil
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
