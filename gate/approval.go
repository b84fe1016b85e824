package gate

import (
	"encoding/json"
	"fmt"
	"time"

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
		Channel: r.Channel, Origin: r.Origin, CreatedAt: r.CreatedAt, Reasons: []Reason{}}
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
