// Package terraform receives HCP Terraform / Terraform Enterprise notifications (generic
// destination) on POST /webhooks/terraform. Each delivery is signed with an HMAC-SHA512 of the
// body in X-TFE-Notification-Signature (lowercase hex, no prefix), keyed with the token set on
// the notification configuration.
package terraform

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// SignatureHeader carries the lowercase hex HMAC-SHA512 of the body.
const SignatureHeader = "X-TFE-Notification-Signature"

// Trigger scopes and the triggers handled specially.
const (
	ScopeRun        = "run" // trigger_scope is absent on run payloads (payload_version 1)
	ScopeAssessment = "assessment"
	ScopeWorkspace  = "workspace"

	TriggerVerification          = "verification"
	TriggerAutoDestroyReminder   = "workspace:auto_destroy_reminder"
	TriggerAutoDestroyRunResults = "workspace:auto_destroy_run_results" // as the docs' table names it
	TriggerAutoDestroyResults    = "workspace:auto_destroy_results"     // as the docs' sample names it
)

// Source verifies and parses Terraform notifications. It implements releaseops.Source.
type Source struct {
	secret []byte
}

var _ releaseops.Source = (*Source)(nil)

// New returns a Terraform source that checks signatures with secret (the notification
// configuration's token).
func New(secret string) *Source { return &Source{secret: []byte(secret)} }

// Name returns "terraform".
func (s *Source) Name() string { return releaseops.SourceTerraform }

// Sign returns the X-TFE-Notification-Signature value HCP Terraform sends for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha512.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks X-TFE-Notification-Signature against body. Errors are EUNAUTHORIZED and never
// show a signature; an unconfigured secret is EUNAVAILABLE.
func (s *Source) Verify(h http.Header, body []byte) error {
	if len(s.secret) == 0 {
		return releaseops.Errorf(releaseops.EUNAVAILABLE, "terraform webhook secret is not configured (set terraform.webhook_secret)")
	}
	sig := strings.TrimSpace(h.Get(SignatureHeader))
	if sig == "" {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "missing %s", SignatureHeader)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha512.Size {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "malformed %s: want 128 hex digits of HMAC-SHA512", SignatureHeader)
	}
	m := hmac.New(sha512.New, s.secret)
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return releaseops.Errorf(releaseops.EUNAUTHORIZED, "%s does not match the body", SignatureHeader)
	}
	return nil
}

// The types below declare only the fields Parse reads, and each scope's fields are decoded
// only for that scope: an odd value in a field ReleaseOps does not read (run_created_at,
// workspace_id, the prior assessment, a reminder's trigger_type, …) must not refuse a signed
// delivery.

// envelope holds the fields that route a payload. Run payloads (version 1) put the run at the
// top level (runEnvelope); version 2 payloads (assessment, workspace) carry trigger_scope and
// details.
type envelope struct {
	PayloadVersion              json.RawMessage `json:"payload_version"`
	NotificationConfigurationID string          `json:"notification_configuration_id"`
	TriggerScope                string          `json:"trigger_scope"`
	Trigger                     string          `json:"trigger"`
	Details                     json.RawMessage `json:"details"`
}

// runEnvelope is the run of a run notification.
type runEnvelope struct {
	RunURL           string         `json:"run_url"`
	RunID            string         `json:"run_id"`
	RunMessage       string         `json:"run_message"`
	RunCreatedBy     string         `json:"run_created_by"`
	WorkspaceName    string         `json:"workspace_name"`
	OrganizationName string         `json:"organization_name"`
	Notifications    []notification `json:"notifications"`
}

type notification struct {
	Trigger      string `json:"trigger"`
	RunStatus    string `json:"run_status"`
	RunUpdatedAt string `json:"run_updated_at"`
	RunUpdatedBy string `json:"run_updated_by"`
}

type assessmentDetails struct {
	NewAssessmentResult *assessmentResult `json:"new_assessment_result"`
	WorkspaceName       string            `json:"workspace_name"`
	OrganizationName    string            `json:"organization_name"`
}

type assessmentResult struct {
	ID               string `json:"id"`
	URL              string `json:"url"`
	Succeeded        bool   `json:"succeeded"`
	Drifted          bool   `json:"drifted"`
	ResourcesDrifted int    `json:"resources_drifted"`
	ChecksFailed     int    `json:"checks_failed"`
	ChecksErrored    int    `json:"checks_errored"`
	CreatedAt        string `json:"created_at"`
}

type workspaceDetails struct {
	AutoDestroyAt         string `json:"auto_destroy_at"`
	RunCreatedAt          string `json:"run_created_at"`
	RunStatus             string `json:"run_status"`
	RunExternalID         string `json:"run_external_id"`
	RunCreateErrorMessage string `json:"run_create_error_message"`
	WorkspaceName         string `json:"workspace_name"`
	OrganizationName      string `json:"organization_name"`
}

// Parse routes on trigger_scope (absent: a run notification) and returns the facts:
// run:* → FactTerraformRun, assessment:* → FactAssessment, the auto-destroy results → a
// FactTerraformRun with IsDestroy, verification and reminders → no facts.
func (s *Source) Parse(_ http.Header, body []byte) (releaseops.Parsed, error) {
	var env envelope
	if err := decode(body, &env, ""); err != nil {
		return releaseops.Parsed{}, err
	}
	if _, err := payloadVersion(env.PayloadVersion); err != nil {
		return releaseops.Parsed{}, err
	}
	switch env.TriggerScope {
	case "", ScopeRun:
		return parseRun(env, body)
	case ScopeAssessment:
		return parseAssessment(env)
	case ScopeWorkspace:
		return parseWorkspace(env, body)
	default:
		return parseOther(env, body)
	}
}

func parseRun(head envelope, body []byte) (releaseops.Parsed, error) {
	var env runEnvelope
	if err := decode(body, &env, ""); err != nil {
		return releaseops.Parsed{}, err
	}
	if len(env.Notifications) == 0 || env.Notifications[0].Trigger == "" {
		return releaseops.Parsed{}, invalid("notifications[0].trigger", "is required")
	}
	first := env.Notifications[0]
	if first.Trigger == TriggerVerification {
		// The "send a test" delivery: every run field is null. Distinct bodies are distinct
		// deliveries; a redelivered identical body is stored once.
		return releaseops.Parsed{
			Type:       TriggerVerification,
			DeliveryID: "verification:" + head.NotificationConfigurationID + ":" + bodyHash(body),
		}, nil
	}
	var problems []string
	if env.RunID == "" {
		problems = append(problems, "run_id: is required")
	}
	if env.WorkspaceName == "" {
		problems = append(problems, "workspace_name: is required")
	}
	if env.OrganizationName == "" {
		problems = append(problems, "organization_name: is required")
	}
	at, err := parseTime(first.RunUpdatedAt)
	if err != nil {
		problems = append(problems, "notifications[0].run_updated_at: "+err.Error())
	}
	if len(problems) > 0 {
		return releaseops.Parsed{}, &releaseops.Error{Code: releaseops.EINVALID, Message: "invalid run notification: " + strings.Join(problems, "; ")}
	}
	subject := workspaceSubject(env.OrganizationName, env.WorkspaceName)
	p := releaseops.Parsed{
		Type:       first.Trigger,
		DeliveryID: env.RunID + ":" + first.Trigger + ":" + first.RunUpdatedAt,
		Subject:    subject,
		OccurredAt: at,
	}
	for i, n := range env.Notifications {
		if n.Trigger == "" {
			continue
		}
		nAt := at
		if i > 0 {
			if t, err := parseTime(n.RunUpdatedAt); err == nil {
				nAt = t
			}
		}
		p.Facts = append(p.Facts, releaseops.Fact{
			Kind:    releaseops.FactTerraformRun,
			Subject: subject,
			At:      nAt,
			TerraformRun: &releaseops.TerraformRun{
				RunID:        env.RunID,
				Workspace:    env.WorkspaceName,
				Organization: env.OrganizationName,
				Trigger:      n.Trigger,
				Status:       n.RunStatus,
				Message:      env.RunMessage,
				CreatedBy:    env.RunCreatedBy,
				UpdatedBy:    n.RunUpdatedBy,
				URL:          env.RunURL,
			},
		})
	}
	return p, nil
}

func parseAssessment(env envelope) (releaseops.Parsed, error) {
	var d assessmentDetails
	if err := decode(env.Details, &d, "details."); err != nil {
		return releaseops.Parsed{}, err
	}
	var problems []string
	if env.Trigger == "" {
		problems = append(problems, "trigger: is required")
	}
	if d.WorkspaceName == "" {
		problems = append(problems, "details.workspace_name: is required")
	}
	if d.OrganizationName == "" {
		problems = append(problems, "details.organization_name: is required")
	}
	if d.NewAssessmentResult == nil || d.NewAssessmentResult.ID == "" {
		problems = append(problems, "details.new_assessment_result.id: is required")
	}
	var at time.Time
	if d.NewAssessmentResult != nil {
		var err error
		if at, err = parseTime(d.NewAssessmentResult.CreatedAt); err != nil {
			problems = append(problems, "details.new_assessment_result.created_at: "+err.Error())
		}
	}
	if len(problems) > 0 {
		return releaseops.Parsed{}, &releaseops.Error{Code: releaseops.EINVALID, Message: "invalid assessment notification: " + strings.Join(problems, "; ")}
	}
	r := d.NewAssessmentResult
	subject := workspaceSubject(d.OrganizationName, d.WorkspaceName)
	return releaseops.Parsed{
		Type:       env.Trigger,
		DeliveryID: r.ID + ":" + env.Trigger,
		Subject:    subject,
		OccurredAt: at,
		Facts: []releaseops.Fact{{
			Kind:    releaseops.FactAssessment,
			Subject: subject,
			At:      at,
			Assessment: &releaseops.TerraformAssessment{
				Workspace:        d.WorkspaceName,
				Organization:     d.OrganizationName,
				Trigger:          env.Trigger,
				Succeeded:        r.Succeeded,
				Drifted:          r.Drifted,
				ResourcesDrifted: r.ResourcesDrifted,
				ChecksFailed:     r.ChecksFailed + r.ChecksErrored,
				URL:              r.URL,
			},
		}},
	}, nil
}

func parseWorkspace(env envelope, body []byte) (releaseops.Parsed, error) {
	var d workspaceDetails
	if err := decode(env.Details, &d, "details."); err != nil {
		return releaseops.Parsed{}, err
	}
	var problems []string
	if env.Trigger == "" {
		problems = append(problems, "trigger: is required")
	}
	if d.WorkspaceName == "" {
		problems = append(problems, "details.workspace_name: is required")
	}
	if d.OrganizationName == "" {
		problems = append(problems, "details.organization_name: is required")
	}
	if len(problems) > 0 {
		return releaseops.Parsed{}, &releaseops.Error{Code: releaseops.EINVALID, Message: "invalid workspace notification: " + strings.Join(problems, "; ")}
	}
	subject := workspaceSubject(d.OrganizationName, d.WorkspaceName)
	key := d.AutoDestroyAt + ":" + d.RunExternalID
	if key == ":" {
		key = bodyHash(body)
	}
	p := releaseops.Parsed{
		Type:       env.Trigger,
		DeliveryID: subject.Key + ":" + env.Trigger + ":" + key,
		Subject:    subject,
	}
	switch env.Trigger {
	case TriggerAutoDestroyRunResults, TriggerAutoDestroyResults:
		// The outcome of a scheduled destroy run: recorded as a destroy run so that the
		// "no destroy without approval" signal sees it. A run that could not even be created
		// has no id and is recorded with its error as the message.
		at, _ := parseTime(d.RunCreatedAt)
		p.OccurredAt = at
		status := d.RunStatus
		if status == "" && d.RunCreateErrorMessage != "" {
			status = "errored"
		}
		p.Facts = []releaseops.Fact{{
			Kind:    releaseops.FactTerraformRun,
			Subject: subject,
			At:      at,
			TerraformRun: &releaseops.TerraformRun{
				RunID:        d.RunExternalID,
				Workspace:    d.WorkspaceName,
				Organization: d.OrganizationName,
				Trigger:      env.Trigger,
				Status:       status,
				Message:      firstNonEmpty(d.RunCreateErrorMessage, workspaceMessage(body)),
				IsDestroy:    true,
			},
		}}
	}
	// workspace:auto_destroy_reminder and any other workspace trigger: stored, no facts.
	return p, nil
}

// workspaceMessage is the top-level message of a workspace notification, or "" when it is not
// a string.
func workspaceMessage(body []byte) string {
	var m struct {
		Message any `json:"message"`
	}
	_ = json.Unmarshal(body, &m)
	s, _ := m.Message.(string)
	return s
}

// parseOther keeps deliveries of scopes ReleaseOps does not use (team:change_request, future
// scopes) as ignored events.
func parseOther(env envelope, body []byte) (releaseops.Parsed, error) {
	typ := env.Trigger
	if typ == "" {
		typ = env.TriggerScope
	}
	var names struct {
		WorkspaceName    string `json:"workspace_name"`
		OrganizationName string `json:"organization_name"`
	}
	_ = json.Unmarshal(env.Details, &names)
	p := releaseops.Parsed{
		Type:       typ,
		DeliveryID: env.NotificationConfigurationID + ":" + typ + ":" + bodyHash(body),
	}
	if names.WorkspaceName != "" {
		p.Subject = workspaceSubject(names.OrganizationName, names.WorkspaceName)
	}
	return p, nil
}

// payloadVersion reads payload_version, a number in run payloads (1) and a string in the
// newer ones ("2"). Absent is 0.
func payloadVersion(raw json.RawMessage) (json.Number, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", invalid("payload_version", "must be a number such as 1 or \"2\"")
	}
	return n, nil
}

func workspaceSubject(org, ws string) releaseops.Subject {
	key := ws
	if org != "" {
		key = org + "/" + ws
	}
	return releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: key}
}

// decode unmarshals JSON, mapping syntax errors to EMALFORMED and type errors to EINVALID
// naming the field (prefixed with where the object sits).
func decode(data []byte, v any, prefix string) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if prefix == "" {
			return releaseops.Errorf(releaseops.EMALFORMED, "body is empty")
		}
		return invalid(strings.TrimSuffix(prefix, "."), "is required")
	}
	if prefix == "" && !json.Valid(data) {
		return releaseops.Errorf(releaseops.EMALFORMED, "body is not valid JSON")
	}
	err := json.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			if prefix == "" {
				return releaseops.Errorf(releaseops.EMALFORMED, "body must be a JSON object")
			}
			return invalid(strings.TrimSuffix(prefix, "."), "must be an object (got "+te.Value+")")
		}
		return invalid(prefix+field, "must be a "+kindOf(te.Type.Kind().String())+" (got "+te.Value+")")
	}
	if prefix == "" {
		return releaseops.Errorf(releaseops.EMALFORMED, "body is not a valid notification: %s", clip(err.Error()))
	}
	return invalid(strings.TrimSuffix(prefix, "."), clip(err.Error()))
}

func kindOf(k string) string {
	switch k {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice":
		return "list"
	case "struct", "map", "ptr":
		return "object"
	default:
		return "number"
	}
}

func invalid(field, msg string) *releaseops.Error {
	return &releaseops.Error{Code: releaseops.EINVALID, Message: field + ": " + msg}
}

// parseTime reads an RFC 3339 time; empty is the zero time.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errors.New("must be an RFC 3339 time (got " + clip(s) + ")")
	}
	return t.UTC(), nil
}

func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:8])
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
