package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// KindProtectionReview is the outbox kind of answers to GitHub deployment protection rules.
const KindProtectionReview = "github.protection_review"

// Review states GitHub accepts on a deployment_callback_url.
const (
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)

// ReviewPayload is the outbox payload of a github.protection_review message.
type ReviewPayload struct {
	CallbackURL     string `json:"callback_url"`
	EnvironmentName string `json:"environment_name"`
	State           string `json:"state"`
	Comment         string `json:"comment"`
	// InstallationID picks the App installation whose token answers (see Callback).
	InstallationID int64 `json:"installation_id,omitempty"`
}

// maxComment bounds the comment; GitHub documents 1024 characters for protection rule
// status reports, and a longer review comment gains nothing.
const maxComment = 1024

// reviewOf turns a decision into GitHub's answer and its comment: the reasons, one a line.
func reviewOf(decision, service string, reasons []Reason, outcome string) (state, comment string) {
	state = ReviewRejected
	if decision == Allow {
		state = ReviewApproved
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ReleaseOps gate: %s %s", service, state)
	if outcome != "" {
		b.WriteString(" (" + outcome + ")")
	}
	b.WriteString(".")
	for _, r := range reasons {
		b.WriteString("\n- " + r.Text)
	}
	comment = b.String()
	if r := []rune(comment); len(r) > maxComment {
		comment = string(r[:maxComment-1]) + "…"
	}
	return state, comment
}

// enqueueReview queues the answer to a protection rule inside t. The key is the delivery's,
// so a replayed event or a repeated conclusion queues it once.
func enqueueReview(t *storage.Tx, cb *Callback, service, state, comment string, now time.Time) error {
	p, err := json.Marshal(ReviewPayload{CallbackURL: cb.URL, EnvironmentName: cb.Environment, State: state, Comment: comment,
		InstallationID: cb.InstallationID})
	if err != nil {
		return fmt.Errorf("encode protection review: %w", err)
	}
	if _, err := outbox.Enqueue(t, outbox.Message{Key: "protection:" + cb.Delivery + ":review", Kind: KindProtectionReview,
		Target: cb.URL, Service: service, Payload: p}, now); err != nil {
		return fmt.Errorf("queue protection review: %w", err)
	}
	return nil
}

// Listener decides every deployment_protection_rule request among newly committed facts, as
// the API would, and queues GitHub's answer (or, for a watch-band service, the approval whose
// decision will answer it). Plug it into rescore.Worker.Listeners. It runs again for the same
// facts after a crash; each delivery is decided once (keyed by its delivery id).
func (g *Gate) Listener(ctx context.Context, facts []storage.StoredFact) {
	g.init()
	for _, f := range facts {
		if f.Kind != releaseops.FactProtectionRule || f.ProtectionRule == nil {
			continue
		}
		var err error
		for attempt := range 3 {
			if err = g.protectionRule(ctx, f); err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
		}
		if err != nil {
			g.Log.Error("deployment protection rule not decided; GitHub keeps waiting until the delivery is replayed",
				"delivery", f.Evidence.Delivery, "repo", f.ProtectionRule.Repo, "err", err)
		}
	}
}

func (g *Gate) protectionRule(ctx context.Context, f storage.StoredFact) error {
	pr := f.ProtectionRule
	name := f.Service
	if name == "" {
		name = pr.Repo // unmapped: decided as a service with no score, by gate.on_unknown
	}
	svc, ok := g.Catalog.Get(name)
	if !ok {
		svc = releaseops.Service{Name: name}
	}
	requester := pr.Creator
	if requester == "" {
		requester = "github"
	}
	req := Request{Service: name, Environment: pr.Environment, Version: pr.Ref, CommitSHA: pr.SHA, RequestedBy: requester}
	d, err := g.decide(ctx, &req, f.Delivery)
	if err != nil {
		return err
	}
	key := "github:" + f.Evidence.Delivery
	in := decided{req: req, d: d, svc: svc, origin: OriginGitHub, originKey: key, caller: "github",
		callback: &Callback{Delivery: f.Evidence.Delivery, Repo: pr.Repo, Environment: pr.Environment, URL: pr.CallbackURL,
			InstallationID: pr.InstallationID}}
	if d.Decision == NeedsApproval {
		in.approvalID = stableID("apr", key)
	}
	_, dup, err := g.record(ctx, in)
	if err == nil && !dup {
		g.Log.Info("deployment protection rule decided", "service", name, "environment", pr.Environment, "decision", d.Decision, "delivery", f.Evidence.Delivery)
	}
	return err
}
