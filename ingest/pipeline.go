// Package ingest is the path every event takes: verify, parse, map to a service, store with
// its facts in one group-committed transaction, then wake the workers that act on it. The
// webhook endpoints, `releaseops ingest FILE` and the demo all go through it.
package ingest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/storage"
)

// Observer is told what happened to each delivery, for metrics.
type Observer interface {
	Delivery(source, eventType, outcome string, took time.Duration)
}

// Pipeline receives deliveries. It is safe for concurrent use.
type Pipeline struct {
	DB       *storage.DB
	Catalog  *catalog.Catalog
	Sources  map[string]releaseops.Source // only the configured ones
	Now      func() time.Time
	Log      *slog.Logger
	Observer Observer
	// Committed, if set, is called after each commit that stored new facts, off the
	// request's critical section but before Receive returns; it must not block (wake a worker).
	Committed func()
	// Stored, if set, is called after a new delivery (not a redelivery) is committed, with its
	// parsed form and body, before Receive returns; it must not block. The app uses it to
	// sync at once the repositories a GitHub App installation event names.
	Stored func(source string, parsed releaseops.Parsed, h http.Header, body []byte)
}

// Result says what happened to one delivery.
type Result struct {
	Source     string `json:"source"`
	Type       string `json:"type"`
	DeliveryID string `json:"delivery_id"`
	Service    string `json:"service,omitempty"`
	Outcome    string `json:"outcome"`
	Facts      int    `json:"facts"`
}

// Receive verifies (unless verify is false: a replay file the operator supplied), parses,
// maps and durably stores one delivery. It returns only after the commit. Errors are
// *releaseops.Error with the code the caller should answer with; nothing is stored on error.
func (p *Pipeline) Receive(ctx context.Context, source string, h http.Header, body []byte, verify bool) (Result, error) {
	start := time.Now()
	src, ok := p.Sources[source]
	if !ok {
		return Result{}, releaseops.Errorf(releaseops.EUNAVAILABLE, "source %s is not configured", source)
	}
	if verify {
		if err := src.Verify(h, body); err != nil {
			p.observe(source, "", "rejected", start)
			return Result{}, err
		}
	}
	parsed, err := src.Parse(h, body)
	if err != nil {
		p.observe(source, parsed.Type, "rejected", start)
		return Result{}, err
	}
	if parsed.DeliveryID == "" {
		return Result{}, releaseops.Errorf(releaseops.EMALFORMED, "%s delivery has no delivery id", source)
	}
	received := p.Now().UTC()
	d := &storage.NewDelivery{
		Source: source, DeliveryID: parsed.DeliveryID, Type: parsed.Type, Subject: parsed.Subject,
		ReceivedAt: received, Headers: keepHeaders(h), Body: body, Facts: parsed.Facts,
	}
	discovered := p.mapFacts(d, parsed, received)
	if err := d.Prepare(); err != nil {
		return Result{}, &releaseops.Error{Code: releaseops.EINTERNAL, Message: "cannot encode delivery", Err: err}
	}
	duplicate, err := p.DB.Writer.StoreDelivery(ctx, d, discovered, received)
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return Result{}, &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "timed out waiting for storage; retry", Err: err, RetryAfter: 1}
		}
		// Nothing was acknowledged: whatever failed, the delivery is not stored, and the
		// sender's retry (dedupe keeps it from counting twice) is the way to store it.
		return Result{}, &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: "cannot store delivery now; retry",
			Detail: "the database did not commit it", Err: err, RetryAfter: 5}
	}
	res := Result{Source: source, Type: parsed.Type, DeliveryID: parsed.DeliveryID, Service: d.Service, Outcome: d.Outcome, Facts: len(d.Facts)}
	if duplicate {
		res.Outcome, res.Facts = releaseops.OutcomeDuplicate, 0
		p.observe(source, parsed.Type, res.Outcome, start)
		return res, nil
	}
	for name, subj := range discovered {
		p.Catalog.AddDiscovered(name, subj)
	}
	if len(d.Facts) > 0 && p.Committed != nil {
		p.Committed()
	}
	if p.Stored != nil {
		p.Stored(source, parsed, h, body)
	}
	p.observe(source, parsed.Type, res.Outcome, start)
	return res, nil
}

// mapFacts fills each fact's evidence, time and service, and decides the delivery's outcome.
// It returns the services that convention creates with this delivery.
func (p *Pipeline) mapFacts(d *storage.NewDelivery, parsed releaseops.Parsed, received time.Time) map[string]releaseops.Subject {
	discovered := map[string]releaseops.Subject{}
	resolve := func(s releaseops.Subject) string {
		if s.Key == "" {
			return ""
		}
		r, ok := p.Catalog.Resolve(s)
		if !ok {
			return ""
		}
		if r.Discovered {
			discovered[r.Service] = s
		}
		return r.Service
	}
	d.Service = resolve(parsed.Subject)
	unmapped := parsed.Subject.Key != "" && d.Service == ""
	for i := range d.Facts {
		f := &d.Facts[i]
		if f.Subject.Key == "" {
			f.Subject = parsed.Subject
		}
		if f.At.IsZero() {
			f.At = parsed.OccurredAt
		}
		if f.At.IsZero() {
			f.At = received
		}
		f.At = f.At.UTC()
		f.Evidence = releaseops.Evidence{Source: d.Source, Event: parsed.Type, Delivery: parsed.DeliveryID, At: f.At}
		f.Service = resolve(f.Subject)
		if f.Service == "" {
			unmapped = true
		}
	}
	d.Outcome = releaseops.OutcomeOf(len(d.Facts), unmapped)
	return discovered
}

func (p *Pipeline) observe(source, typ, outcome string, start time.Time) {
	if p.Observer != nil {
		p.Observer.Delivery(source, typ, outcome, time.Since(start))
	}
}

// keepHeaders keeps the request headers worth auditing. Credentials are dropped; signature
// headers are kept (an HMAC reveals nothing of its key and shows what was verified).
func keepHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		switch strings.ToLower(k) {
		case "authorization", "cookie", "proxy-authorization":
			continue
		}
		out[k] = strings.Join(v, ", ")
	}
	return out
}
