package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// Exemptions are the waivers people request in Slack (/readiness exempt, or the scorecard's
// menu) and the configured approvers grant: requests, their decisions, the waivers they
// become, the reminder before each ends and its end. Every request and click is audited in
// the gate's hash chain.
type Exemptions struct {
	DB      *storage.DB
	Catalog *catalog.Catalog
	Engine  *scoring.Engine
	Outbox  *outbox.Outbox
	Config  *config.Config
	Log     *slog.Logger
	Now     func() time.Time
	// Rescore rescores services now: a granted or lapsed waiver changes their cards without
	// any new fact. The app's is the rescoring worker's RescoreNames.
	Rescore func(ctx context.Context, names []string) error
	// RemindBefore is how long before its end a waiver is announced to the owner's channel.
	RemindBefore time.Duration

	wake     chan struct{}
	once     sync.Once
	inflight sync.WaitGroup // rescores started by decisions
}

// DefaultRemindBefore is how long before an exemption ends the owner's channel is reminded.
const DefaultRemindBefore = 3 * 24 * time.Hour

// maxReason bounds an exemption's reason: it is shown in Slack, on the page and in the audit.
const maxReason = 500

// listLimit bounds the requests the API and the page list.
const listLimit = 1000

func (x *Exemptions) init() {
	x.once.Do(func() {
		x.wake = make(chan struct{}, 1)
		if x.RemindBefore <= 0 {
			x.RemindBefore = DefaultRemindBefore
		}
	})
}

// wireExemptions builds the exemption requests: the bot's handler, the waivers the rescoring
// worker reads, GET /api/v1/exemptions. With no exemptions.approvers the command says they
// are off; stored waivers still count and are still listed.
func (a *App) wireExemptions() {
	x := &Exemptions{DB: a.DB, Catalog: a.Catalog, Engine: a.Engine, Outbox: a.Outbox, Config: a.Config,
		Log: a.Log.With("component", "exemptions"), Now: a.Now, Rescore: a.Worker.RescoreNames}
	x.init()
	a.Exemptions = x
	a.Worker.Waivers = x.Granted
	if a.Bot != nil && a.Config.ExemptionsEnabled() {
		a.Bot.SetExemptionHandler(x)
	}
	a.Server.API().GET("/exemptions", x.list, a.Server.Require("read"))
}

// startExemptions runs the reminders and expiries on one replica.
func (a *App) startExemptions(ctx context.Context) {
	a.runLeased(ctx, leaseExemptions, a.Exemptions.Run)
}

// expiredShown is how long after its end an exemption is still passed to scoring, which
// then says on the signal that the waiver expired.
const expiredShown = 30 * 24 * time.Hour

// Granted returns the waivers of approved exemptions in force at now or ended within
// expiredShown, by service: the rescoring worker's Waivers. The engine tells the live from
// the ended against its own clock.
func (x *Exemptions) Granted(ctx context.Context, now time.Time) (map[string][]scoring.GrantedWaiver, error) {
	rows, err := x.DB.ExemptionsEndingAfter(ctx, now.Add(-expiredShown))
	if err != nil {
		return nil, err
	}
	out := map[string][]scoring.GrantedWaiver{}
	for _, r := range rows {
		out[r.Service] = append(out[r.Service], scoring.GrantedWaiver{Signal: r.Signal, Reason: r.Reason,
			Author: x.person(r.RequestedBy), Approver: x.person(r.DecidedBy), Ref: r.ID, Expires: r.ExpiresAt})
	}
	return out, nil
}

// ExemptionTerms implements bot.ExemptionHandler.
func (x *Exemptions) ExemptionTerms() (int, []string) {
	return x.Config.ExemptionMaxDays(), x.Config.Exemptions.Approvers
}

// person names a Slack user in a waiver: the name gate.users gives them, else the id. The
// card is read on the web and in the API, where a bare U0… says little.
func (x *Exemptions) person(slackID string) string {
	best := ""
	for name, id := range x.Config.Gate.Users {
		if id == slackID && (best == "" || name < best) {
			best = name
		}
	}
	if best == "" {
		return slackID
	}
	return best + " (" + slackID + ")"
}

// samePerson reports whether two Slack users are one person: the same id, or ids that
// gate.users maps from the same name (case and a leading @ aside), as when someone has a
// second account.
func (x *Exemptions) samePerson(a, b string) bool {
	if a == b {
		return true
	}
	norm := func(n string) string { return strings.ToLower(strings.TrimPrefix(strings.TrimSpace(n), "@")) }
	names := map[string]bool{}
	for name, id := range x.Config.Gate.Users {
		if id == a {
			names[norm(name)] = true
		}
	}
	for name, id := range x.Config.Gate.Users {
		if id == b && names[norm(name)] {
			return true
		}
	}
	return false
}

func (x *Exemptions) isApprover(slackID string) bool {
	for _, a := range x.Config.Exemptions.Approvers {
		if a == slackID {
			return true
		}
	}
	return false
}

// view is a stored request as the bot's messages show it.
func (x *Exemptions) view(r storage.ExemptionRow, current string) bot.Exemption {
	name, _ := x.Engine.SignalName(r.Signal)
	e := bot.Exemption{ID: r.ID, Service: r.Service, Signal: r.Signal, SignalName: name, Days: r.Days, Reason: r.Reason,
		RequestedBy: r.RequestedBy, Current: current, Approvers: x.Config.Exemptions.Approvers, State: r.State, DecidedBy: r.DecidedBy,
		DecidedAt: r.DecidedAt, ExpiresAt: r.ExpiresAt}
	if d := x.signalDimension(r.Signal); d != "" {
		e.Playbook = x.Engine.Playbook(d)
	}
	return e
}

// signalDimension is the dimension a signal or dimension rule belongs to, "" if unknown.
func (x *Exemptions) signalDimension(signal string) string {
	for _, d := range scoring.Registry() {
		if d.ID == signal {
			return d.Dimension
		}
	}
	for _, r := range x.Config.Scoring.Rules {
		if r.ID == signal {
			return r.Dimension
		}
	}
	return ""
}

// signalNow is a signal's outcome and reason on the service's stored card, "" without one.
func (x *Exemptions) signalNow(ctx context.Context, service, signal string) string {
	row, err := x.DB.GetScore(ctx, service)
	if err != nil {
		return ""
	}
	var card scoring.Scorecard
	if json.Unmarshal(row.Card, &card) != nil {
		return ""
	}
	for _, d := range card.Dimensions {
		for _, s := range d.Signals {
			if s.ID == signal {
				return string(s.Outcome) + ": " + s.Reason
			}
		}
	}
	return ""
}

func newExemptionID() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand does not fail
	return "exm_" + hex.EncodeToString(b)
}

func requestPostKey(id string) string { return "exemption:" + id + ":request" }
