package gate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// Gate answers gate requests and runs approvals. Fields are set before first use.
type Gate struct {
	DB       *storage.DB
	Catalog  *catalog.Catalog
	Pipeline *ingest.Pipeline
	Policy   Policy
	// ApprovalTimeout: a pending approval with no decision by then expires (a deny).
	ApprovalTimeout time.Duration
	// Users maps requesters (GitHub logins, CI actors) to Slack user ids, so that nobody
	// approves their own deploy under another name.
	Users map[string]string
	// DefaultChannel is where approvals of services without a slack_channel go.
	DefaultChannel string
	// PublicURL prefixes the links the gate hands out.
	PublicURL string
	Notifier  Notifier
	Now       func() time.Time
	Log       *slog.Logger
	// Queued, if set, is called after a commit that queued outbox messages (wakes the outbox).
	Queued func()
	// Notify, if set, is what Wake calls instead of waking this process's expiry loop: it
	// tells the loop wherever it runs, which then calls WakeLocal.
	Notify func()
	// Timing weighs risk, release windows and the trust ladder; nil: readiness alone.
	Timing *TimingPolicy

	once    sync.Once
	wake    chan struct{}
	reports reportIndex // the gate report's summary of the observations (report_index.go)
}

func (g *Gate) init() {
	g.once.Do(func() {
		g.wake = make(chan struct{}, 1)
		if g.Notifier == nil {
			g.Notifier = nopNotifier{}
		}
		if g.Now == nil {
			g.Now = time.Now
		}
		if g.Log == nil {
			g.Log = slog.Default()
		}
	})
}

// Result is the answer to POST /api/v1/gate.
type Result struct {
	Decision
	RequestID  string  `json:"request_id"`
	ApprovalID *string `json:"approval_id"`
	// ApprovalURL is where the approval's state can be polled.
	ApprovalURL string     `json:"approval_url,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	Channel     string     `json:"channel,omitempty"`
}

// validate checks a request's fields, naming the first bad one.
func validate(req *Request) error {
	req.Service, req.Environment = strings.TrimSpace(req.Service), strings.TrimSpace(req.Environment)
	rawRelease := req.Release
	req.Release = strings.TrimSpace(req.Release)
	switch {
	case rawRelease != "" && req.Release == "":
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "release is blank", Detail: "leave release out, or give the release's id"}
	case strings.IndexFunc(req.Release, unicode.IsControl) >= 0:
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "release contains a control character"}
	case req.Service == "":
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "service is required"}
	case req.Environment == "":
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "environment is required"}
	case len(req.Service) > 200 || len(req.Environment) > 200 || len(req.Version) > 200 || len(req.CommitSHA) > 200 || len(req.RequestedBy) > 200 || len(req.Release) > 200:
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "service, environment, version, commit_sha, requested_by and release are limited to 200 characters"}
	case req.BreakGlass != nil && strings.TrimSpace(req.BreakGlass.Reason) == "":
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "break_glass.reason is required", Detail: "say why the deploy must go out below the threshold"}
	case req.BreakGlass != nil && len(req.BreakGlass.Reason) > 2000:
		return &releaseops.Error{Code: releaseops.EINVALID, Message: "break_glass.reason is limited to 2000 characters"}
	}
	return nil
}

// Check answers a gate request made through the API by the token named caller.
func (g *Gate) Check(ctx context.Context, req Request, caller string) (Result, error) {
	g.init()
	if err := validate(&req); err != nil {
		return Result{}, err
	}
	if req.RequestedBy == "" {
		req.RequestedBy = "token:" + caller
	}
	svc, ok := g.Catalog.Get(req.Service)
	if !ok {
		e := releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", req.Service)
		if near := g.Catalog.Closest(req.Service, 3); len(near) > 0 {
			e.Detail = "did you mean " + strings.Join(near, ", ") + "?"
		}
		return Result{}, e
	}
	d, err := g.decide(ctx, &req, 0)
	if err != nil {
		return Result{}, err
	}
	reqID := newID("gr")
	res := Result{Decision: d, RequestID: reqID}
	in := decided{req: req, d: d, svc: svc, origin: OriginAPI, originKey: reqID, caller: caller}
	if d.Decision == NeedsApproval {
		in.approvalID = newID("apr")
	}
	a, _, err := g.record(ctx, in)
	if err != nil {
		return Result{}, err
	}
	if a != nil {
		res.ApprovalID, res.ExpiresAt, res.Channel = &a.ID, &a.ExpiresAt, a.Channel
		res.ApprovalURL = strings.TrimSuffix(g.PublicURL, "/") + "/api/v1/approvals/" + a.ID
	}
	return res, nil
}

// decide reads what Decide needs, in one call (one round trip on PostgreSQL), and calls it.
// exclude is a delivery row to leave out of the staleness check (0: none).
func (g *Gate) decide(ctx context.Context, req *Request, exclude int64) (Decision, error) {
	now := g.Now()
	in, err := g.DB.GateInputs(ctx, g.inputsQuery(req, exclude, now))
	if err != nil {
		return Decision{}, err
	}
	var card *scoring.Scorecard
	if in.HasScore {
		card = &scoring.Scorecard{}
		if err := scoring.DecodeCard(in.Score.Card, card); err != nil {
			return Decision{}, fmt.Errorf("%s: %w", req.Service, err)
		}
	}
	if in.HasLastEvent {
		req.LastEventAt = in.LastEventAt
	}
	if in.HasLastSync {
		req.LastSyncAt = in.LastSyncAt
	}
	timing, err := g.timing(ctx, req, card, now, &in)
	if err != nil {
		return Decision{}, err
	}
	return g.observe(DecideWith(card, *req, g.Policy, now, timing), *req), nil
}

// decided is a decision to record.
type decided struct {
	req        Request
	d          Decision
	svc        releaseops.Service
	origin     string
	originKey  string // unique per request: the request id, or "github:" + the delivery id
	caller     string
	approvalID string    // set when the decision needs an approval
	callback   *Callback // set when GitHub waits for the answer
}

// record stores a decision atomically: the internal event with its gate_decision fact, the
// audit entries, the approval and every message it causes. A replay of the same origin key
// stores nothing and returns duplicate.
func (g *Gate) record(ctx context.Context, in decided) (a *Approval, duplicate bool, err error) {
	now := g.Now().UTC()
	score := 0.0
	if in.d.Score != nil {
		score = *in.d.Score
	}
	body := map[string]any{"request": in.req, "decision": in.d, "origin": in.origin, "caller": in.caller, "approval_id": in.approvalID}
	if in.req.LastEventAt.IsZero() {
		body["last_event_at"] = nil
	} else {
		body["last_event_at"] = in.req.LastEventAt
	}
	if !in.req.LastSyncAt.IsZero() {
		body["last_sync_at"] = in.req.LastSyncAt
	}
	fact := releaseops.Fact{Kind: releaseops.FactGateDecision, At: now, GateDecision: &releaseops.GateDecision{
		Environment: in.req.Environment, Version: in.req.Version, CommitSHA: in.req.CommitSHA, Decision: in.d.Decision,
		Score: score, ApprovalID: in.approvalID, RequestedBy: in.req.RequestedBy}}
	if in.approvalID != "" {
		a = &Approval{ID: in.approvalID, Service: in.svc.Name, Environment: in.req.Environment, Version: in.req.Version,
			CommitSHA: in.req.CommitSHA, RequestedBy: in.req.RequestedBy, State: StatePending, ExpiresAt: now.Add(g.ApprovalTimeout).Truncate(time.Millisecond),
			Reasons: in.d.Reasons, Score: in.d.Score, Band: in.d.Band, Channel: g.channelOf(in.svc), Origin: in.origin,
			CreatedAt: now.Truncate(time.Millisecond), Callback: in.callback, Quorum: max(in.d.Quorum, 1)}
		g.withOnCall(ctx, a, now)
		if p, ok := g.Notifier.(ApprovalPreparer); ok {
			p.PrepareApproval(ctx, a, now)
		}
	}
	// The audit entry's detail is encoded here, not in the transaction, which on PostgreSQL
	// holds the exclusive writer lock of the whole cluster.
	detail, err := canonicalJSON(body)
	if err != nil {
		return nil, false, fmt.Errorf("encode the audit entry of %s's gate decision: %w", in.svc.Name, err)
	}
	duplicate, err = g.Pipeline.RecordInternal(ctx, ingest.Internal{
		Type: "gate.decision", DeliveryID: "gate:" + in.originKey, Service: in.svc.Name, Body: body,
		Facts: []releaseops.Fact{fact},
		Also:  func(t *storage.Tx) error { return g.recordTx(t, in, a, canonicalDetail(detail), now) },
	})
	if err != nil {
		return nil, false, fmt.Errorf("record gate decision for %s: %w", in.svc.Name, err)
	}
	if !duplicate {
		g.queued()
		g.Wake()
	}
	return a, duplicate, nil
}

func (g *Gate) recordTx(t *storage.Tx, in decided, a *Approval, detail canonicalDetail, now time.Time) error {
	actor := in.req.RequestedBy
	entries := []audit{{Kind: AuditGateDecision, Service: in.svc.Name, Actor: actor, ApprovalID: in.approvalID, Detail: detail}}
	if in.d.BreakGlass {
		entries = append(entries, audit{Kind: AuditBreakGlass, Service: in.svc.Name, Actor: actor, Detail: map[string]any{
			"request_id": in.originKey, "reason": in.req.BreakGlass.Reason, "caller": in.caller, "would": in.d.Would,
			"score": in.d.Score, "band": in.d.Band, "environment": in.req.Environment, "version": in.req.Version, "commit_sha": in.req.CommitSHA}})
	}
	if in.callback != nil && a == nil {
		state, comment := reviewOf(in.d.Decision, in.svc.Name, in.d.Reasons, "")
		if err := enqueueReview(t, in.callback, in.svc.Name, state, comment, now); err != nil {
			return err
		}
		entries = append(entries, audit{Kind: AuditReviewQueued, Service: in.svc.Name, Actor: "releaseops",
			Detail: map[string]any{"delivery": in.callback.Delivery, "repo": in.callback.Repo, "environment": in.callback.Environment, "state": state}})
	}
	if err := appendAudit(t, now, entries...); err != nil {
		return err
	}
	if err := g.observed(t, in, now); err != nil {
		return err
	}
	// Only production deploys ship together in the sense the release risk counts: a staging
	// request with the same id must not make production's release look bigger.
	if in.req.Release != "" && g.Timing != nil && g.Timing.production(in.req.Environment) {
		if err := storage.NoteRelease(t, in.req.Release, in.svc.Name, now); err != nil {
			return err
		}
	}
	if in.d.BreakGlass {
		n := &BreakGlassNotice{ID: in.originKey, Service: in.svc.Name, Environment: in.req.Environment, Version: in.req.Version,
			CommitSHA: in.req.CommitSHA, RequestedBy: in.req.RequestedBy, Caller: in.caller, Reason: strings.TrimSpace(in.req.BreakGlass.Reason),
			Channel: g.channelOf(in.svc), Decision: in.d, At: now}
		if err := g.Notifier.BreakGlassUsed(t, n, now); err != nil {
			return fmt.Errorf("queue break-glass post: %w", err)
		}
	}
	if a == nil {
		return nil
	}
	row, err := rowOf(a, in.originKey)
	if err != nil {
		return err
	}
	inserted, err := storage.InsertApproval(t, row)
	if err != nil || !inserted {
		return err // not inserted: the same delivery was decided before; its messages exist
	}
	if err := g.Notifier.ApprovalRequested(t, a, now); err != nil {
		return fmt.Errorf("queue approval request: %w", err)
	}
	return nil
}

func rowOf(a *Approval, originKey string) (storage.ApprovalRow, error) {
	reasons, err := json.Marshal(a.Reasons)
	if err != nil {
		return storage.ApprovalRow{}, fmt.Errorf("encode reasons: %w", err)
	}
	var cb []byte
	if a.Callback != nil {
		if cb, err = json.Marshal(a.Callback); err != nil {
			return storage.ApprovalRow{}, fmt.Errorf("encode callback: %w", err)
		}
	}
	return storage.ApprovalRow{ID: a.ID, Service: a.Service, Environment: a.Environment, Version: a.Version, CommitSHA: a.CommitSHA,
		RequestedBy: a.RequestedBy, Origin: a.Origin, OriginKey: originKey, Channel: a.Channel, Score: a.Score, Band: a.Band,
		Reasons: reasons, Callback: cb, CreatedAt: a.CreatedAt, ExpiresAt: a.ExpiresAt, Quorum: a.Quorum}, nil
}

func (g *Gate) channelOf(svc releaseops.Service) string {
	if svc.SlackChannel != "" {
		return svc.SlackChannel
	}
	return g.DefaultChannel
}

func (g *Gate) queued() {
	if g.Queued != nil {
		g.Queued()
	}
}

// newID returns a random id with a prefix: "apr_3f9c…".
func newID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

// stableID derives an id from a key, so a replayed delivery names the same approval.
func stableID(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + "_" + hex.EncodeToString(sum[:10])
}
