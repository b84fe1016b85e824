package bot

import (
	"context"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// acker acknowledges a Socket Mode request; *socketmode.Client implements it.
type acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// runSocketMode connects out to Slack over a websocket (no public URL needed, no request
// signatures: the connection itself is authenticated with the app-level token) and answers
// the same commands and clicks as the HTTP endpoints, until ctx ends.
func (b *Bot) runSocketMode(ctx context.Context) {
	opts := []slack.Option{slack.OptionAppLevelToken(b.cfg.AppToken), slack.OptionHTTPClient(b.d.HTTP)}
	if b.cfg.APIURL != "" {
		u := b.cfg.APIURL
		if u[len(u)-1] != '/' {
			u += "/"
		}
		opts = append(opts, slack.OptionAPIURL(u))
	}
	client := socketmode.New(slack.New(b.cfg.BotToken, opts...))
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case evt, ok := <-client.Events:
				if !ok {
					return
				}
				b.wg.Add(1)
				go func() {
					defer b.wg.Done()
					b.socketEvent(ctx, client, evt)
				}()
			}
		}
	}()
	backoff := time.Second
	for ctx.Err() == nil {
		err := client.RunContext(ctx)
		if ctx.Err() != nil {
			return
		}
		b.d.Log.Error("slack socket mode connection ended; reconnecting", "in", backoff, "err", redact(errString(err)))
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// socketEvent answers one Socket Mode event.
func (b *Bot) socketEvent(ctx context.Context, c acker, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			return
		}
		m := b.respondTo(sc.UserID, sc.Command, sc.Text, sc.ResponseURL, invocationID(sc.TriggerID, sc.ResponseURL))
		if err := c.Ack(*evt.Request, newReply(m)); err != nil {
			// Socket Mode drops answers of 20 KB or more: acknowledge, then answer by URL.
			b.d.Log.Warn("socket mode answer refused; sending it through response_url", "err", err)
			_ = c.Ack(*evt.Request)
			if sc.ResponseURL != "" {
				if err := b.queueResponse(ctx, "command:"+invocationID(sc.TriggerID, sc.ResponseURL), "", ResponsePayload{ResponseURL: sc.ResponseURL, Message: m}); err != nil {
					b.d.Log.Error("queue /readiness answer", "err", err)
				}
			}
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			return
		}
		if err := c.Ack(*evt.Request); err != nil {
			b.d.Log.Warn("socket mode ack", "err", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 2500*time.Millisecond)
		defer cancel()
		b.interact(cctx, &cb)
	case socketmode.EventTypeEventsAPI:
		if evt.Request != nil {
			_ = c.Ack(*evt.Request) // subscribed events are not used; acknowledging stops retries
		}
	case socketmode.EventTypeConnected:
		b.d.Log.Info("slack socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth:
		b.d.Log.Error("slack socket mode", "event", string(evt.Type))
	}
}

func errString(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}
