package bot

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/server"
)

// Body limits: a slash command is a short form; an interaction payload carries the whole
// message that was clicked.
const (
	maxCommandBody     = 64 << 10
	maxInteractionBody = 1 << 20
)

// Routes mounts POST /slack/commands and POST /slack/interactions.
func (b *Bot) Routes(e *echo.Echo) {
	e.POST("/slack/commands", b.commands)
	e.POST("/slack/interactions", b.interactions)
}

// reply is what a slash command request answers: Slack shows it to the user.
type reply struct {
	ResponseType string        `json:"response_type"`
	Text         string        `json:"text"`
	Blocks       []slack.Block `json:"blocks"`
}

func newReply(m Message) reply {
	bs := m.Blocks.BlockSet
	if bs == nil {
		bs = []slack.Block{}
	}
	return reply{ResponseType: slack.ResponseTypeEphemeral, Text: m.Text, Blocks: bs}
}

// readVerified reads the body within limit and checks the signature over those exact bytes.
// Only then may anything parse them; the body is put back for slack-go's parsers.
func (b *Bot) readVerified(c echo.Context, limit int64) error {
	if b.cfg.SigningSecret == "" {
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "Slack endpoints are not configured", Detail: "set slack.signing_secret (or RELEASEOPS_SLACK_SIGNING_SECRET)"}
	}
	if b.limiter != nil && !b.limiter.Allow() {
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusTooManyRequests, "slack rate limit exceeded; retry after 1 s")
	}
	body, err := server.ReadBody(c, limit)
	if err != nil {
		return err
	}
	if err := b.verifier.Verify(c.Request().Header, body); err != nil {
		return err
	}
	c.Request().Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

func (b *Bot) commands(c echo.Context) error {
	if err := b.readVerified(c, maxCommandBody); err != nil {
		return err
	}
	sc, err := slack.SlashCommandParse(c.Request())
	if err != nil {
		return &releaseops.Error{Code: releaseops.EMALFORMED, Message: "not a slash command form", Err: err}
	}
	m := b.respondTo(sc.UserID, sc.Command, sc.Text, sc.ResponseURL, invocationID(sc.TriggerID, sc.ResponseURL))
	return c.JSON(http.StatusOK, newReply(m))
}

func (b *Bot) interactions(c echo.Context) error {
	if err := b.readVerified(c, maxInteractionBody); err != nil {
		return err
	}
	cb, err := slack.InteractionCallbackParse(c.Request())
	if err != nil {
		return &releaseops.Error{Code: releaseops.EMALFORMED, Message: "not an interaction payload", Err: err}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2500*time.Millisecond)
	defer cancel()
	b.interact(ctx, &cb)
	// For block_actions Slack ignores the body: replies go through response_url.
	return c.NoContent(http.StatusOK)
}

// interact handles a block_actions callback: the Approve and Deny buttons.
func (b *Bot) interact(ctx context.Context, cb *slack.InteractionCallback) {
	if cb.Type != slack.InteractionTypeBlockActions {
		return
	}
	for _, a := range cb.ActionCallback.BlockActions {
		if b.exemptAction(ctx, cb, a) {
			continue
		}
		if a.ActionID != ActionApprove && a.ActionID != ActionDeny {
			continue
		}
		b.click(ctx, cb, a)
	}
}

func (b *Bot) click(ctx context.Context, cb *slack.InteractionCallback, a *slack.BlockAction) {
	key := "click:" + a.ActionTs + ":" + cb.User.ID + ":" + a.Value
	var res ClickResult
	h := b.approvalHandler()
	switch {
	case h == nil:
		res.Ephemeral = "This ReleaseOps does not handle approvals (the gate is off), so nothing was decided."
	default:
		r, err := h.HandleApprovalClick(ctx, a.Value, cb.User.ID, a.ActionID == ActionApprove)
		if err != nil {
			b.d.Log.Error("approval click", "approval", a.Value, "user", cb.User.ID, "err", err)
			r = ClickResult{Ephemeral: "Your click could not be recorded; please try again. (The details are in ReleaseOps' log.)"}
		}
		res = r
	}
	if cb.ResponseURL == "" {
		b.d.Log.Warn("click without response_url: nothing to answer", "approval", a.Value)
		return
	}
	var ps []ResponsePayload
	if res.Update != nil {
		ps = append(ps, ResponsePayload{ResponseURL: cb.ResponseURL, ReplaceOriginal: true, ResponseType: slack.ResponseTypeInChannel, Message: *res.Update})
	}
	if res.Ephemeral != "" {
		ps = append(ps, ResponsePayload{ResponseURL: cb.ResponseURL, Message: TextMessage(Escape(res.Ephemeral))})
	}
	if len(ps) == 0 {
		return
	}
	if err := b.queueResponse(context.WithoutCancel(ctx), key, "", ps...); err != nil {
		b.d.Log.Error("queue click answer", "approval", a.Value, "err", err)
	}
}
