package app

import (
	"github.com/releaseops/releaseops/web"
)

// wireWeb mounts the read-only pages and the playbooks on the server's router. The chart's
// band lines use the production thresholds: those are the ones stored bands are computed with.
func (a *App) wireWeb() {
	web.Register(a.Server.Echo(), web.Deps{
		DB:            a.DB,
		Catalog:       a.Catalog,
		Log:           a.Log.With("component", "web"),
		Now:           a.Now,
		Thresholds:    a.Engine.Thresholds("production"),
		HistoryWindow: a.Config.Scoring.TrendWindow.Std(),
	})
}
