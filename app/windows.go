package app

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/risk"
)

// MaxSlotHours bounds ?hours= (two weeks): each hour is ranked from the whole history, and
// further ahead the on-call rota is not known anyway.
const MaxSlotHours = 336

// wireWindows serves GET /api/v1/services/{name}/windows?hours=72&environment=production: the
// service's next hours ranked by expected success (gate.ReadSlots, risk.Model.Slots).
func (a *App) wireWindows() {
	org := &gate.OrgHours{DB: a.DB, Policy: a.Gate.Timing,
		Services: func(context.Context) ([]string, error) { return a.Catalog.Names(), nil }}
	a.Server.API().GET("/services/:name/windows", func(c echo.Context) error { return a.windows(c, org) }, a.Server.Require("read"))
}

func (a *App) windows(c echo.Context, org *gate.OrgHours) error {
	name := c.Param("name")
	svc, ok := a.Catalog.Get(name)
	if !ok {
		e := releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", name)
		if near := a.Catalog.Closest(name, 3); len(near) > 0 {
			e.Detail = "did you mean " + strings.Join(near, ", ") + "?"
		}
		return e
	}
	hours, err := SlotHours(c.QueryParam("hours"))
	if err != nil {
		return err
	}
	env := c.QueryParam("environment")
	if env == "" {
		env = "production"
	}
	if len(env) > 200 {
		return releaseops.Errorf(releaseops.EINVALID, "environment is limited to 200 characters")
	}
	now := a.Now()
	slots, err := gate.ReadSlots(c.Request().Context(), a.DB, a.Gate.Timing, org, gate.SlotsRequest{Service: svc, Environment: env, Now: now, Hours: hours})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, WindowsResponse{Service: svc.Name, Environment: env, GeneratedAt: now.UTC(), Hours: hours, Slots: slots})
}

// WindowsResponse is the body of GET /api/v1/services/{name}/windows and of
// `releaseops window --json`.
type WindowsResponse struct {
	Service     string      `json:"service"`
	Environment string      `json:"environment"`
	GeneratedAt time.Time   `json:"generated_at"`
	Hours       int         `json:"hours"`
	Slots       []risk.Slot `json:"slots"`
}

// SlotHours reads ?hours= (or --hours): 72 when empty, else a whole number from 1 to
// MaxSlotHours; the error names the parameter.
func SlotHours(v string) (int, error) {
	if v == "" {
		return 72, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxSlotHours {
		return 0, releaseops.Errorf(releaseops.EINVALID, "hours must be a whole number from 1 to %d, got %q", MaxSlotHours, v)
	}
	return n, nil
}
