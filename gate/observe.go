package gate

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// Gate modes. In observe mode the gate answers allow and records what enforcement would have
// answered, so a platform team can switch to enforce on evidence (docs/rollout.md).
const (
	ModeEnforce = "enforce"
	ModeObserve = "observe"
)

// ModePolicy is where the gate only observes: config gate.mode, gate.mode_by_environment and
// each service's catalog gate_mode. The most specific setting wins.
type ModePolicy struct {
	Default       string            // gate.mode
	ByEnvironment map[string]string // gate.mode_by_environment
}

// ModeFor returns the mode for a deploy of svc to env and the setting that chose it: the
// service's gate_mode, else the environment's, else gate.mode, else enforce. A gate_mode
// read from a catalog-info.yaml names that file: whoever can edit it can stop enforcement
// for the service, so the answer, the audit log and the channel's post say where it came from.
func (p ModePolicy) ModeFor(svc releaseops.Service, env string) (mode, from string) {
	switch {
	case svc.GateMode != "":
		from = "gate_mode of service " + svc.Name
		if o := svc.GateModeOrigin; o != "" && o != "config" {
			from += " (" + o + ")"
		}
		return svc.GateMode, from
	case p.ByEnvironment[env] != "":
		return p.ByEnvironment[env], "gate.mode_by_environment." + env
	case p.Default != "":
		return p.Default, "gate.mode"
	}
	return ModeEnforce, "default"
}

// Observe applies a mode to an enforced decision. In enforce mode d is unchanged but for
// naming its mode. In observe mode the answer is allow; what enforcement would have answered
// goes to WouldDecision and WouldReasons, and the first reason says so. A break glass in
// observe mode is kept (it is recorded and posted as ever); the decision it overrode is the
// one enforcement would have made.
func Observe(d Decision, mode, from string) Decision {
	d.Mode, d.ModeFrom = mode, from
	if mode != ModeObserve {
		return d
	}
	would, reasons := d.Decision, d.Reasons
	if d.BreakGlass {
		would, reasons = d.Would, withoutKind(d.Reasons, "break_glass")
	}
	d.WouldDecision = would
	if would == Allow {
		return d
	}
	d.WouldReasons = reasons
	d.Decision, d.Quorum = Allow, 0
	d.Reasons = append([]Reason{{Kind: "observe", Text: fmt.Sprintf("observe mode (%s): the gate %s; the deploy is allowed and recorded", from, WouldText(would))}}, d.Reasons...)
	return d
}

// WouldText words what enforcement would have done: "would block", "would need approval".
func WouldText(decision string) string {
	switch decision {
	case Block:
		return "would block"
	case NeedsApproval:
		return "would need approval"
	}
	return "would allow"
}

func withoutKind(rs []Reason, kind string) []Reason {
	out := make([]Reason, 0, len(rs))
	for _, r := range rs {
		if r.Kind != kind {
			out = append(out, r)
		}
	}
	return out
}

// observe applies the mode of the request's service and environment. A service the catalog
// does not know (a protection rule from an unmapped repository) gets the environment's mode.
func (g *Gate) observe(d Decision, req Request) Decision {
	svc, _ := g.Catalog.Get(req.Service)
	mode, from := g.Policy.Mode.ModeFor(svc, req.Environment)
	return Observe(d, mode, from)
}

// ObserveNotifier is a Notifier that can also post what observe mode let through.
type ObserveNotifier interface {
	// ObservedDecision queues the post saying what the gate would have decided and why.
	ObservedDecision(t *storage.Tx, o *ObservedNotice, now time.Time) error
}

// ObservedNotice is a deploy observe mode allowed that enforcement would have stopped.
type ObservedNotice struct {
	ID          string // the gate request's origin key
	Service     string
	Environment string
	Version     string
	CommitSHA   string
	RequestedBy string
	Channel     string
	Decision    Decision
	At          time.Time
}

// observed records an observe-mode decision for the report and, when enforcement would not
// have allowed it, queues the channel's post, in the decision's transaction.
func (g *Gate) observed(t *storage.Tx, in decided, now time.Time) error {
	if in.d.Mode != ModeObserve {
		return nil
	}
	reasons := in.d.WouldReasons
	if reasons == nil {
		reasons = []Reason{}
	}
	raw, err := json.Marshal(reasons)
	if err != nil {
		return fmt.Errorf("encode observed reasons: %w", err)
	}
	if err := storage.InsertObservation(t, storage.Observation{OriginKey: in.originKey, At: now, Service: in.svc.Name,
		Environment: in.req.Environment, ModeFrom: in.d.ModeFrom, WouldDecision: in.d.WouldDecision, Band: in.d.Band,
		Score: in.d.Score, Reasons: raw}); err != nil {
		return err
	}
	on, ok := g.Notifier.(ObserveNotifier)
	if !ok || in.d.WouldDecision == Allow {
		return nil
	}
	n := &ObservedNotice{ID: in.originKey, Service: in.svc.Name, Environment: in.req.Environment, Version: in.req.Version,
		CommitSHA: in.req.CommitSHA, RequestedBy: in.req.RequestedBy, Channel: g.channelOf(in.svc), Decision: in.d, At: now}
	if err := on.ObservedDecision(t, n, now); err != nil {
		return fmt.Errorf("queue observe-mode post: %w", err)
	}
	return nil
}
