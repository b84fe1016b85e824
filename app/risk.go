package app

import (
	"log/slog"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/risk"
)

// timingPolicy builds what the gate weighs beyond readiness from risk:, gate.windows,
// gate.blackouts, gate.trust_ladder and gate.quorum (validated when the config loaded).
func (a *App) timingPolicy(log *slog.Logger) *gate.TimingPolicy {
	cfg := a.Config
	model, problems := risk.Compile(cfg.Risk)
	if len(problems) > 0 {
		log.Error("release risk is off: the risk config does not compile", "problems", problems)
		return nil
	}
	windows, problems := risk.CompileWindows(cfg.Gate.Windows, cfg.Gate.Blackouts)
	if len(problems) > 0 {
		log.Error("release risk is off: the windows do not compile", "problems", problems)
		return nil
	}
	rules := cfg.Gate.Quorum
	p := &gate.TimingPolicy{Model: model, Windows: windows, Ladder: cfg.Gate.TrustLadder,
		Quorum: func(band string, tier int, level risk.Level) int {
			return config.QuorumFor(rules, band, tier, string(level))
		}}
	if clients, err := a.githubClients(); err == nil && clients != nil {
		p.Changes = github.Comparer{Clients: clients}
	}
	return p
}
