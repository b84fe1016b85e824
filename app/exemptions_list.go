package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// exemptionStates are the states GET /api/v1/exemptions?state= accepts, in the order the
// lists show them.
var exemptionStates = []string{storage.ExemptionPending, storage.ExemptionApproved, storage.ExemptionExpired, storage.ExemptionDenied}

// List returns every exemption: the stored requests (pending, approved, denied, expired) and
// the config's waivers (approved or expired), pending first, then live waivers ending
// soonest first, then the rest newest first.
func (x *Exemptions) List(ctx context.Context) ([]storage.ExemptionRow, error) {
	rows, err := x.DB.ListExemptions(ctx, listLimit)
	if err != nil {
		return nil, err
	}
	rows = append(rows, x.configWaivers()...)
	now := x.Now()
	rank := func(r storage.ExemptionRow) int { return slices.Index(exemptionStates, r.Status(now)) }
	slices.SortStableFunc(rows, func(a, b storage.ExemptionRow) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		if a.State == storage.ExemptionApproved && a.Status(now) == storage.ExemptionApproved {
			return a.ExpiresAt.Compare(b.ExpiresAt)
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return rows, nil
}

// configWaivers are scoring.waivers as exemption rows: approved by the config's review.
func (x *Exemptions) configWaivers() []storage.ExemptionRow {
	var out []storage.ExemptionRow
	for i, w := range x.Engine.ConfigWaivers() {
		out = append(out, storage.ExemptionRow{ID: fmt.Sprintf("config:%d", i), Service: w.Service, Signal: w.Signal, Reason: w.Reason,
			RequestedBy: w.Author, State: storage.ExemptionApproved, ExpiresAt: w.ExpiresAt, Config: true})
	}
	return out
}

// ExemptionsExpiring returns the waivers of the owner's services (all services when owner
// is "") whose expiry falls in [from, to), stored and configured, soonest first: what a
// digest lists as "exemptions expiring".
func (x *Exemptions) ExemptionsExpiring(ctx context.Context, owner string, from, to time.Time) ([]storage.ExemptionRow, error) {
	rows, err := x.DB.ExemptionsExpiringBetween(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for _, w := range x.configWaivers() {
		if !w.ExpiresAt.Before(from) && w.ExpiresAt.Before(to) {
			rows = append(rows, w)
		}
	}
	rows = slices.DeleteFunc(rows, func(r storage.ExemptionRow) bool {
		if owner == "" {
			return false
		}
		svc, ok := x.Catalog.Get(r.Service)
		return !ok || svc.Owner != owner
	})
	slices.SortStableFunc(rows, func(a, b storage.ExemptionRow) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return rows, nil
}

// ExemptionJSON is one exemption in GET /api/v1/exemptions.
type ExemptionJSON struct {
	ID      string `json:"id"`
	Origin  string `json:"origin"` // slack (a request) or config (scoring.waivers)
	Service string `json:"service"`
	Signal  string `json:"signal"`
	// State is pending, approved, denied or expired (an approved one past its expiry).
	State       string     `json:"state"`
	Days        int        `json:"days,omitempty"`
	Reason      string     `json:"reason"`
	RequestedBy string     `json:"requested_by"` // the Slack user, or the config waiver's author
	RequestedAt *time.Time `json:"requested_at,omitempty"`
	DecidedBy   string     `json:"decided_by,omitempty"`
	DecidedAt   *time.Time `json:"decided_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RemindedAt  *time.Time `json:"reminded_at,omitempty"`
}

func exemptionJSON(r storage.ExemptionRow, now time.Time) ExemptionJSON {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		u := t.UTC()
		return &u
	}
	origin := "slack"
	if r.Config {
		origin = "config"
	}
	return ExemptionJSON{ID: r.ID, Origin: origin, Service: r.Service, Signal: r.Signal, State: r.Status(now), Days: r.Days, Reason: r.Reason,
		RequestedBy: r.RequestedBy, RequestedAt: opt(r.CreatedAt), DecidedBy: r.DecidedBy, DecidedAt: opt(r.DecidedAt),
		ExpiresAt: opt(r.ExpiresAt), RemindedAt: opt(r.RemindedAt)}
}

// list serves GET /api/v1/exemptions[?state=…][&service=…].
func (x *Exemptions) list(c echo.Context) error {
	state, service := c.QueryParam("state"), c.QueryParam("service")
	if state != "" && !slices.Contains(exemptionStates, state) {
		return releaseops.Errorf(releaseops.EINVALID, "state must be one of %s, not %q", strings.Join(exemptionStates, ", "), state)
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 10*time.Second)
	defer cancel()
	rows, err := x.List(ctx)
	if err != nil {
		return err
	}
	now := x.Now()
	out := []ExemptionJSON{}
	for _, r := range rows {
		if (state == "" || r.Status(now) == state) && (service == "" || r.Service == service) {
			out = append(out, exemptionJSON(r, now))
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"exemptions": out, "generated_at": now.UTC()})
}
