package app

import (
	"time"

	"github.com/releaseops/releaseops/bot"
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
