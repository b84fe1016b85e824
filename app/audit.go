package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// wireAudit builds the audit log's anchorer when anchors are on (audit.anchor_interval) and a
// key is configured; serve supplies a generated key on a loopback demo.
func (a *App) wireAudit() error {
	cfg := a.Config
	if cfg.Audit.AnchorInterval <= 0 {
		return nil
	}
	key, err := cfg.AuditKey()
	if err != nil {
		return fmt.Errorf("audit.signing_key: %w", err)
	}
	if key == nil {
		a.Log.Warn("audit anchors are off: audit.signing_key is not set (releaseops audit keygen makes one)")
		return nil
	}
	a.Anchorer = &gate.Anchorer{DB: a.DB, Key: key, Now: a.Now, Log: a.Log.With("component", "audit"), File: cfg.Audit.AnchorFile,
		Queued: a.Outbox.Wake}
	if ch := cfg.Audit.AnchorChannel; ch != "" {
		a.Anchorer.Publish = func(t *storage.Tx, c gate.Checkpoint, now time.Time) error {
			_, err := bot.EnqueuePost(t, fmt.Sprintf("audit.anchor:%d", c.Seq), "", ch, checkpointMessage(c), nil, now)
			return err
		}
	}
	return nil
}

// checkpointMessage is the Slack post of a checkpoint: the JSON line `audit verify --anchors`
// reads, in a code block, so it can be copied from the channel as it is.
func checkpointMessage(c gate.Checkpoint) bot.Message {
	line, _ := json.Marshal(c)
	text := fmt.Sprintf("Audit log checkpoint: entry %d, head %s", c.Seq, c.Head)
	return bot.Message{Text: text, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, "*"+text+"*\n```"+string(line)+"```", false, false), nil, nil),
	}}}
}

// startAudit writes checkpoints on the replica holding the anchor lease.
func (a *App) startAudit(ctx context.Context) {
	if a.Anchorer == nil {
		return
	}
	a.runLeased(ctx, storage.LeaseAnchor, func(ctx context.Context) { a.Anchorer.Run(ctx, a.Config.Audit.AnchorInterval.Std()) })
}

// finalAnchor writes the checkpoint of shutdown, so that a log cut after the last interval
// is still caught.
func (a *App) finalAnchor(ctx context.Context) error {
	if a.Anchorer == nil {
		return nil
	}
	_, _, err := a.Anchorer.Anchor(ctx)
	return err
}
