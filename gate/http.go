package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/server"
	"github.com/releaseops/releaseops/storage"
)

// maxRequestBody bounds a gate request; real ones are a few hundred bytes.
const maxRequestBody = 64 << 10

// Routes mounts the gate's API on the /api/v1 group: POST /gate (scope gate), and GET
// /approvals/{id}, /audit, /audit/verify and /gate/report (scope read).
func (g *Gate) Routes(api *echo.Group, require func(scope string) echo.MiddlewareFunc) {
	api.POST("/gate", g.handleGate, require("gate"))
	api.GET("/approvals/:id", g.handleApproval, require("read"))
	api.GET("/audit", g.handleAudit, require("read"))
	api.GET("/audit/verify", g.handleVerify, require("read"))
	api.GET("/gate/report", g.handleReport, require("read"))
}

func (g *Gate) handleGate(c echo.Context) error {
	body, err := server.ReadBody(c, maxRequestBody)
	if err != nil {
		return err
	}
	req, err := DecodeRequest(body)
	if err != nil {
		return g.refused(c, req, err)
	}
	res, err := g.Check(c.Request().Context(), req, server.CallerName(c))
	if err != nil {
		return g.refused(c, req, err)
	}
	return c.JSON(http.StatusOK, res)
}

// refused records a gate request the gate could not decide (malformed, invalid, unknown
// service) in the audit log before answering it: every request is accounted for, not only
// the decided ones.
func (g *Gate) refused(c echo.Context, req Request, cause error) error {
	g.init()
	code := releaseops.ErrorCode(cause)
	switch code {
	case releaseops.EMALFORMED, releaseops.EINVALID, releaseops.ENOTFOUND:
	default:
		return cause // a failure of ours, not a refusal: logged by the server
	}
	var msg string
	var ae *releaseops.Error
	if errors.As(cause, &ae) {
		msg = ae.Message
	}
	caller := server.CallerName(c)
	err := g.DB.Writer.Do(c.Request().Context(), func(t *storage.Tx) error {
		return appendAudit(t, g.Now().UTC(), audit{Kind: AuditRefused, Service: req.Service, Actor: "token:" + caller,
			Detail: map[string]any{"error": code, "message": msg, "environment": req.Environment, "version": req.Version,
				"requested_by": req.RequestedBy}})
	})
	if err != nil {
		g.Log.Error("audit refused gate request", "err", err)
	}
	return cause
}

// DecodeRequest parses a gate request body; errors name the offending field.
func DecodeRequest(body []byte) (Request, error) {
	var req Request
	if err := json.Unmarshal(body, &req); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				return req, &releaseops.Error{Code: releaseops.EMALFORMED, Message: "body must be a JSON object"}
			}
			return req, &releaseops.Error{Code: releaseops.EINVALID, Message: fmt.Sprintf("%s must be a %s, got %s", field, jsonType(te.Type.Kind().String()), te.Value)}
		}
		return req, &releaseops.Error{Code: releaseops.EMALFORMED, Message: "body is not valid JSON", Detail: err.Error()}
	}
	return req, nil
}

func jsonType(kind string) string {
	switch kind {
	case "struct", "map", "ptr":
		return "object"
	case "slice", "array":
		return "array"
	case "float64", "int", "int64":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

func (g *Gate) handleApproval(c echo.Context) error {
	a, err := g.Approval(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (g *Gate) handleAudit(c echo.Context) error {
	limit := auditListDefault
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > auditListMax {
			return releaseops.Errorf(releaseops.EMALFORMED, "limit must be a whole number from 1 to %d, got %q", auditListMax, v)
		}
		limit = n
	}
	var before int64
	if v := c.QueryParam("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return releaseops.Errorf(releaseops.EMALFORMED, "before must be a positive entry number, got %q", v)
		}
		before = n
	}
	rows, err := g.DB.ListAudit(c.Request().Context(), c.QueryParam("service"), before, limit)
	if err != nil {
		return err
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = entryOf(r)
	}
	return c.JSON(http.StatusOK, map[string]any{"entries": out})
}

func (g *Gate) handleVerify(c echo.Context) error {
	v, err := Verify(c.Request().Context(), g.DB)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}
