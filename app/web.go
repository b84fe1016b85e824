package app

import (
	"context"
	"time"

	"github.com/releaseops/releaseops/web"
)

// wireWeb mounts the read-only pages and the playbooks on the server's router. The chart's
// band lines use the production thresholds: those are the ones stored bands are computed with.
func (a *App) wireWeb() {
	log := a.Log.With("component", "web")
	// The service page and the scorecard API show what the gate would answer a production
	// deploy now; neither depends on the gate, so both get it here, where the gate exists.
	preview := &gatePreview{a: a}
	trust := newTrustCache(preview)
	a.Server.SetTrust(trust.Trust)
	a.Worker.Listeners = append(a.Worker.Listeners, trust.forget)
	web.Register(a.Server.Echo(), web.Deps{
		DB:            a.DB,
		Catalog:       a.Catalog,
		Log:           log,
		Now:           a.Now,
		Thresholds:    a.Engine.Thresholds("production"),
		HistoryWindow: a.Config.Scoring.TrendWindow.Std(),
		Auth:          a.webAuth(),
		Deploy:        preview,
		Initiatives:   a,
	})
}

// webAuth sets up the pages' sign-in. Discovery of an OpenID provider is bounded here; a
// provider that is down is retried at the first sign-in (web.NewAuth). The sign-in's clock is
// the wall clock, not a.Now: the provider stamps ID tokens with real time, also in the demo.
func (a *App) webAuth() *web.Auth {
	log := a.Log.With("component", "web.auth")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	auth, err := web.NewAuth(ctx, web.AuthOptions{Mode: a.Config.WebAuth(), Web: a.Config.Web, PublicURL: a.Config.PublicURL, Log: log})
	if err != nil {
		// Validation refuses such a config before this point; should one get here anyway,
		// the pages that show evidence are closed rather than open.
		log.Error("web sign-in could not be set up; the pages that show evidence answer 503", "err", err)
		return web.ClosedAuth("The sign-in is misconfigured; the cause is in the server log.")
	}
	return auth
}
