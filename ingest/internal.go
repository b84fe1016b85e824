package ingest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/storage"
)

// Internal is an event ReleaseOps records about itself (a regression, a gate decision, a
// message delivered). It is stored as a delivery of source "releaseops", so it shows in the
// events API and its facts are evidence like any other.
type Internal struct {
	Type       string
	DeliveryID string // idempotency key: recording the same id twice stores it once
	Service    string
	Body       any
	Facts      []releaseops.Fact
	// Also runs in the same transaction, only when the event is new (e.g. queue a message).
	Also func(*storage.Tx) error
}

// RecordInternal stores an internal event and its facts atomically. duplicate is true when an
// event with the same id was stored before; then nothing is written.
func (p *Pipeline) RecordInternal(ctx context.Context, in Internal) (duplicate bool, err error) {
	body, err := json.Marshal(in.Body)
	if err != nil {
		return false, fmt.Errorf("encode internal event %s: %w", in.Type, err)
	}
	now := p.Now().UTC()
	subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: in.Service}
	d := &storage.NewDelivery{
		Source: releaseops.SourceInternal, DeliveryID: in.DeliveryID, Type: in.Type, Subject: subj, Service: in.Service,
		Outcome: releaseops.OutcomeStored, ReceivedAt: now, Headers: map[string]string{}, Body: body, Facts: in.Facts,
	}
	for i := range d.Facts {
		f := &d.Facts[i]
		f.Subject, f.Service = subj, in.Service
		if f.At.IsZero() {
			f.At = now
		}
		f.Evidence = releaseops.Evidence{Source: releaseops.SourceInternal, Event: in.Type, Delivery: in.DeliveryID, At: f.At}
	}
	// Two writes, not one function that tests Also: the writer remembers by function which
	// requests need PostgreSQL's exclusive lock, and the gate's records (Also: the audit chain)
	// must not send every plain internal record after them to the exclusive lock as well; a
	// plain one is a delivery like any other.
	if in.Also != nil {
		err = p.DB.Writer.Do(ctx, func(t *storage.Tx) error {
			var err error
			if _, duplicate, err = storage.InsertDelivery(t, d); err != nil || duplicate {
				return err
			}
			return in.Also(t)
		})
	} else {
		duplicate, err = p.DB.Writer.StoreDelivery(ctx, d, nil, now)
	}
	if err != nil {
		return false, fmt.Errorf("record internal event %s %s: %w", in.Type, in.DeliveryID, err)
	}
	if !duplicate && len(in.Facts) > 0 && p.Committed != nil {
		p.Committed()
	}
	return duplicate, nil
}
