package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/server"
	"github.com/releaseops/releaseops/storage"
)

// initiativeTimeout bounds an initiatives request. A burn-up is read from stored points, but
// a replica's first look at thousands of cards decodes them all.
const initiativeTimeout = 20 * time.Second

func initiativeCtx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), initiativeTimeout)
}

// listInitiatives is GET /api/v1/initiatives: every initiative's progress per owning team.
func (a *App) listInitiatives(c echo.Context) error {
	ctx, cancel := initiativeCtx(c)
	defer cancel()
	reps, err := a.InitiativeReports(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"initiatives": reps})
}

// getInitiative is GET /api/v1/initiatives/{id}: progress, each team's remaining services
// with what to do and the playbook, and the burn-up.
func (a *App) getInitiative(c echo.Context) error {
	ctx, cancel := initiativeCtx(c)
	defer cancel()
	id := c.Param("id")
	rep, ok, err := a.InitiativeReport(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return releaseops.Errorf(releaseops.ENOTFOUND, "no initiative %q", id)
	}
	// goccy/go-json writes the bytes encoding/json would, several times faster: an initiative
	// over thousands of services lists thousands of remaining ones.
	body, err := gojson.Marshal(rep)
	if err != nil {
		return fmt.Errorf("encode initiative %s: %w", id, err)
	}
	return c.JSONBlob(http.StatusOK, body)
}

// createInitiative is POST /api/v1/initiatives (scope gate): the body is an initiative as
// config `initiatives:` writes one, in JSON. It is stored and audited in one transaction;
// every problem is answered at once, each naming its field.
func (a *App) createInitiative(c echo.Context) error {
	body, err := server.ReadBody(c, a.Config.Server.MaxBodyBytes)
	if err != nil {
		return err
	}
	var s initiative.Spec
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return releaseops.Errorf(releaseops.EMALFORMED, "body: want an initiative as JSON (id, name, filter, target, deadline, start, reminders): %v", err)
	}
	// A second value after the first is a client's mistake (two bodies joined), not data to drop.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return releaseops.Errorf(releaseops.EMALFORMED, "body: want one initiative as JSON, got more after it")
	}
	// Who and when are the server's to say.
	s.CreatedBy, s.Source, s.CreatedAt = "", "", time.Time{}
	now := a.Now().UTC()
	in, ps := initiative.Compile(s, a.initiatives.known)
	if len(ps) > 0 {
		return releaseops.Errorf(releaseops.EMALFORMED, "%s", joinProblems(ps))
	}
	if p := initiative.PastDeadline(in, now); p != nil {
		return releaseops.Errorf(releaseops.EMALFORMED, "%s", p)
	}
	for i, ci := range a.initiatives.configured {
		if ci.ID == s.ID {
			return releaseops.Errorf(releaseops.ECONFLICT, "id: %q is defined in the config file (initiatives[%d])", s.ID, i)
		}
	}
	spec, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode initiative %s: %w", s.ID, err)
	}
	caller := server.CallerName(c)
	ctx, cancel := initiativeCtx(c)
	defer cancel()
	err = a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		ok, err := storage.InsertInitiative(t, storage.InitiativeRow{ID: s.ID, Spec: spec, CreatedBy: caller, CreatedAt: now})
		if err != nil {
			return err
		}
		if !ok {
			return releaseops.Errorf(releaseops.ECONFLICT, "id: an initiative %q exists already; DELETE it first to replace it", s.ID)
		}
		return gate.AppendInitiativeAudit(t, now, gate.AuditInitiativeCreated, "token:"+caller, map[string]any{"id": s.ID, "spec": json.RawMessage(spec)})
	})
	if err != nil {
		return err
	}
	a.Log.Info("initiative created", "id", s.ID, "by", caller, "deadline", s.Deadline)
	rep, _, err := a.InitiativeReport(ctx, s.ID)
	if err != nil {
		return err
	}
	// A filter that matches nothing is allowed (the catalog may grow into it) but said.
	var warnings []string
	if len(in.Covered(a.catalogServices())) == 0 {
		warnings = append(warnings, fmt.Sprintf("filter: matches none of the %d catalogued services; the initiative covers nothing until one matches", len(a.catalogServices())))
	}
	return c.JSON(http.StatusCreated, createdInitiative{Report: rep, Warnings: warnings})
}

// createdInitiative is the answer to a POST: the report, and what deserves a look.
type createdInitiative struct {
	initiative.Report
	Warnings []string `json:"warnings,omitempty"`
}

// deleteInitiative is DELETE /api/v1/initiatives/{id} (scope gate): it removes an initiative
// created through the API, audited; one from the config file is removed there.
func (a *App) deleteInitiative(c echo.Context) error {
	id := c.Param("id")
	for i, ci := range a.initiatives.configured {
		if ci.ID == id {
			return releaseops.Errorf(releaseops.ECONFLICT, "initiative %q is defined in the config file (initiatives[%d]); remove it there", id, i)
		}
	}
	caller := server.CallerName(c)
	now := a.Now().UTC()
	ctx, cancel := initiativeCtx(c)
	defer cancel()
	err := a.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		ok, err := storage.DeleteInitiative(t, id)
		if err != nil {
			return err
		}
		if !ok {
			return releaseops.Errorf(releaseops.ENOTFOUND, "no initiative %q", id)
		}
		if err := storage.DeleteInitiativeDays(t, id); err != nil {
			return err
		}
		return gate.AppendInitiativeAudit(t, now, gate.AuditInitiativeDeleted, "token:"+caller, map[string]any{"id": id})
	})
	if err != nil {
		return err
	}
	a.Log.Info("initiative deleted", "id", id, "by", caller)
	return c.NoContent(http.StatusNoContent)
}
