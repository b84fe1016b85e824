package releaseops

import (
	"net/http"
	"time"
)

// Source verifies and normalises the webhook deliveries of one provider. Verify runs on the
// raw bytes before anything is parsed; Parse runs only on verified bodies (or on a replay file
// the operator supplied). Neither does I/O.
type Source interface {
	// Name is the source's name as stored and as in the endpoint path: github, pagerduty, ...
	Name() string
	// Verify checks the signature headers against body. It returns an *Error with code
	// EUNAUTHORIZED naming what is wrong (missing header, bad signature), never the expected value.
	Verify(h http.Header, body []byte) error
	// Parse turns a verified body into facts. A body that cannot be decoded is EMALFORMED; one
	// that decodes but breaks the schema is EINVALID, and the message names the field.
	Parse(h http.Header, body []byte) (Parsed, error)
}

// Parsed is what a source makes of one delivery.
type Parsed struct {
	// Type is the event type as the source names it (X-GitHub-Event, event.event_type, the
	// Terraform trigger, "deploy").
	Type string
	// DeliveryID is the dedupe key (SPEC §3.1): a redelivery carries the same id.
	DeliveryID string
	// Subject is what the delivery is about, for mapping and for listing unmapped events.
	Subject Subject
	// OccurredAt is when the source says the event happened; zero if it does not say.
	OccurredAt time.Time
	// Facts are the normalised observations. Empty means the type feeds no signal: the
	// delivery is stored with outcome ignored_type. The pipeline fills Evidence and Service.
	Facts []Fact
}
