// Package github receives GitHub repository, organization and App webhooks on
// POST /webhooks/github and normalises the event types ReleaseOps uses (SPEC §3.2) into facts.
//
// Signatures are checked with go-github on X-Hub-Signature-256 only: the legacy sha1
// X-Hub-Signature is not accepted on its own. Payloads are decoded with github.ParseWebHook,
// except repository_ruleset, which go-github v62 does not know and this package decodes itself.
package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
)

// Headers GitHub sends with every delivery.
const (
	SignatureHeader       = "X-Hub-Signature-256"
	LegacySignatureHeader = "X-Hub-Signature"
	EventHeader           = "X-GitHub-Event"
	DeliveryHeader        = "X-GitHub-Delivery"
)

// Options tune how pushes are classified. The zero value uses the defaults only.
type Options struct {
	// RunbookPatterns are extra repository paths whose changes count as runbook updates, in
	// path.Match syntax matched case-insensitively against the whole path ("ops/*.md"); a
	// pattern ending in "/" matches everything below that directory ("wiki/oncall/").
	// They add to the defaults: any file whose name starts with "runbook" and any file under a
	// directory named runbook or runbooks. Typically the union of the catalog's runbook_paths.
	RunbookPatterns []string

	// Log receives a warning, with the delivery id, when a delivery is decoded from the fields
	// ReleaseOps reads because another field could not be. Nil is slog.Default().
	Log *slog.Logger
}

// Source verifies and parses GitHub webhooks. It implements releaseops.Source.
type Source struct {
	secret []byte
	opts   Options
}

var _ releaseops.Source = (*Source)(nil)

// New returns a GitHub source that checks signatures with the webhook secret.
func New(secret string, opts Options) *Source {
	return &Source{secret: []byte(secret), opts: opts}
}

// Name returns "github".
func (s *Source) Name() string { return releaseops.SourceGitHub }

// Sign returns the X-Hub-Signature-256 value GitHub sends for body: "sha256=" and the
// lowercase hex HMAC-SHA256 of the raw body keyed with the webhook secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks X-Hub-Signature-256 over the raw body (for form-encoded deliveries too: GitHub
// signs the raw form body). Errors are EUNAUTHORIZED and never show a signature; an
// unconfigured secret is EUNAVAILABLE.
func (s *Source) Verify(h http.Header, body []byte) error {
	if len(s.secret) == 0 {
		return releaseops.Errorf(releaseops.EUNAVAILABLE, "github webhook secret is not configured (set github.webhook_secret)")
	}
	sig := strings.TrimSpace(h.Get(SignatureHeader))
	if sig == "" {
		e := releaseops.Errorf(releaseops.EUNAUTHORIZED, "missing %s", SignatureHeader)
		if h.Get(LegacySignatureHeader) != "" {
			e.Detail = "the sha1 X-Hub-Signature alone is not accepted"
		}
		return e
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok || len(hexSig) != 64 {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want sha256=<64 hex digits>", SignatureHeader)
	}
	if _, err := hex.DecodeString(hexSig); err != nil {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want sha256=<64 hex digits>", SignatureHeader)
	}
	if err := gh.ValidateSignature(sig, body, s.secret); err != nil {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "%s does not match the body", SignatureHeader)
	}
	return nil
}

// Parse reads the event type and delivery id from the headers, takes the JSON payload out of
// the body (the body itself, or the "payload" field of a form-encoded body) and returns the
// facts of the event. Types ReleaseOps does not use are returned with no facts, without a
// typed decode. For the types it uses, a value go-github cannot decode in a field no fact is
// made from does not refuse the delivery (see lenient.go); only a broken field that is read is
// EINVALID.
func (s *Source) Parse(h http.Header, body []byte) (releaseops.Parsed, error) {
	event := strings.TrimSpace(h.Get(EventHeader))
	if event == "" {
		return releaseops.Parsed{}, releaseops.Errorf(releaseops.EMALFORMED, "missing %s header", EventHeader)
	}
	delivery := strings.TrimSpace(h.Get(DeliveryHeader))
	if delivery == "" {
		return releaseops.Parsed{}, releaseops.Errorf(releaseops.EMALFORMED, "missing %s header", DeliveryHeader)
	}
	payload, err := payloadOf(h.Get("Content-Type"), body)
	if err != nil {
		return releaseops.Parsed{}, err
	}
	if !json.Valid(payload) {
		return releaseops.Parsed{}, releaseops.Errorf(releaseops.EMALFORMED, "payload is not valid JSON")
	}
	if first := firstByte(payload); first != '{' {
		return releaseops.Parsed{}, releaseops.Errorf(releaseops.EMALFORMED, "payload must be a JSON object")
	}

	p := releaseops.Parsed{Type: event, DeliveryID: delivery}
	if event == "repository_ruleset" {
		return s.parseRuleset(p, payload)
	}
	if !handled[event] {
		var base struct {
			Repository *struct {
				FullName string `json:"full_name"`
			} `json:"repository"`
		}
		_ = json.Unmarshal(payload, &base)
		if base.Repository != nil && base.Repository.FullName != "" {
			p.Subject = repoSubject(base.Repository.FullName)
		}
		return p, nil
	}
	ev, err := gh.ParseWebHook(event, payload)
	if err != nil {
		// An odd value in a field no fact is made from must not refuse the delivery: decode
		// again with only the fields facts.go reads. Failing that, a field we read is broken.
		pruned, ok := pruneToRead(event, payload)
		if !ok {
			return releaseops.Parsed{}, decodeError(event, err)
		}
		ev2, err2 := gh.ParseWebHook(event, pruned)
		if err2 != nil {
			return releaseops.Parsed{}, readDecodeError(event, err2, badReadTime(event, pruned))
		}
		s.log().Warn("github: delivery decoded from the fields ReleaseOps reads; a field it does not read could not be decoded",
			"delivery", delivery, "event", event, "error", clip(err.Error()))
		ev = ev2
	}
	return s.facts(p, ev)
}

func (s *Source) log() *slog.Logger {
	if s.opts.Log != nil {
		return s.opts.Log
	}
	return slog.Default()
}

// handled lists the types Parse decodes with go-github. Everything else (and every type
// go-github does not know, other than repository_ruleset) is stored with no facts.
var handled = map[string]bool{
	"ping": true, "push": true, "pull_request": true, "pull_request_review": true,
	"branch_protection_rule": true, "deployment": true, "deployment_status": true,
	"deployment_protection_rule": true, "workflow_run": true, "check_run": true,
	"release": true, "dependabot_alert": true, "code_scanning_alert": true,
}

// payloadOf returns the JSON payload of a delivery. GitHub sends application/json or
// application/x-www-form-urlencoded with the JSON in the "payload" field; no Content-Type
// (a replayed delivery) is taken as JSON.
func payloadOf(contentType string, body []byte) ([]byte, error) {
	if strings.TrimSpace(contentType) == "" {
		return body, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, releaseops.Errorf(releaseops.EMALFORMED, "unreadable Content-Type header")
	}
	switch mt {
	case "application/json":
		return body, nil
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, releaseops.Errorf(releaseops.EMALFORMED, "form body cannot be decoded")
		}
		payload := form.Get("payload")
		if payload == "" {
			return nil, releaseops.Errorf(releaseops.EMALFORMED, "form body has no payload field")
		}
		return []byte(payload), nil
	default:
		return nil, releaseops.Errorf(releaseops.EMALFORMED, "unsupported Content-Type %s: want application/json or application/x-www-form-urlencoded", clip(mt))
	}
}

func firstByte(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// readDecodeError is decodeError for a failure in a field facts.go reads; badTime names the
// read time field that does not parse, if any (go-github's time errors do not name it).
func readDecodeError(event string, err error, badTime string) error {
	var te *json.UnmarshalTypeError
	if badTime != "" && !errors.As(err, &te) {
		return &releaseops.Error{Code: releaseops.EINVALID, Message: badTime + ": must be an RFC 3339 time for a " + event + " event", Err: err}
	}
	return decodeError(event, err)
}

// decodeError turns a go-github decode failure of valid JSON into EINVALID naming the field.
func decodeError(event string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &releaseops.Error{Code: releaseops.EINVALID, Message: te.Field + ": has the wrong type for a " + event + " event (got " + te.Value + ")"}
	}
	return &releaseops.Error{Code: releaseops.EINVALID, Message: "payload is not a valid " + event + " event", Err: err}
}

func repoSubject(fullName string) releaseops.Subject {
	return releaseops.Subject{Kind: releaseops.SubjectRepo, Key: fullName}
}

// at returns the time of a go-github timestamp, UTC, or zero.
func at(ts gh.Timestamp) time.Time {
	if ts.IsZero() {
		return time.Time{}
	}
	return ts.Time.UTC()
}

func firstTime(ts ...gh.Timestamp) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return at(t)
		}
	}
	return time.Time{}
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// enforced reads a branch protection enforcement level: "off" (or absent) is false,
// "non_admins" and "everyone" are true.
func enforced(level string) bool { return level != "" && level != "off" }

func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
