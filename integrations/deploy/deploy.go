// Package deploy receives deploy events from any pipeline on POST /webhooks/deploy (SPEC §3.3):
// a small JSON document signed with an HMAC-SHA256 of the body in X-ReleaseOps-Signature.
package deploy

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/releaseops/releaseops"
)

// SignatureHeader carries "sha256=<lowercase hex HMAC-SHA256(secret, body)>".
const SignatureHeader = "X-ReleaseOps-Signature"

// EventType is the Parsed.Type of every deploy event.
const EventType = "deploy"

// MaxIDLength bounds the id, which is the dedupe key.
const MaxIDLength = 256

// Enumerations of the schema, in the order error messages list them.
var (
	Statuses   = []string{releaseops.DeployStarted, releaseops.DeploySucceeded, releaseops.DeployFailed, releaseops.DeployRolledBack}
	Kinds      = []string{releaseops.KindDeploy, releaseops.KindRollback, releaseops.KindRehearsal}
	Strategies = []string{"big_bang", "rolling", "canary", "blue_green"}
)

// Source verifies and parses deploy events. It implements releaseops.Source.
type Source struct {
	secret []byte
}

var _ releaseops.Source = (*Source)(nil)

// New returns a deploy source that checks signatures with secret.
func New(secret string) *Source { return &Source{secret: []byte(secret)} }

// Name returns "deploy".
func (s *Source) Name() string { return releaseops.SourceDeploy }

// Sign returns the X-ReleaseOps-Signature value for body: "sha256=" and the lowercase hex
// HMAC-SHA256 of body keyed with secret. Pipelines, tests and benchmarks use it.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks X-ReleaseOps-Signature against body. Errors are EUNAUTHORIZED and name what
// is wrong without ever showing a signature; an unconfigured secret is EUNAVAILABLE.
func (s *Source) Verify(h http.Header, body []byte) error {
	if len(s.secret) == 0 {
		return releaseops.Errorf(releaseops.EUNAVAILABLE, "deploy webhook secret is not configured (set deploy.webhook_secret)")
	}
	sig := strings.TrimSpace(h.Get(SignatureHeader))
	if sig == "" {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "missing %s", SignatureHeader)
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok || len(hexSig) != 2*sha256.Size {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want sha256=<64 hex digits>", SignatureHeader)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want sha256=<64 hex digits>", SignatureHeader)
	}
	m := hmac.New(sha256.New, s.secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "%s does not match the body", SignatureHeader)
	}
	return nil
}

// Parse validates body against the deploy event schema and returns one FactDeploy. A body that
// is not a JSON object is EMALFORMED; every schema problem is collected into one EINVALID
// error whose message names each field. Unknown fields are ignored (the raw body keeps them).
func (s *Source) Parse(_ http.Header, body []byte) (releaseops.Parsed, error) {
	d, problems, err := decode(body)
	if err != nil {
		return releaseops.Parsed{}, err
	}
	if len(problems) > 0 {
		return releaseops.Parsed{}, &releaseops.Error{
			Code:    releaseops.EINVALID,
			Message: "invalid deploy event: " + strings.Join(problems, "; "),
		}
	}
	var at time.Time
	switch {
	case d.FinishedAt != nil:
		at = *d.FinishedAt
	case d.StartedAt != nil:
		at = *d.StartedAt
	}
	subject := releaseops.Subject{Kind: releaseops.SubjectService, Key: d.service}
	return releaseops.Parsed{
		Type:       EventType,
		DeliveryID: d.ID,
		Subject:    subject,
		OccurredAt: at,
		Facts: []releaseops.Fact{{
			Kind:    releaseops.FactDeploy,
			Subject: subject,
			At:      at,
			Deploy:  &d.Deploy,
		}},
	}, nil
}

type decoded struct {
	releaseops.Deploy
	service string
}

// decode reads the object field by field so that every problem is reported, not just the
// first one encoding/json would stop at.
func decode(body []byte) (decoded, []string, error) {
	var d decoded
	// goccy/go-json checks the body in one pass without allocating (1.4 µs for 4 KB against
	// 10 µs for encoding/json); the object is then split into its fields without copying them.
	// Field names are matched exactly (a struct decode would accept "ID" for "id").
	if !gojson.Valid(body) {
		return d, nil, releaseops.Errorf(releaseops.EMALFORMED, "body is not valid JSON")
	}
	obj, ok := splitObject(body)
	if !ok {
		return d, nil, releaseops.Errorf(releaseops.EMALFORMED, "body must be a JSON object")
	}
	v := validator{obj: obj}

	d.ID = v.str("id", true)
	if len(d.ID) > MaxIDLength {
		v.addf("id", "must be at most %d characters (got %d)", MaxIDLength, len(d.ID))
	}
	d.service = v.str("service", true)
	d.Environment = v.str("environment", true)
	d.Status = v.enum("status", true, Statuses)
	d.Kind = v.enum("kind", false, Kinds)
	if d.Kind == "" {
		d.Kind = releaseops.KindDeploy
	}
	d.Version = v.str("version", false)
	d.CommitSHA = v.str("commit_sha", false)
	d.PreviousSHA = v.str("previous_sha", false)
	d.Strategy = v.enum("strategy", false, Strategies)
	d.Phases = v.phases("phases")
	d.HealthChecks = v.boolean("health_checks")
	d.FeatureFlags = v.boolean("feature_flags")
	d.Snapshot = v.boolean("snapshot")
	d.RTOSeconds = v.nonNegative("rto_seconds")
	d.Actor = v.str("actor", false)
	d.URL = v.str("url", false)
	d.StartedAt = v.timestamp("started_at")
	d.FinishedAt = v.timestamp("finished_at")
	if d.StartedAt != nil && d.FinishedAt != nil && d.FinishedAt.Before(*d.StartedAt) {
		v.addf("finished_at", "must not be before started_at")
	}
	return d, v.problems, nil
}

type validator struct {
	obj      *members
	problems []string
}

func (v *validator) addf(field, format string, args ...any) {
	v.problems = append(v.problems, field+": "+fmt.Sprintf(format, args...))
}

// raw returns the field's value, or nil when it is absent or null.
func (v *validator) raw(field string) json.RawMessage {
	r := v.obj.get(field)
	if r == nil || string(bytes.TrimSpace(r)) == "null" {
		return nil
	}
	return bytes.TrimSpace(r)
}

func jsonKind(r json.RawMessage) string {
	if len(r) == 0 {
		return "nothing"
	}
	switch r[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

func (v *validator) str(field string, required bool) string {
	r := v.raw(field)
	if r == nil {
		if required {
			v.addf(field, "is required")
		}
		return ""
	}
	s, ok := plainString(r)
	if !ok {
		if err := json.Unmarshal(r, &s); err != nil {
			v.addf(field, "must be a string (got %s)", jsonKind(r))
			return ""
		}
	}
	if required && strings.TrimSpace(s) == "" {
		v.addf(field, "must not be empty")
	}
	return s
}

// plainString returns the value of a JSON string with no escapes and valid UTF-8, which is the
// bytes between its quotes: nearly every field of a deploy event, decoded without a second
// JSON decoder pass. Anything else (escapes, invalid UTF-8, not a string) is left to
// encoding/json. The whole body has already been checked as JSON when it was split into fields.
func plainString(r json.RawMessage) (string, bool) {
	if len(r) < 2 || r[0] != '"' || r[len(r)-1] != '"' {
		return "", false
	}
	inner := r[1 : len(r)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || bytes.IndexByte(inner, '"') >= 0 || !utf8.Valid(inner) {
		return "", false
	}
	for _, c := range inner {
		if c < 0x20 {
			return "", false
		}
	}
	return string(inner), true
}

func (v *validator) enum(field string, required bool, allowed []string) string {
	before := len(v.problems)
	s := v.str(field, required)
	if len(v.problems) > before || s == "" && !required {
		return s
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	v.addf(field, "must be one of %s (got %s)", strings.Join(allowed, ", "), quote(s))
	return ""
}

func (v *validator) boolean(field string) *bool {
	r := v.raw(field)
	if r == nil {
		return nil
	}
	switch string(r) {
	case "true":
		b := true
		return &b
	case "false":
		b := false
		return &b
	}
	var b bool
	if err := json.Unmarshal(r, &b); err != nil {
		v.addf(field, "must be true or false (got %s)", jsonKind(r))
		return nil
	}
	return &b
}

func (v *validator) number(field string) (float64, bool) {
	r := v.raw(field)
	if r == nil {
		return 0, false
	}
	var f float64
	if jsonKind(r) != "number" {
		v.addf(field, "must be a number (got %s)", jsonKind(r))
		return 0, false
	}
	if json.Unmarshal(r, &f) != nil || math.IsInf(f, 0) {
		v.addf(field, "must be a finite number (got %s)", clip(string(r)))
		return 0, false
	}
	return f, true
}

func (v *validator) phases(field string) int {
	f, ok := v.number(field)
	if !ok {
		return 0
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		v.addf(field, "must be a whole number ≥ 0 (got %s)", clip(string(v.raw(field))))
		return 0
	}
	return int(f)
}

func (v *validator) nonNegative(field string) *float64 {
	f, ok := v.number(field)
	if !ok {
		return nil
	}
	if f < 0 {
		v.addf(field, "must be ≥ 0 or null (got %s)", clip(string(v.raw(field))))
		return nil
	}
	return &f
}

func (v *validator) timestamp(field string) *time.Time {
	r := v.raw(field)
	if r == nil {
		return nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		v.addf(field, "must be an RFC 3339 time string (got %s)", jsonKind(r))
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.addf(field, "must be an RFC 3339 time such as 2026-11-20T10:00:00Z (got %s)", quote(s))
		return nil
	}
	t = t.UTC()
	return &t
}

// clip shortens a caller-supplied value before it is echoed in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}

func quote(s string) string { return fmt.Sprintf("%q", clip(s)) }
