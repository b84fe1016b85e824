package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
)

// RiskPreviewer is what /readiness risk, /readiness window and the scorecard's trust line
// read of the gate. The app implements it over the gate, so the bot keeps no dependency on
// the gate's storage and state machine, and tests answer with fixed previews.
type RiskPreviewer interface {
	// PreviewRisk decides a deploy of version to environment now as the gate would, and
	// records nothing. An unknown service is a releaseops.ENOTFOUND error.
	PreviewRisk(ctx context.Context, service, environment, version string) (RiskPreview, error)
	// DeploySlots ranks the service's next hours for a production deploy, best first. With
	// release risk off it is a releaseops.EUNAVAILABLE error saying so.
	DeploySlots(ctx context.Context, service string, hours int) ([]risk.Slot, error)
}

// RiskPreview is the gate's answer to a deploy now, as the bot shows it.
type RiskPreview struct {
	Service     string
	Environment string
	Version     string
	// Decision is allow, needs_approval or block.
	Decision string
	Band     string
	Score    *float64 // nil when the service has no score
	Reasons  []PreviewReason
	// Risk, Window and Trust are nil when release risk is off (its config did not compile).
	Risk         *risk.Assessment
	Window       *risk.WindowStatus
	Trust        *risk.Ladder
	AutoApproved bool
	Quorum       int
}

// PreviewReason is one reason of the gate's decision; Kind is the gate's (band, window,
// risk, trust_ladder, risk_factors, ...).
type PreviewReason struct {
	Kind     string
	Text     string
	Playbook string
}

// ProductionEnv is the environment /readiness risk and the trust line ask about: the trust
// ladder and the deploy slots count production deploys only.
const ProductionEnv = "production"

// windowSlots is how many of the best slots /readiness window shows; the rest are a click
// away in the API and the CLI.
const windowSlots = 5

// windowHours is how far ahead /readiness window ranks, the API's default.
const windowHours = 72

// SetRiskPreviewer installs what answers /readiness risk and window (the gate, through the
// app). Without one those commands say release risk is unavailable.
func (b *Bot) SetRiskPreviewer(p RiskPreviewer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.previewer = p
}

func (b *Bot) riskPreviewer() RiskPreviewer {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.previewer
}

const riskUnavailable = "Release risk is not available on this ReleaseOps: the deploy gate is not wired to the bot."

// riskAnswer answers /readiness risk <service> [version].
func (b *Bot) riskAnswer(ctx context.Context, c Command) Message {
	p := b.riskPreviewer()
	if p == nil {
		return TextMessage(riskUnavailable)
	}
	if m, ok := b.uncatalogued(c.Service); ok {
		return m
	}
	pr, err := p.PreviewRisk(ctx, c.Service, ProductionEnv, c.Version)
	if err != nil {
		return b.riskFailed(err, c.Service, "weighing the release risk")
	}
	return RiskMessage(pr, b.cfg.PublicURL)
}

// windowAnswer answers /readiness window <service>.
func (b *Bot) windowAnswer(ctx context.Context, c Command) Message {
	p := b.riskPreviewer()
	if p == nil {
		return TextMessage(riskUnavailable)
	}
	if m, ok := b.uncatalogued(c.Service); ok {
		return m
	}
	slots, err := p.DeploySlots(ctx, c.Service, windowHours)
	if err != nil {
		return b.riskFailed(err, c.Service, "ranking the deploy slots")
	}
	return WindowMessage(c.Service, windowHours, slots, b.cfg.PublicURL)
}

// trustOf is the service's place on the trust ladder for the scorecard's line; nil when it
// cannot be had. The scorecard is worth showing without it, so a failure is only logged.
func (b *Bot) trustOf(ctx context.Context, service string) *risk.Ladder {
	p := b.riskPreviewer()
	if p == nil {
		return nil
	}
	if _, ok := b.d.Catalog.Get(service); !ok {
		return nil // scored from events but not catalogued: the gate knows nothing of it
	}
	pr, err := p.PreviewRisk(ctx, service, ProductionEnv, "")
	if err != nil {
		b.d.Log.Warn("scorecard without its trust ladder line", "service", service, "err", err)
		return nil
	}
	return pr.Trust
}

// uncatalogued answers a service the catalog does not know, as the scorecard does: the gate
// would refuse it anyway, and the closest names help more than its error.
func (b *Bot) uncatalogued(name string) (Message, bool) {
	if _, ok := b.d.Catalog.Get(name); ok {
		return Message{}, false
	}
	return UnknownServiceMessage(name, b.d.Catalog.Closest(name, 3)), true
}

// riskFailed turns a previewer error into a reply. The gate's own refusals (not found, not
// configured, invalid) carry messages written for people and are shown; anything else goes
// to the log only.
func (b *Bot) riskFailed(err error, service, doing string) Message {
	var ae *releaseops.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case releaseops.ENOTFOUND:
			return UnknownServiceMessage(service, b.d.Catalog.Closest(service, 3))
		case releaseops.EUNAVAILABLE, releaseops.EINVALID:
			text := ae.Message
			if ae.Detail != "" {
				text += "; " + ae.Detail
			}
			return TextMessage("⚠️ " + OneLine(text) + ".")
		}
	}
	b.d.Log.Error("answer /readiness", "for", service, "doing", doing, "err", err)
	return TextMessage(fmt.Sprintf("Something went wrong while %s; the details are in ReleaseOps' log. Please try again.", doing))
}

// TrustLine is the scorecard's one line about the trust ladder: the rung, and the last move
// that put the service there. Step reasons carry deploy ids from events, so they are escaped.
func TrustLine(l *risk.Ladder) string {
	why := "no production deploy has moved it yet"
	if n := len(l.Steps); n > 0 {
		why = l.Steps[n-1].Reason
	}
	return fmt.Sprintf("*Trust ladder:* rung %d of %d — %s", l.Rung, l.Top, OneLine(why))
}

func riskEmoji(l risk.Level) string {
	switch l {
	case risk.Low:
		return "🟢"
	case risk.Medium:
		return "🟡"
	case risk.High:
		return "🔴"
	}
	return "⚪"
}

func decisionEmoji(d string) string {
	switch d {
	case "allow":
		return "✅"
	case "needs_approval":
		return "🟡"
	case "block":
		return "⛔"
	}
	return "❔"
}

// decisionText says what the gate would answer, in words, with the quorum it would need.
func decisionText(p RiskPreview) string {
	text := decisionEmoji(p.Decision) + " *" + Escape(strings.ReplaceAll(p.Decision, "_", " ")) + "*"
	switch {
	case p.AutoApproved:
		text += " (auto-approved)"
	case p.Decision == "needs_approval" && p.Quorum > 1:
		text += fmt.Sprintf(" (%d distinct approvers)", p.Quorum)
	}
	return text
}

func factorName(id string) string {
	s := strings.ReplaceAll(id, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
