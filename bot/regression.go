package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const signalsPerDrop = 5

// RegressionMessage renders a regression (SPEC §4.4): what dropped, by how much, which
// signals and why, and the playbook of each dimension that fell.
func RegressionMessage(reg *scoring.Regression, publicURL string) Message {
	var b blocks
	title := fmt.Sprintf("📉 %s readiness dropped %s points", reg.Service, num1(reg.Drop))
	if reg.BandFell {
		title = fmt.Sprintf("📉 %s fell from %s to %s", reg.Service, reg.FromBand, reg.ToBand)
	}
	b.header(title)
	b.section(fmt.Sprintf("*%s* (%s) → *%s* (%s) · %s points", num1(reg.From), Escape(reg.FromBand), num1(reg.To), Escape(reg.ToBand), signed(-reg.Drop)))
	shown := 0
	for _, d := range reg.Dimensions {
		if b.room() < 2 {
			break
		}
		lines := []string{fmt.Sprintf("*%s* %s → %s", Escape(d.Name), pct(d.From), pct(d.To))}
		for i, s := range d.Signals {
			if i == signalsPerDrop {
				lines = append(lines, fmt.Sprintf("• and %d more signals", len(d.Signals)-i))
				break
			}
			lines = append(lines, fmt.Sprintf("• *%s* %s → %s: %s", Escape(s.Name), pct(s.From), pct(s.To), Escape(s.Reason)))
		}
		lines = append(lines, Link(d.Playbook, "Playbook: "+d.Name))
		b.section(strings.Join(lines, "\n"))
		shown++
	}
	if shown == 0 {
		b.section("No single dimension fell: the composite moved with the weights (a dimension became applicable, or several moved a little).")
	}
	b.context(Link(serviceURL(publicURL, reg.Service), "Open in ReleaseOps"), fmt.Sprintf("`/readiness %s` for the scorecard", Escape(reg.Service)))

	var names []string
	for _, d := range reg.Dimensions {
		names = append(names, Escape(d.Name))
	}
	fallback := fmt.Sprintf("%s readiness dropped %s points (%s → %s, %s → %s)", Escape(reg.Service), num1(reg.Drop),
		num1(reg.From), num1(reg.To), Escape(reg.FromBand), Escape(reg.ToBand))
	if len(names) > 0 {
		fallback += ": " + strings.Join(names, ", ")
	}
	return b.message(fallback)
}

// RegressionMark is kept with a regression post to tell a later regression from a repeat.
type RegressionMark struct {
	From     float64   `json:"from"`
	To       float64   `json:"to"`
	FromBand string    `json:"from_band"`
	ToBand   string    `json:"to_band"`
	At       time.Time `json:"at"`
}

// WrapRegression returns a regression hook that runs next (recording the regression) and then
// queues the post. The rescoring worker calls it only on a transition (a drop of the alert
// points, or a fall into a lower band, since the last stored score), so a service that stays
// low is not posted again.
func (b *Bot) WrapRegression(next func(context.Context, *scoring.Regression, *scoring.Scorecard) error) func(context.Context, *scoring.Regression, *scoring.Scorecard) error {
	return func(ctx context.Context, reg *scoring.Regression, card *scoring.Scorecard) error {
		var err error
		if next != nil {
			err = next(ctx, reg, card)
		}
		if perr := b.postRegression(ctx, reg); perr != nil {
			b.d.Log.Error("queue regression post", "service", reg.Service, "err", perr)
		}
		return err
	}
}

func (b *Bot) postRegression(ctx context.Context, reg *scoring.Regression) error {
	channel := b.ChannelFor(b.service(reg.Service))
	if channel == "" {
		b.d.Log.Warn("regression not posted: the service has no slack_channel and there is no slack.default_channel", "service", reg.Service)
		return nil
	}
	if reg.At.IsZero() {
		r := *reg
		r.At = b.d.Now()
		reg = &r
	}
	at := reg.At
	prefix := "regression:" + reg.Service + ":"
	last, err := b.lastRegression(ctx, prefix)
	if err != nil {
		return err
	}
	if !RegressionIsNew(last, reg, b.d.Engine.RegressionAlertPoints(), b.RegressionRepeatAfter) {
		b.d.Log.Info("regression not posted again: the service fell no further since the last post", "service", reg.Service, "to", reg.To)
		return nil
	}
	p := PostPayload{Channel: channel, Message: RegressionMessage(reg, b.cfg.PublicURL), Notify: &Notify{Kind: "regression"},
		Regression: &RegressionMark{From: reg.From, To: reg.To, FromBand: reg.FromBand, ToBand: reg.ToBand, At: at.UTC()}}
	err = b.d.DB.Writer.Do(ctx, func(t *storage.Tx) error {
		_, err := enqueuePost(t, fmt.Sprintf("%s%d", prefix, at.UnixMilli()), reg.Service, p, b.d.Now())
		return err
	})
	if err != nil {
		return err
	}
	b.d.Outbox.Wake()
	return nil
}

func (b *Bot) lastRegression(ctx context.Context, prefix string) (*RegressionMark, error) {
	row, ok, err := b.d.DB.LastOutboxWithPrefix(ctx, prefix)
	if err != nil || !ok {
		return nil, err
	}
	var p PostPayload
	if err := json.Unmarshal(row.Payload, &p); err != nil || p.Regression == nil {
		return nil, nil // an unreadable mark never silences a post
	}
	return p.Regression, nil
}

// RegressionIsNew decides whether a regression deserves a post given the last one posted for
// the service: always after repeatAfter; within it, only when the service fell further (into
// a lower band than last posted, or alertPoints below the score last posted). A service
// flapping across a band edge is posted once, not every time it dips.
func RegressionIsNew(last *RegressionMark, reg *scoring.Regression, alertPoints float64, repeatAfter time.Duration) bool {
	if last == nil || reg.At.Sub(last.At) >= repeatAfter {
		return true
	}
	if scoring.BandRank(reg.ToBand) < scoring.BandRank(last.ToBand) {
		return true
	}
	if alertPoints <= 0 {
		alertPoints = scoring.DefaultRegressionAlertPoints
	}
	return reg.To <= last.To-alertPoints
}
