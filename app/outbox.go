package app

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/outbox"
)

// NoSenderReason says why a kind of message has no sender under cfg, for the line the outbox
// logs when it keeps such messages as disabled (outbox.Outbox.NoSender).
func NoSenderReason(cfg *config.Config) func(kind string) string {
	return func(kind string) string {
		if strings.HasPrefix(kind, "slack.") && !cfg.Slack.BotToken.IsSet() {
			return "slack.bot_token is not set"
		}
		return ""
	}
}

// listOutbox is GET /api/v1/outbox?state=&limit=: what was sent, what waits, what died and why.
func (a *App) listOutbox(c echo.Context) error {
	state := c.QueryParam("state")
	switch state {
	case "", outbox.StatePending, outbox.StateSending, outbox.StateSent, outbox.StateDead, outbox.StateDisabled:
	default:
		return releaseops.Errorf(releaseops.EMALFORMED, "state must be pending, sending, sent, dead or disabled, got %q", state)
	}
	limit := 100
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return releaseops.Errorf(releaseops.EMALFORMED, "limit must be a whole number from 1 to 1000, got %q", v)
		}
		limit = n
	}
	msgs, err := a.Outbox.List(c.Request().Context(), state, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"messages": msgs})
}
