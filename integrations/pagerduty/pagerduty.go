// Package pagerduty receives PagerDuty V3 webhooks on POST /webhooks/pagerduty and reads
// escalation policies from the PagerDuty REST API.
//
// A V3 delivery is signed in X-PagerDuty-Signature with one or more comma-joined
// "v1=<hex HMAC-SHA256(secret, body)>" values (several while a secret is rotated). The source
// accepts a delivery when any value matches any configured secret, checked by go-pagerduty's
// webhookv3.VerifySignature (constant-time comparison). go-pagerduty has no V3 payload types, so
// the envelope is decoded into this package's own structs.
package pagerduty

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty/webhookv3"

	"github.com/releaseops/releaseops"
)

// SignatureHeader carries "v1=<hex>[,v1=<hex>…]".
const SignatureHeader = "X-PagerDuty-Signature"

// MaxBody is the largest body webhookv3.VerifySignature reads; larger ones cannot be verified.
// PagerDuty drops payloads over 256 KB, so a genuine delivery never comes near it.
const MaxBody = 2 << 20

// Source verifies and parses PagerDuty V3 webhooks. It implements releaseops.Source.
type Source struct {
	secrets []string
}

var _ releaseops.Source = (*Source)(nil)

// New returns a PagerDuty source that accepts deliveries signed with any of secrets. Empty
// secrets are ignored.
func New(secrets []string) *Source {
	s := &Source{}
	for _, sec := range secrets {
		if sec != "" {
			s.secrets = append(s.secrets, sec)
		}
	}
	return s
}

// Name returns "pagerduty".
func (s *Source) Name() string { return releaseops.SourcePagerDuty }

// Sign returns one "v1=<hex>" signature of body, as PagerDuty computes it. Join several with
// "," to build a rotation header.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify accepts body when any v1 value of X-PagerDuty-Signature matches any configured
// secret. Errors are EUNAUTHORIZED and never show a signature; no configured secret is
// EUNAVAILABLE and a body over MaxBody is ETOOLARGE.
func (s *Source) Verify(h http.Header, body []byte) error {
	if len(s.secrets) == 0 {
		return releaseops.Errorf(releaseops.EUNAVAILABLE, "pagerduty webhook secrets are not configured (set pagerduty.webhook_secrets)")
	}
	sig := h.Get(SignatureHeader)
	if strings.TrimSpace(sig) == "" {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "missing %s", SignatureHeader)
	}
	if len(body) >= MaxBody {
		return releaseops.Errorf(releaseops.ETOOLARGE, "body over %d bytes cannot be verified", MaxBody)
	}
	if !hasV1(sig) {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want v1=<hex>[,v1=<hex>]", SignatureHeader)
	}
	r := &http.Request{Method: http.MethodPost, Header: http.Header{}}
	r.Header.Set(SignatureHeader, sig)
	for _, secret := range s.secrets {
		r.Body = io.NopCloser(bytes.NewReader(body))
		err := webhookv3.VerifySignature(r, secret)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, webhookv3.ErrNoValidSignatures):
			continue
		case errors.Is(err, webhookv3.ErrMalformedBody):
			return releaseops.Errorf(releaseops.EUNAUTHORIZED, "empty body cannot be verified")
		case errors.Is(err, webhookv3.ErrMalformedHeader):
			return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want v1=<hex>[,v1=<hex>]", SignatureHeader)
		default:
			return &releaseops.Error{Code: releaseops.EUNAUTHORIZED, Message: "signature check failed", Err: err}
		}
	}
	return releaseops.Errorf(releaseops.EUNAUTHORIZED, "%s matches no configured secret", SignatureHeader)
}

// hasV1 reports whether the header holds at least one well-formed v1 value (the library skips
// malformed ones silently and would report a mismatch instead).
func hasV1(header string) bool {
	for _, v := range strings.Split(header, ",") {
		hexSig, ok := strings.CutPrefix(strings.TrimSpace(v), "v1=")
		if !ok {
			continue
		}
		if b, err := hex.DecodeString(hexSig); err == nil && len(b) == sha256.Size {
			return true
		}
	}
	return false
}

// The types below declare only the fields Parse reads: a V3 event carries many more (agent,
// client, assignees, teams, log entries, …) and an odd value in one of them must not refuse a
// signed delivery.

// Envelope is a V3 webhook body: always exactly one event.
type Envelope struct {
	Event *Event `json:"event"`
}

// Event is the V3 event. Data depends on ResourceType: an incident, a service, or (for
// sub-events such as incident.annotated) an object that references the incident.
type Event struct {
	ID           string          `json:"id"`
	EventType    string          `json:"event_type"`
	ResourceType string          `json:"resource_type"`
	OccurredAt   string          `json:"occurred_at"`
	Data         json.RawMessage `json:"data"`
}

// Reference is a PagerDuty object reference (priority_reference) of which the summary is read.
type Reference struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

// IDReference is a PagerDuty object reference (service_reference, escalation_policy_reference)
// of which only the id is read.
type IDReference struct {
	ID string `json:"id"`
}

// IncidentData is event.data of incident events whose data.type is "incident".
type IncidentData struct {
	ID               string       `json:"id"`
	Number           int          `json:"number"`
	Status           string       `json:"status"`
	Title            string       `json:"title"`
	Urgency          string       `json:"urgency"`
	HTMLURL          string       `json:"html_url"`
	CreatedAt        string       `json:"created_at"`
	Service          *IDReference `json:"service"`
	EscalationPolicy *IDReference `json:"escalation_policy"`
	Priority         *Reference   `json:"priority"`
}

// ServiceData is event.data of service events.
type ServiceData struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	Summary          string       `json:"summary"`
	Status           string       `json:"status"`
	HTMLURL          string       `json:"html_url"`
	EscalationPolicy *IDReference `json:"escalation_policy"`
}

// Parse decodes the envelope. The dedupe id is event.id (SPEC §3.1). incident.* events whose
// data is the incident give a FactIncident about data.service.id; service.* events give a
// FactPagerDutyService about data.id; other events (notes, responders, workflows, …) are
// stored with no facts.
func (s *Source) Parse(_ http.Header, body []byte) (releaseops.Parsed, error) {
	var env Envelope
	if err := decode(body, &env, ""); err != nil {
		return releaseops.Parsed{}, err
	}
	ev := env.Event
	var problems []string
	if ev == nil {
		return releaseops.Parsed{}, invalid("event: is required")
	}
	if ev.ID == "" {
		problems = append(problems, "event.id: is required")
	}
	if ev.EventType == "" {
		problems = append(problems, "event.event_type: is required")
	}
	at, err := parseTime(ev.OccurredAt)
	if err != nil {
		problems = append(problems, "event.occurred_at: "+err.Error())
	}
	if len(problems) > 0 {
		return releaseops.Parsed{}, invalid(strings.Join(problems, "; "))
	}
	p := releaseops.Parsed{Type: ev.EventType, DeliveryID: ev.ID, OccurredAt: at}

	resource := ev.ResourceType
	if resource == "" {
		resource, _, _ = strings.Cut(ev.EventType, ".")
	}
	switch resource {
	case "incident":
		return parseIncident(p, ev)
	case "service":
		return parseService(p, ev)
	}
	return p, nil
}

func parseIncident(p releaseops.Parsed, ev *Event) (releaseops.Parsed, error) {
	// data.type first: incident.annotated (incident_note), incident.responder.*,
	// incident.workflow.*, …: data references the incident but does not say its service, and
	// is stored with no facts whatever its other fields hold.
	var kind struct {
		Type any `json:"type"`
	}
	if err := decode(ev.Data, &kind, "event.data."); err != nil {
		return p, err
	}
	if t, ok := kind.Type.(string); kind.Type != nil && (!ok || (t != "" && t != "incident")) {
		return p, nil
	}
	var d IncidentData
	if err := decode(ev.Data, &d, "event.data."); err != nil {
		return p, err
	}
	var problems []string
	if d.ID == "" {
		problems = append(problems, "event.data.id: is required")
	}
	if d.Service == nil || d.Service.ID == "" {
		problems = append(problems, "event.data.service.id: is required")
	}
	created, err := parseTime(d.CreatedAt)
	if err != nil {
		problems = append(problems, "event.data.created_at: "+err.Error())
	}
	if len(problems) > 0 {
		return p, invalid(strings.Join(problems, "; "))
	}
	subject := releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: d.Service.ID}
	inc := &releaseops.Incident{
		ID:        d.ID,
		Number:    d.Number,
		EventType: ev.EventType,
		Status:    d.Status,
		Title:     d.Title,
		Urgency:   d.Urgency,
		ServiceID: d.Service.ID,
		CreatedAt: created,
		URL:       d.HTMLURL,
	}
	if d.Priority != nil {
		inc.Priority = d.Priority.Summary
	}
	if d.EscalationPolicy != nil {
		inc.EscalationPolicyID = d.EscalationPolicy.ID
	}
	p.Subject = subject
	p.Facts = []releaseops.Fact{{Kind: releaseops.FactIncident, Subject: subject, At: p.OccurredAt, Incident: inc}}
	return p, nil
}

func parseService(p releaseops.Parsed, ev *Event) (releaseops.Parsed, error) {
	var d ServiceData
	if err := decode(ev.Data, &d, "event.data."); err != nil {
		return p, err
	}
	if d.ID == "" {
		return p, invalid("event.data.id: is required")
	}
	subject := releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: d.ID}
	svc := &releaseops.PagerDutyService{
		ID:        d.ID,
		EventType: ev.EventType,
		Name:      d.Name,
		Status:    d.Status,
		URL:       d.HTMLURL,
	}
	if svc.Name == "" {
		svc.Name = d.Summary
	}
	if d.EscalationPolicy != nil {
		svc.EscalationPolicyID = d.EscalationPolicy.ID
	}
	p.Subject = subject
	p.Facts = []releaseops.Fact{{Kind: releaseops.FactPagerDutyService, Subject: subject, At: p.OccurredAt, PagerDutyService: svc}}
	return p, nil
}

// decode unmarshals JSON: a body that is not JSON is EMALFORMED, a value of the wrong type is
// EINVALID naming the field (prefix says where the object sits).
func decode(data []byte, v any, prefix string) error {
	data = bytes.TrimSpace(data)
	if prefix == "" {
		switch {
		case len(data) == 0:
			return releaseops.Errorf(releaseops.EMALFORMED, "body is empty")
		case !json.Valid(data):
			return releaseops.Errorf(releaseops.EMALFORMED, "body is not valid JSON")
		case data[0] != '{':
			return releaseops.Errorf(releaseops.EMALFORMED, "body must be a JSON object")
		}
	} else if len(data) == 0 || string(data) == "null" {
		return invalid(strings.TrimSuffix(prefix, ".") + ": is required")
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			if prefix == "" {
				return releaseops.Errorf(releaseops.EMALFORMED, "body must be a JSON object")
			}
			return invalid(strings.TrimSuffix(prefix, ".") + ": must be an object (got " + te.Value + ")")
		}
		return invalid(prefix + te.Field + ": has the wrong type (got " + te.Value + ")")
	}
	return invalid(strings.TrimSuffix(prefix, ".") + ": cannot be decoded")
}

func invalid(msg string) *releaseops.Error {
	return &releaseops.Error{Code: releaseops.EINVALID, Message: msg}
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("must be an ISO 8601 time such as 2020-10-02T18:45:22.169Z")
	}
	return t.UTC(), nil
}
