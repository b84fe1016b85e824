package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/integrations/terraform"
)

// liveReport is one source's live check as the command prints it; each integration's
// CheckLive returns its own result type, and this is where they meet.
type liveReport struct {
	source   string
	missing  string // "" when configured; else what to set
	who      string
	details  []string
	problems []liveProblem
}

type liveProblem struct{ key, message string }

// liveCheck runs one source's check; the four run at once, each bounded by its own per-call
// timeouts.
type liveCheck struct {
	source string
	run    func(ctx context.Context) liveReport
}

func runLiveChecks(ctx context.Context, cfg *config.Config, timeout time.Duration, log *slog.Logger) []liveReport {
	cat, catProblems := liveCatalog(cfg)
	checks := []liveCheck{
		{"github", func(ctx context.Context) liveReport { return checkGitHub(ctx, cfg, timeout) }},
		{"slack", func(ctx context.Context) liveReport { return checkSlack(ctx, cfg, cat, timeout) }},
		{"pagerduty", func(ctx context.Context) liveReport { return checkPagerDuty(ctx, cfg, cat, timeout) }},
		{"terraform", func(ctx context.Context) liveReport { return checkTerraform(ctx, cfg, cat, timeout) }},
	}
	out := make([]liveReport, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() {
			start := time.Now()
			out[i] = c.run(ctx)
			out[i].source = c.source
			log.Debug("live check", "source", c.source, "configured", out[i].missing == "",
				"problems", len(out[i].problems), "took", time.Since(start).Round(time.Millisecond))
		})
	}
	wg.Wait()
	if len(catProblems) > 0 {
		out = append(out, liveReport{source: "catalog", problems: catProblems})
	}
	return out
}

// printLive writes one summary line per source and one line per problem, and returns how
// many problems there were.
func printLive(w io.Writer, reports []liveReport, timeout time.Duration) int {
	fmt.Fprintf(w, "live checks (each call times out after %s):\n", timeout)
	total := 0
	for _, r := range reports {
		if r.missing != "" {
			fmt.Fprintf(w, "  %s: not configured (set %s)\n", r.source, r.missing)
			continue
		}
		status := "ok"
		if n := len(r.problems); n > 0 {
			status = fmt.Sprintf("%d problem(s)", n)
		}
		var parts []string
		if r.who != "" {
			parts = append(parts, "authenticated as "+r.who)
		}
		parts = append(parts, r.details...)
		line := "  " + r.source + ": " + status
		if len(parts) > 0 {
			line += ": " + strings.Join(parts, "; ")
		}
		fmt.Fprintln(w, line)
		for _, p := range r.problems {
			fmt.Fprintf(w, "  %s: problem: %s: %s\n", r.source, p.key, p.message)
		}
		total += len(r.problems)
	}
	if total == 0 {
		fmt.Fprintln(w, "live: all configured sources ok")
	} else {
		fmt.Fprintf(w, "live: %d problem(s)\n", total)
	}
	return total
}

func checkGitHub(ctx context.Context, cfg *config.Config, timeout time.Duration) liveReport {
	if !cfg.GitHubAPI() {
		return liveReport{missing: "github.app_id and github.private_key, or github.token"}
	}
	g := cfg.GitHub
	o := github.LiveOptions{APIURL: g.APIURL, WebhookSecret: g.WebhookSecret.IsSet(), DiscoveryOrgs: cfg.Catalog.GitHubDiscovery.Orgs, Timeout: timeout}
	if cfg.GitHubApp() {
		o.AppID, o.PrivateKey, o.InstallationID = g.AppID, []byte(g.PrivateKey.Value()), g.InstallationID
	} else {
		o.Token = g.Token.Value()
	}
	r := github.CheckLive(ctx, o)
	rep := liveReport{who: r.Who, details: r.Details}
	for _, p := range r.Problems {
		rep.problems = append(rep.problems, liveProblem{p.Key, p.Message})
	}
	return rep
}

func checkSlack(ctx context.Context, cfg *config.Config, cat []liveService, timeout time.Duration) liveReport {
	s := cfg.Slack
	if !s.BotToken.IsSet() {
		return liveReport{missing: "slack.bot_token"}
	}
	o := bot.LiveOptions{BotToken: s.BotToken.Value(), APIURL: s.APIURL, SigningSecret: s.SigningSecret.IsSet(),
		SocketMode: s.SocketMode, AppToken: s.AppToken.IsSet(), Timeout: timeout}
	var unchanneled []string
	for _, svc := range cat {
		if svc.slackChannel.value != "" {
			o.Channels = append(o.Channels, bot.LiveChannel{Key: svc.slackChannel.key, Channel: svc.slackChannel.value, Services: []string{svc.name}})
		} else {
			unchanneled = append(unchanneled, svc.name)
		}
		if svc.stakeholderChannel.value != "" {
			o.Channels = append(o.Channels, bot.LiveChannel{Key: svc.stakeholderChannel.key, Channel: svc.stakeholderChannel.value, Services: []string{svc.name}})
		}
	}
	if s.DefaultChannel != "" {
		o.Channels = append(o.Channels, bot.LiveChannel{Key: "slack.default_channel", Channel: s.DefaultChannel, Services: unchanneled})
	}
	r := bot.CheckLive(ctx, o)
	rep := liveReport{who: r.Who, details: r.Details}
	for _, p := range r.Problems {
		rep.problems = append(rep.problems, liveProblem{p.Key, p.Message})
	}
	return rep
}

func checkPagerDuty(ctx context.Context, cfg *config.Config, cat []liveService, timeout time.Duration) liveReport {
	p := cfg.PagerDuty
	if !p.Token.IsSet() {
		return liveReport{missing: "pagerduty.token"}
	}
	o := pagerduty.LiveOptions{Token: p.Token.Value(), APIURL: p.APIURL, WebhookSecrets: len(p.WebhookSecrets), Timeout: timeout}
	for _, svc := range cat {
		if svc.pagerDuty.value != "" {
			o.Services = append(o.Services, pagerduty.LiveService{Key: svc.pagerDuty.key, Service: svc.name, ID: svc.pagerDuty.value})
		}
	}
	r := pagerduty.CheckLive(ctx, o)
	rep := liveReport{who: r.Who, details: r.Details}
	for _, p := range r.Problems {
		rep.problems = append(rep.problems, liveProblem{p.Key, p.Message})
	}
	return rep
}

func checkTerraform(ctx context.Context, cfg *config.Config, cat []liveService, timeout time.Duration) liveReport {
	t := cfg.Terraform
	if !t.Token.IsSet() {
		return liveReport{missing: "terraform.token"}
	}
	o := terraform.LiveOptions{Token: t.Token.Value(), Address: t.Address, Organization: t.Organization,
		WebhookSecret: t.WebhookSecret.IsSet(), Timeout: timeout}
	for _, svc := range cat {
		for _, w := range svc.workspaces {
			o.Workspaces = append(o.Workspaces, terraform.LiveWorkspace{Key: w.key, Service: svc.name, Workspace: w.value})
		}
	}
	r := terraform.CheckLive(ctx, o)
	rep := liveReport{who: r.Who, details: r.Details}
	for _, p := range r.Problems {
		rep.problems = append(rep.problems, liveProblem{p.Key, p.Message})
	}
	return rep
}

// keyed is a catalogued value with where it was set: "services[2].slack_channel", or a
// Backstage file and annotation.
type keyed struct{ key, value string }

// liveService is a catalogued service as the live checks need it: the merged entry's
// values, each with the place to fix it.
type liveService struct {
	name               string
	slackChannel       keyed
	stakeholderChannel keyed
	pagerDuty          keyed
	workspaces         []keyed
}

// liveCatalog merges Backstage entries and config services: the config wins field by
// field, as catalog.Merge does, and each value keeps the key it came from.
func liveCatalog(cfg *config.Config) ([]liveService, []liveProblem) {
	var problems []liveProblem
	byName := map[string]*liveService{}
	var order []string
	get := func(name string) *liveService {
		s, ok := byName[name]
		if !ok {
			s = &liveService{name: name}
			byName[name] = s
			order = append(order, name)
		}
		return s
	}
	if len(cfg.Catalog.BackstagePaths) > 0 {
		bs, err := catalog.LoadBackstage(cfg.Catalog.BackstagePaths)
		if err != nil {
			problems = append(problems, liveProblem{"catalog.backstage_paths", err.Error()})
		}
		for _, b := range bs {
			file := strings.TrimPrefix(b.Origin, "backstage:")
			// One annotation holds a whole list, so the index does not name a place.
			apply(get(b.Name), b, func(field string, _ int) string {
				return fmt.Sprintf("%s: %s", file, backstageAnnotation[field])
			})
		}
	}
	for i, c := range cfg.Services {
		apply(get(c.Name), c, func(field string, j int) string {
			if j >= 0 {
				return fmt.Sprintf("services[%d].%s[%d]", i, field, j)
			}
			return fmt.Sprintf("services[%d].%s", i, field)
		})
	}
	out := make([]liveService, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, problems
}

// backstageAnnotation names where catalog-info.yaml sets each field the checks read.
var backstageAnnotation = map[string]string{
	"slack_channel":        "releaseops.io/slack-channel",
	"pagerduty_service_id": "pagerduty.com/service-id",
	"terraform_workspaces": "releaseops.io/terraform-workspaces",
}

func apply(dst *liveService, s releaseops.Service, key func(field string, i int) string) {
	set := func(k *keyed, field, v string) {
		if v != "" {
			*k = keyed{key(field, -1), v}
		}
	}
	set(&dst.slackChannel, "slack_channel", s.SlackChannel)
	set(&dst.stakeholderChannel, "stakeholder_channel", s.StakeholderChannel)
	set(&dst.pagerDuty, "pagerduty_service_id", s.PagerDutyServiceID)
	if len(s.TerraformWorkspaces) > 0 {
		dst.workspaces = nil
		for j, w := range s.TerraformWorkspaces {
			dst.workspaces = append(dst.workspaces, keyed{key("terraform_workspaces", j), w})
		}
	}
}
