package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const worstCount = 10

// Answer computes the reply to a /readiness invocation from the stored scores.
func (b *Bot) Answer(ctx context.Context, command, text string) Message {
	c := ParseCommand(text)
	switch c.Kind {
	case CmdHelp:
		return HelpMessage(command)
	case CmdUsage:
		h := HelpMessage(command)
		h.Blocks.BlockSet = append([]slack.Block{slack.NewSectionBlock(mrkdwn("⚠️ "+Escape(c.Problem)+"."), nil, nil)}, h.Blocks.BlockSet...)
		h.Text = Escape(c.Problem) + ". " + h.Text
		return h
	case CmdWorst:
		m, err := b.worst(ctx)
		if err != nil {
			return b.failed(err, "worst")
		}
		return m
	case CmdRisk:
		return b.riskAnswer(ctx, c)
	case CmdWindow:
		return b.windowAnswer(ctx, c)
	case CmdExempt:
		return b.exemptAnswer(ctx, c)
	}
	card, reply, err := b.card(ctx, c.Service)
	if err != nil {
		return b.failed(err, c.Service)
	}
	if reply != nil {
		return *reply
	}
	if c.Kind == CmdWhy {
		id, ok := ResolveDimension(c.Dimension)
		if !ok {
			return TextMessage(fmt.Sprintf("No dimension matches *%s*. Use one of: %s.", OneLine(c.Dimension), strings.Join(dimensionIDs(), ", ")))
		}
		dim := card.Dimension(id)
		if dim == nil {
			return TextMessage(fmt.Sprintf("The scorecard of *%s* has no %s dimension yet.", Escape(card.Service), id))
		}
		return WhyMessage(card, dim, b.cfg.PublicURL)
	}
	v := CardView{PublicURL: b.cfg.PublicURL, Trust: b.trustOf(ctx, card.Service), Exemptions: b.exemptionsOffered()}
	if c.Env != "" {
		v.Env = c.Env
		v.Band, _ = b.d.Engine.Band(card.Score, c.Env, card)
	}
	return ScorecardMessage(card, v)
}

// card reads a service's scorecard; reply is set instead when there is none to show.
func (b *Bot) card(ctx context.Context, name string) (*scoring.Scorecard, *Message, error) {
	row, err := b.d.Scores.GetScore(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		if _, ok := b.d.Catalog.Get(name); ok {
			m := NoScoreMessage(name)
			return nil, &m, nil
		}
		m := UnknownServiceMessage(name, b.d.Catalog.Closest(name, 3))
		return nil, &m, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var card scoring.Scorecard
	if err := json.Unmarshal(row.Card, &card); err != nil {
		return nil, nil, fmt.Errorf("decode scorecard of %s: %w", name, err)
	}
	return &card, nil, nil
}

func (b *Bot) worst(ctx context.Context) (Message, error) {
	rows, err := b.d.Scores.ListScores(ctx)
	if err != nil {
		return Message{}, err
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Score != rows[j].Score {
			return rows[i].Score < rows[j].Score
		}
		return rows[i].Service < rows[j].Service
	})
	n := min(worstCount, len(rows))
	out := make([]Ranked, n)
	for i, r := range rows[:n] {
		out[i] = Ranked{Service: r.Service, Score: r.Score, Band: r.Band, Level: r.Level}
		if full, err := b.d.Scores.GetScore(ctx, r.Service); err == nil {
			var card struct {
				Trend scoring.Trend `json:"trend"`
			}
			if json.Unmarshal(full.Card, &card) == nil {
				out[i].Trend = card.Trend
			}
		}
	}
	return WorstMessage(out, len(rows), b.cfg.PublicURL), nil
}

// failed is the reply when reading the scores failed: the details go to the log, never to
// Slack.
func (b *Bot) failed(err error, what string) Message {
	b.d.Log.Error("answer /readiness", "for", what, "err", err)
	return TextMessage("Something went wrong while reading the scores; the details are in ReleaseOps' log. Please try again.")
}

// pendingText acknowledges a command whose answer comes later through response_url.
const pendingText = "⏳ Working on it: the answer follows in a moment."

// respondTo answers within AnswerWithin when it can. Otherwise it returns an acknowledgement at
// once and queues the answer for response_url when it is ready. Slack retries nothing, so a
// late answer must never be lost: it goes through the outbox.
// user is the Slack user who ran the command; commands that record something read it.
func (b *Bot) respondTo(user, command, text, responseURL, id string) Message {
	ctx, cancel := context.WithTimeout(withInvoker(b.baseContext(), user, id), b.AnswerTimeout)
	done := make(chan Message, 1)
	go func() { done <- b.Answer(ctx, command, text) }()
	t := time.NewTimer(b.AnswerWithin)
	defer t.Stop()
	select {
	case m := <-done:
		cancel()
		return m
	case <-t.C:
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer cancel()
		m := <-done
		if responseURL == "" {
			b.d.Log.Warn("late /readiness answer dropped: the command carried no response_url", "text", text)
			return
		}
		if err := b.queueResponse(context.WithoutCancel(ctx), "command:"+id, "", ResponsePayload{ResponseURL: responseURL, Message: m}); err != nil {
			b.d.Log.Error("queue late /readiness answer", "err", err)
		}
	}()
	return TextMessage(pendingText)
}

func (b *Bot) queueResponse(ctx context.Context, key, service string, payloads ...ResponsePayload) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	now := b.d.Now()
	err := b.d.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		for i, p := range payloads {
			k := key
			if len(payloads) > 1 {
				k = fmt.Sprintf("%s:%d", key, i)
			}
			if _, err := EnqueueResponse(t, k, service, p, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.d.Outbox.Wake()
	return nil
}

// invocationID names one command invocation for the outbox key: Slack's trigger_id, unique
// per invocation, else a digest of the response_url.
func invocationID(triggerID, responseURL string) string {
	if triggerID != "" {
		return triggerID
	}
	sum := sha256.Sum256([]byte(responseURL))
	return hex.EncodeToString(sum[:12])
}
