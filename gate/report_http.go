package gate

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
)

// ParseReportDays reads the days of a report request: empty is ReportDaysDefault, anything
// but a whole number from 1 to ReportDaysMax is refused, naming the parameter.
func ParseReportDays(v string) (int, error) {
	if v == "" {
		return ReportDaysDefault, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > ReportDaysMax {
		return 0, releaseops.Errorf(releaseops.EMALFORMED, "days must be a whole number from 1 to %d, got %q", ReportDaysMax, v)
	}
	return n, nil
}

// handleReport answers GET /api/v1/gate/report?days=30.
func (g *Gate) handleReport(c echo.Context) error {
	days, err := ParseReportDays(c.QueryParam("days"))
	if err != nil {
		return err
	}
	r, err := g.Report(c.Request().Context(), days)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}
