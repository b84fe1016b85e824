package app

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
)

// listDigests is GET /api/v1/digests?limit=: each weekly digest's week, whether it was queued
// or skipped (and so why a channel got nothing after downtime), with its outbox key, whose
// delivery GET /api/v1/outbox shows.
func (a *App) listDigests(c echo.Context) error {
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return releaseops.Errorf(releaseops.EMALFORMED, "limit must be a whole number from 1 to 1000, got %q", v)
		}
		limit = n
	}
	runs, err := a.DB.ListDigestRuns(c.Request().Context(), limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"digests": runs})
}
