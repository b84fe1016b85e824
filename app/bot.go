package app

import (
	"context"
	"net/http"
	"time"

	"github.com/releaseops/releaseops/bot"
)

// wireBot builds the Slack bot: /slack/commands and /slack/interactions, the outbox senders
// of the Slack kinds, release notes after production deploys (a rescore listener) and
// regression posts (around the regression hook). Without slack.bot_token nothing is posted:
// messages stay in the outbox as "disabled" and are logged.
func (a *App) wireBot() {
	cfg := a.Config
	hc := &http.Client{Timeout: 15 * time.Second}
	log := a.Log.With("component", "slack")
	deps := bot.Deps{DB: a.DB, Catalog: a.Catalog, Engine: a.Engine, Outbox: a.Outbox, Pipeline: a.Pipeline, Log: log, Now: a.Now, HTTP: hc}
	if cfg.Slack.BotToken.IsSet() {
		deps.API = bot.NewSlackClient(cfg.Slack.BotToken.Value(), cfg.Slack.APIURL, hc)
	}
	// With a GitHub App, each repository is read through the installation that covers it.
	if clients, err := a.githubClients(); err != nil {
		log.Error("release notes will not read GitHub", "err", err)
	} else if clients != nil {
		deps.Notes = bot.NewGitHubNotesFrom(clients)
	}
	a.Bot = bot.New(deps, bot.Config{
		SigningSecret:  cfg.Slack.SigningSecret.Value(),
		BotToken:       cfg.Slack.BotToken.Value(),
		AppToken:       cfg.Slack.AppToken.Value(),
		SocketMode:     cfg.Slack.SocketMode,
		APIURL:         cfg.Slack.APIURL,
		DefaultChannel: cfg.Slack.DefaultChannel,
		PublicURL:      cfg.PublicURL,
		RateLimit:      cfg.Server.RateLimits["slack"],
	})
	// /readiness risk, window and the scorecard's trust line ask the gate, built after the
	// bot: the previewer looks it up at each call.
	a.Bot.SetRiskPreviewer(&gatePreview{a: a})
	a.Bot.Routes(a.Server.Echo())
	a.Bot.RegisterSenders(a.Outbox)
	a.Worker.Listeners = append(a.Worker.Listeners, a.Bot.OnFacts)
	a.Worker.Regression = a.Bot.WrapRegression(a.Worker.Regression)
	a.Worker.Stored = a.Outbox.Wake // release notes wait for the round's scores
}

// startBot runs Socket Mode (when configured) and lets late command answers finish on
// shutdown.
func (a *App) startBot(ctx context.Context) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.Bot.Run(ctx)
	}()
}
