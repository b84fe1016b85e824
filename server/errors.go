package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// ErrorBody is every error response: {"error": "...", "detail": "..."}.
type ErrorBody struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

// StatusOf maps an application error code to its HTTP status, in this one place.
func StatusOf(code string) int {
	switch code {
	case releaseops.EMALFORMED:
		return http.StatusBadRequest
	case releaseops.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case releaseops.EFORBIDDEN:
		return http.StatusForbidden
	case releaseops.ENOTFOUND:
		return http.StatusNotFound
	case releaseops.ECONFLICT:
		return http.StatusConflict
	case releaseops.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case releaseops.EINVALID:
		return http.StatusUnprocessableEntity
	case releaseops.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorHandler writes every error as JSON. Internal details are logged, never returned.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, body := http.StatusInternalServerError, ErrorBody{Error: "internal error"}
		var ae *releaseops.Error
		var he *echo.HTTPError
		switch {
		case errors.As(err, &ae):
			status = StatusOf(ae.Code)
			body = ErrorBody{Error: ae.Message, Detail: ae.Detail}
			if ae.RetryAfter > 0 {
				c.Response().Header().Set("Retry-After", strconv.Itoa(ae.RetryAfter))
			}
			if status == http.StatusInternalServerError && storage.Unavailable(ae.Err) {
				// Failed only because the database could not be reached: may be repeated as is.
				status = http.StatusServiceUnavailable
				c.Response().Header().Set("Retry-After", "5")
				log.Warn("database unavailable", "method", c.Request().Method, "path", c.Path(), "err", err)
			}
			if status >= 500 && status != http.StatusServiceUnavailable {
				log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
			}
		case errors.As(err, &he):
			status = he.Code
			body = ErrorBody{Error: http.StatusText(he.Code)}
			if m, ok := he.Message.(string); ok && m != "" {
				body.Error = m
			}
		case storage.Unavailable(err):
			// A request that failed only because the database could not be reached may be
			// repeated as it is.
			status, body = http.StatusServiceUnavailable, ErrorBody{Error: "database unavailable; retry"}
			c.Response().Header().Set("Retry-After", "5")
			log.Warn("database unavailable", "method", c.Request().Method, "path", c.Path(), "err", err)
		default:
			log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(status)
			return
		}
		_ = c.JSON(status, body)
	}
}
