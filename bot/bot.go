package bot

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/time/rate"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// Scores is what the bot reads of the stored scores; *storage.DB implements it.
type Scores interface {
	GetScore(ctx context.Context, service string) (storage.ScoreRow, error)
	ListScores(ctx context.Context) ([]storage.ScoreRow, error)
	ScoreSummaries(ctx context.Context, names []string) (map[string]storage.ScoreSummary, error)
}

// Config is the Slack part of the configuration, plus what links and notes need.
type Config struct {
	SigningSecret  string
	BotToken       string
	AppToken       string
	SocketMode     bool
	APIURL         string
	DefaultChannel string
	PublicURL      string
	// RateLimit caps /slack/* requests per second (server.rate_limits.slack); 0 is none.
	RateLimit float64
}

// Deps are the parts of ReleaseOps the bot uses.
type Deps struct {
	DB       *storage.DB
	Scores   Scores // default DB
	Catalog  *catalog.Catalog
	Engine   *scoring.Engine
	Outbox   *outbox.Outbox
	Pipeline *ingest.Pipeline
	Log      *slog.Logger
	// Now is the application clock (message times, recency of deploys).
	Now func() time.Time
	// Notes reads release notes from GitHub; nil when github.token is not set.
	Notes NotesSource
	// API is the Slack Web API; nil when slack.bot_token is not set (posts stay disabled).
	API SlackAPI
	// HTTP is the client for response_url posts.
	HTTP *http.Client
}

// Bot answers Slack and queues what ReleaseOps says there.
type Bot struct {
	d        Deps
	cfg      Config
	verifier Verifier
	limiter  *rate.Limiter
	// notesFailures counts consecutive failed GitHub reads of release notes (notes.go).
	notesFailures atomic.Int64

	// AnswerWithin is how long a command may take before it is acknowledged and answered
	// through response_url instead: well inside Slack's 3 s.
	AnswerWithin time.Duration
	// AnswerTimeout bounds the slow path.
	AnswerTimeout time.Duration
	// ReleaseNotesMaxAge: deploys that finished longer ago than this get no post (a backfill
	// or a first start replays history; nobody wants last month's release notes).
	ReleaseNotesMaxAge time.Duration
	// RegressionRepeatAfter: within this time of a regression post, a service that regresses
	// again is posted only if it fell further (a lower band, or alert points lower).
	RegressionRepeatAfter time.Duration
	// GitHubAttempts is how many tries release notes give GitHub before posting without them.
	GitHubAttempts int

	mu        sync.RWMutex
	approvals ApprovalHandler
	previewer RiskPreviewer
	ctx       context.Context
	wg        sync.WaitGroup

	// exemptions takes /readiness exempt and its clicks (exempt.go); nil: exemptions are off.
	exemptions ExemptionHandler
}

// New returns a bot. Mount it with Routes, give the outbox its senders with RegisterSenders,
// and start Socket Mode (if configured) with Run.
func New(d Deps, cfg Config) *Bot {
	if d.Scores == nil {
		d.Scores = d.DB
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HTTP == nil {
		d.HTTP = &http.Client{Timeout: 10 * time.Second}
	}
	b := &Bot{d: d, cfg: cfg, verifier: Verifier{Secret: cfg.SigningSecret},
		AnswerWithin: 2 * time.Second, AnswerTimeout: 25 * time.Second,
		ReleaseNotesMaxAge: 6 * time.Hour, RegressionRepeatAfter: 24 * time.Hour, GitHubAttempts: 3,
		ctx: context.Background()}
	if cfg.RateLimit > 0 {
		b.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(1, int(cfg.RateLimit)))
	}
	return b
}

// NewSlackClient returns the Web API client for a bot token. Retries are the outbox's job,
// so the client's own stay off.
func NewSlackClient(token, apiURL string, hc *http.Client) *slack.Client {
	opts := []slack.Option{slack.OptionHTTPClient(hc)}
	if apiURL != "" {
		if apiURL[len(apiURL)-1] != '/' {
			apiURL += "/" // slack-go joins method names without a separator
		}
		opts = append(opts, slack.OptionAPIURL(apiURL))
	}
	return slack.New(token, opts...)
}

// SetApprovalHandler installs what decides on Approve and Deny clicks (the gate).
func (b *Bot) SetApprovalHandler(h ApprovalHandler) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.approvals = h
}

func (b *Bot) approvalHandler() ApprovalHandler {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.approvals
}

// CommandsEnabled reports whether /readiness and clicks are answered (HTTP or Socket Mode).
func (b *Bot) CommandsEnabled() bool {
	return b.cfg.SigningSecret != "" || b.cfg.SocketMode
}

// RegisterSenders gives the outbox the senders of the Slack kinds. Without a bot token, posts
// and updates get none: they are kept as "disabled" and logged, showing what would have
// been posted. Release notes are always composed, so their post is visible either way.
func (b *Bot) RegisterSenders(o *outbox.Outbox) {
	if b.d.API != nil {
		o.Register(KindPost, &PostSender{API: b.d.API, Delivered: b.recordDelivered, OnError: func(m *outbox.Stored, err error) {
			b.d.Log.Error("record delivered notification", "key", m.Key, "err", err)
		}})
		o.Register(KindUpdate, &UpdateSender{API: b.d.API, Lookup: o.Get})
	}
	if b.CommandsEnabled() {
		o.Register(KindResponse, &ResponseSender{HTTP: b.d.HTTP, AllowedHosts: b.responseHosts()})
	}
	o.Register(KindReleaseNotes, &notesComposer{b: b})
}

// responseHosts are the hosts a response_url may name: Slack's, and the host of slack.api_url
// when it is overridden (Slack Enterprise Grid proxies, tests).
func (b *Bot) responseHosts() []string {
	hosts := []string{"hooks.slack.com"}
	if u, err := url.Parse(b.cfg.APIURL); err == nil && u.Hostname() != "" && u.Hostname() != "slack.com" {
		hosts = append(hosts, u.Hostname())
	}
	return hosts
}

// Run serves Socket Mode when configured, and keeps the context of late command answers,
// until ctx ends; then it waits for the answers in flight.
func (b *Bot) Run(ctx context.Context) {
	b.mu.Lock()
	b.ctx = ctx
	b.mu.Unlock()
	if b.cfg.SocketMode {
		b.runSocketMode(ctx)
	} else {
		<-ctx.Done()
	}
	b.wg.Wait()
}

func (b *Bot) baseContext() context.Context {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.ctx
}

// ChannelFor is where posts about a service go: its slack_channel, else default_channel.
func (b *Bot) ChannelFor(svc releaseops.Service) string {
	if svc.SlackChannel != "" {
		return svc.SlackChannel
	}
	return b.cfg.DefaultChannel
}

// releaseChannel is where release notes go: the stakeholder channel when the catalog names
// one (the people who need to hear about releases), else the service's channel.
func (b *Bot) releaseChannel(svc releaseops.Service) string {
	if svc.StakeholderChannel != "" {
		return svc.StakeholderChannel
	}
	return b.ChannelFor(svc)
}

// service returns the catalog entry, or a bare one for a service known only from events.
func (b *Bot) service(name string) releaseops.Service {
	if svc, ok := b.d.Catalog.Get(name); ok {
		return svc
	}
	return releaseops.Service{Name: name}
}
