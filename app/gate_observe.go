package app

import (
	"log/slog"
	"sort"
	"time"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// The gate posts what observe mode let through only through a Notifier that implements it.
var _ gate.ObserveNotifier = slackNotifier{}

// ObservedDecision posts to the service's channel what the gate would have decided and why.
func (n slackNotifier) ObservedDecision(t *storage.Tx, o *gate.ObservedNotice, now time.Time) error {
	if o.Channel == "" {
		n.log.Warn("observe-mode decision not posted: the service has no slack_channel and slack.default_channel is empty", "request", o.ID, "service", o.Service)
		return nil
	}
	a := &gate.Approval{ID: o.ID, Service: o.Service, Environment: o.Environment, Version: o.Version, CommitSHA: o.CommitSHA,
		RequestedBy: o.RequestedBy, Band: o.Decision.Band, Score: o.Decision.Score, Reasons: o.Decision.WouldReasons}
	msg := bot.ObservedMessage(n.approvalRequestOf(a), gate.WouldText(o.Decision.WouldDecision), o.Decision.ModeFrom, o.At, n.publicURL)
	_, err := bot.EnqueuePost(t, "observe:"+o.ID, o.Service, o.Channel, msg, &bot.Notify{Kind: "observe", Ref: o.ID}, now)
	return err
}

// logGateMode says at start where the gate does not enforce: a gate that only observes must
// not be mistaken for one that blocks. Services are those of the config; a gate_mode read from
// a catalog-info.yaml is named in each answer it applies to.
func logGateMode(cfg *config.Config, log *slog.Logger) {
	var envs, svcs []string
	for env, m := range cfg.Gate.ModeByEnvironment {
		if m == gate.ModeObserve {
			envs = append(envs, env)
		}
	}
	for _, s := range cfg.Services {
		if s.GateMode == gate.ModeObserve {
			svcs = append(svcs, s.Name)
		}
	}
	if cfg.Gate.Mode != gate.ModeObserve && len(envs) == 0 && len(svcs) == 0 {
		return
	}
	sort.Strings(envs)
	log.Warn("the gate observes and does not enforce: it allows every deploy there and records what it would have decided",
		"gate.mode", cfg.Gate.Mode, "observe_environments", envs, "observe_services", svcs)
}
