package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// Approval states.
const (
	StatePending  = "pending"
	StateApproved = "approved"
	StateDenied   = "denied"
	StateExpired  = "expired"
)

// Approval origins.
const (
	OriginAPI    = "api"
	OriginGitHub = "github"
)

// Approval is a watch-band deploy waiting for (or past) an approver's decision, in the shape
// of GET /api/v1/approvals/{id} (SPEC §5).
type Approval struct {
	ID          string     `json:"id"`
	Service     string     `json:"service"`
	Environment string     `json:"environment"`
	Version     string     `json:"version"`
	CommitSHA   string     `json:"commit_sha,omitempty"`
	RequestedBy string     `json:"requested_by"`
	State       string     `json:"state"`
	DecidedBy   string     `json:"decided_by"`
	DecidedAt   *time.Time `json:"decided_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	Reasons     []Reason   `json:"reasons"`
	Score       *float64   `json:"score"`
	Band        string     `json:"band"`
	Channel     string     `json:"channel,omitempty"`
	Origin      string     `json:"origin"`
	CreatedAt   time.Time  `json:"created_at"`
	// Callback is the GitHub protection rule waiting for this decision, if any.
	Callback *Callback `json:"github,omitempty"`
	// Quorum is how many distinct approvers must approve (the requester never counts).
	Quorum int `json:"quorum"`
	// Votes are the approvals counted so far, oldest first; a Deny is a decision, not a vote.
	Votes []Vote `json:"votes"`
	// Prepared is what the Notifier's PrepareApproval read for the request's message (nil:
	// ApprovalRequested reads it itself).
	Prepared any `json:"-"`
}

// Vote is one approver's counted Approve click.
type Vote struct {
	Approver string    `json:"approver"` // Slack user id
	At       time.Time `json:"at"`
}

// Callback is where a GitHub deployment protection rule waits for its answer.
type Callback struct {
	Delivery    string `json:"delivery"`
	Repo        string `json:"repo,omitempty"`
	Environment string `json:"environment"`
	URL         string `json:"callback_url"`
	// InstallationID is the GitHub App installation that sent the rule: GitHub accepts the
	// answer only with that installation's token. 0 (a token, or a delivery stored before
	// ReleaseOps knew it) falls back to github.installation_id.
	InstallationID int64 `json:"installation_id,omitempty"`
}

// Final reports whether the state is a decision.
func (a *Approval) Final() bool { return a.State != StatePending }

// Allowed reports whether the approval lets the deploy go out.
func (a *Approval) Allowed() bool { return a.State == StateApproved }

func approvalOf(r storage.ApprovalRow) (*Approval, error) {
	a := &Approval{ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version, CommitSHA: r.CommitSHA,
		RequestedBy: r.RequestedBy, State: r.State, DecidedBy: r.DecidedBy, ExpiresAt: r.ExpiresAt, Score: r.Score, Band: r.Band,
		Channel: r.Channel, Origin: r.Origin, CreatedAt: r.CreatedAt, Reasons: []Reason{}, Quorum: max(r.Quorum, 1), Votes: []Vote{}}
	if !r.DecidedAt.IsZero() {
		at := r.DecidedAt
		a.DecidedAt = &at
	}
	if err := json.Unmarshal(r.Reasons, &a.Reasons); err != nil {
		return nil, fmt.Errorf("approval %s: decode reasons: %w", r.ID, err)
	}
	if len(r.Callback) > 0 {
		a.Callback = &Callback{}
		if err := json.Unmarshal(r.Callback, a.Callback); err != nil {
			return nil, fmt.Errorf("approval %s: decode callback: %w", r.ID, err)
		}
	}
	return a, nil
}

// setVotes replaces the approval's votes with the stored ones.
func (a *Approval) setVotes(vs []storage.Vote) {
	a.Votes = make([]Vote, len(vs))
	for i, v := range vs {
		a.Votes[i] = Vote{Approver: v.Approver, At: v.At}
	}
}

// Voters are the Slack ids of those whose approval counted, in the order they clicked.
func (a *Approval) Voters() []string {
	out := make([]string, len(a.Votes))
	for i, v := range a.Votes {
		out[i] = v.Approver
	}
	return out
}

// loadVotes reads the approval's votes outside a transaction, for readers of the record.
func (g *Gate) loadVotes(ctx context.Context, a *Approval) error {
	vs, err := g.DB.Votes(ctx, a.ID)
	if err != nil {
		return err
	}
	a.setVotes(vs)
	return nil
}

// ReasonOnCall is the kind of the reason under which an approval keeps who was on call for
// the service when it was created. It is not why the gate decided: the gate's answer never
// carries it, only the approval record, so that the request and the update after the
// decision show the same line without reading PagerDuty's state again.
const ReasonOnCall = "oncall"

// onCallPrefix starts the line; the Slack builders find it by the same text (bot.OnCallPrefix).
const onCallPrefix = "On call: "

// onCallMaxAge: a rota PagerDuty last confirmed longer ago than this says who was on call,
// not who answers the page now.
const onCallMaxAge = 24 * time.Hour

// maxOnCallPerLevel keeps the line to one line when a level pages several schedules.
const maxOnCallPerLevel = 3

// withOnCall adds the service's on-call line to a new approval's reasons. Without a fresh
// on-call fact the approval simply has no line; a failed read is logged, never a reason to
// refuse the deploy an approval.
func (g *Gate) withOnCall(ctx context.Context, a *Approval, now time.Time) {
	line, err := g.onCallText(ctx, a.Service, now)
	if err != nil {
		g.Log.Warn("approval request without the on-call line", "approval", a.ID, "service", a.Service, "err", err)
		return
	}
	if line == "" {
		return
	}
	// Clipped: the reasons are the decision's too, whose answer must not gain the line.
	a.Reasons = append(slices.Clip(a.Reasons), Reason{Kind: ReasonOnCall, Text: line})
}

// onCallText reads the service's latest oncall fact and says who is on call at now, or ""
// when nobody known is.
func (g *Gate) onCallText(ctx context.Context, service string, now time.Time) (string, error) {
	facts, err := g.DB.RecentFacts(ctx, service, releaseops.FactOnCall, now.Add(time.Millisecond), 1)
	if err != nil {
		return "", err
	}
	if len(facts) == 0 || facts[0].OnCall == nil {
		return "", nil
	}
	f := facts[0]
	if now.Sub(f.At) > onCallMaxAge {
		// Sync stores a rota again only when it changes, so a week-long shift has a week-old
		// fact; a successful read of the same PagerDuty service since confirms it.
		confirmed, err := g.pagerDutyReadAt(ctx, service, f.Subject.Key)
		if err != nil {
			return "", err
		}
		if now.Sub(confirmed) > onCallMaxAge {
			return "", nil
		}
	}
	return onCallLine(f.OnCall, now), nil
}

// pagerDutyReadAt is when sync last read the PagerDuty service successfully (zero: never).
func (g *Gate) pagerDutyReadAt(ctx context.Context, service, pdService string) (time.Time, error) {
	cov, err := g.DB.SyncCoverage(ctx, service)
	if err != nil {
		return time.Time{}, err
	}
	for _, c := range cov {
		if c.Source == releaseops.SourcePagerDuty && c.Subject == pdService {
			return c.LastSuccess, nil
		}
	}
	return time.Time{}, nil
}

// onCallLine renders levels 1 and 2 in plain text: "On call: Alice (until 18:00 UTC), then
// Bob". A shift that ended by now is left out; with nobody left at level 1, level 2 is named
// as such, since it is not who gets paged first. The Slack side escapes it.
func onCallLine(oc *releaseops.OnCall, now time.Time) string {
	var first, second []releaseops.OnCallLevel
	for _, l := range oc.Levels {
		if (!l.Until.IsZero() && !l.Until.After(now)) || strings.TrimSpace(l.User) == "" {
			continue
		}
		switch l.Level {
		case 1:
			first = append(first, l)
		case 2:
			second = append(second, l)
		}
	}
	switch {
	case len(first) > 0 && len(second) > 0:
		return onCallPrefix + onCallNames(first, "", now) + ", then " + onCallNames(second, "", now)
	case len(first) > 0:
		return onCallPrefix + onCallNames(first, "", now)
	case len(second) > 0:
		return onCallPrefix + onCallNames(second, "level 2", now)
	}
	return ""
}

func onCallNames(ls []releaseops.OnCallLevel, label string, now time.Time) string {
	var names []string
	for i, l := range ls {
		if i == maxOnCallPerLevel {
			names = append(names, fmt.Sprintf("%d more", len(ls)-i))
			break
		}
		var notes []string
		if label != "" {
			notes = append(notes, label)
		}
		if !l.Until.IsZero() {
			notes = append(notes, "until "+untilText(l.Until, now))
		}
		name := strings.Join(strings.Fields(l.User), " ")
		if len(notes) > 0 {
			name += " (" + strings.Join(notes, ", ") + ")"
		}
		names = append(names, name)
	}
	return strings.Join(names, ", ")
}

// untilText is the end of a shift in UTC; the date only when it is not within the next day,
// where the time alone is unambiguous.
func untilText(until, now time.Time) string {
	if until.Sub(now) < 24*time.Hour {
		return until.UTC().Format("15:04 UTC")
	}
	return until.UTC().Format("2006-01-02 15:04 UTC")
}
