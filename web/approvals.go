package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/storage"
)

// GateRecords are the gate's stored approvals, votes and audit log, as the approvals, audit and
// team pages read them. *storage.DB implements it.
type GateRecords interface {
	PendingApprovals(ctx context.Context, limit int) ([]storage.ApprovalRow, error)
	PendingApprovalCounts(ctx context.Context) (map[string]int, error)
	DecidedApprovals(ctx context.Context, before storage.DecisionCursor, limit int) ([]storage.ApprovalRow, error)
	VotesOn(ctx context.Context, ids []string) (map[string][]storage.Vote, error)
	ListAudit(ctx context.Context, service string, before int64, limit int) ([]storage.AuditRow, error)
}

const (
	// pendingShown bounds the pending list: approvals expire (gate.approval_timeout), so
	// more than this waiting at once means something else is wrong, and the page says so.
	pendingShown = 200
	decidedPage  = 25
)

// approvalView is one approval as the pages show it.
type approvalView struct {
	ID          string
	Service     string
	Environment string
	Version     string
	CommitSHA   string
	RequestedBy string
	Origin      string
	Score       *float64
	Band        string
	Reasons     []approvalReason
	State       string
	StateClass  string // from a fixed set
	DecidedBy   string
	CreatedAt   time.Time
	Created     string // "3 h ago"
	DecidedAt   time.Time
	Decided     string
	ExpiresAt   time.Time
	Expires     string // "in 40 min"
	Quorum      int
	Votes       []voteView
}

// approvalReason is why the gate asked for the approval, in the gate's words.
type approvalReason struct {
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Playbook string `json:"playbook"`
}

type voteView struct {
	Approver string
	At       time.Time
	Ago      string
}

// stateClass maps an approval state to its CSS class; anything unexpected is neutral.
func stateClass(state string) string {
	switch state {
	case "pending", "approved", "denied", "expired":
		return "state-" + state
	}
	return "state-unknown"
}

func approvalOf(r storage.ApprovalRow, votes []storage.Vote, now time.Time) (approvalView, error) {
	a := approvalView{ID: r.ID, Service: r.Service, Environment: r.Environment, Version: r.Version, CommitSHA: r.CommitSHA,
		RequestedBy: r.RequestedBy, Origin: r.Origin, Score: r.Score, Band: r.Band, State: r.State, StateClass: stateClass(r.State),
		DecidedBy: r.DecidedBy, CreatedAt: r.CreatedAt, Created: ago(now, r.CreatedAt), DecidedAt: r.DecidedAt, ExpiresAt: r.ExpiresAt,
		Quorum: max(r.Quorum, 1)}
	if !r.DecidedAt.IsZero() {
		a.Decided = ago(now, r.DecidedAt)
	}
	if r.State == "pending" {
		a.Expires = inAbout(now, r.ExpiresAt)
	}
	if len(r.Reasons) > 0 {
		if err := json.Unmarshal(r.Reasons, &a.Reasons); err != nil {
			return a, fmt.Errorf("approval %s: decode reasons: %w", r.ID, err)
		}
	}
	for _, v := range votes {
		a.Votes = append(a.Votes, voteView{Approver: v.Approver, At: v.At, Ago: ago(now, v.At)})
	}
	return a, nil
}

// inAbout says how long until t, in the largest whole unit.
func inAbout(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < time.Minute:
		return "in under a minute"
	case d < time.Hour:
		return fmt.Sprintf("in %d min", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d h", int(d/time.Hour))
	}
	return fmt.Sprintf("in %d days", int(d/(24*time.Hour)))
}

// views turns stored approvals into views with their votes, read in one query.
func (h *handler) views(ctx context.Context, rows []storage.ApprovalRow, now time.Time) ([]approvalView, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	votes, err := h.d.Gate.VotesOn(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]approvalView, 0, len(rows))
	for _, r := range rows {
		a, err := approvalOf(r, votes[r.ID], now)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// pendingApprovals returns the pending approvals, soonest expiry first, and whether there are
// more than the page shows.
func (h *handler) pendingApprovals(ctx context.Context, now time.Time) ([]approvalView, bool, error) {
	rows, err := h.d.Gate.PendingApprovals(ctx, pendingShown+1)
	if err != nil {
		return nil, false, err
	}
	more := len(rows) > pendingShown
	if more {
		rows = rows[:pendingShown]
	}
	v, err := h.views(ctx, rows, now)
	return v, more, err
}

// decisionCursor is the ?before= of the decided list: the last shown decision's time in unix
// milliseconds and its id, "1763640000000.apr_0a1b…". The time is digits only, so the first
// "." ends it whatever the id holds.
func parseDecisionCursor(s string) (storage.DecisionCursor, error) {
	if s == "" {
		return storage.DecisionCursor{}, nil
	}
	ms, id, ok := strings.Cut(s, ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 || id == "" {
		return storage.DecisionCursor{}, fmt.Errorf("before must be the cursor of the next-page link (milliseconds.approval-id), not %q", s)
	}
	return storage.DecisionCursor{DecidedAt: time.UnixMilli(n).UTC(), ID: id}, nil
}

func decisionCursor(a approvalView) string {
	return strconv.FormatInt(a.DecidedAt.UTC().UnixMilli(), 10) + "." + a.ID
}

type approvalsView struct {
	page
	Pending     []approvalView
	MorePending bool
	Decided     []approvalView
	// First is set on the first page of decisions; Next is the link to older ones, if any.
	First bool
	Next  string
}

func (h *handler) approvals(c echo.Context) error {
	before, err := parseDecisionCursor(c.QueryParam("before"))
	if err != nil {
		return h.badRequest(c, err)
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	now := h.d.Now()
	v := approvalsView{page: page{Title: "Approvals", Nav: "approvals"}, First: before.DecidedAt.IsZero()}
	// The pending ones head the first page only: later pages are for reading back.
	if v.First {
		if v.Pending, v.MorePending, err = h.pendingApprovals(ctx, now); err != nil {
			return h.serverError(c, "approvals", err)
		}
	}
	rows, err := h.d.Gate.DecidedApprovals(ctx, before, decidedPage+1)
	if err != nil {
		return h.serverError(c, "approvals", err)
	}
	more := len(rows) > decidedPage
	if more {
		rows = rows[:decidedPage]
	}
	if v.Decided, err = h.views(ctx, rows, now); err != nil {
		return h.serverError(c, "approvals", err)
	}
	if more {
		v.Next = "/approvals?before=" + url.QueryEscape(decisionCursor(v.Decided[len(v.Decided)-1]))
	}
	return h.render(c, http.StatusOK, "approvals", v)
}
