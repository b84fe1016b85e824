package terraform

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fixtures"
)

const secret = "tfe-notification-token"

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signed(body []byte) http.Header {
	h := http.Header{}
	h.Set(SignatureHeader, Sign(secret, body))
	return h
}

func wantCode(t *testing.T, err error, code string) *releaseops.Error {
	t.Helper()
	var e *releaseops.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want *releaseops.Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
	return e
}

func parse(t *testing.T, body []byte) releaseops.Parsed {
	t.Helper()
	src := New(secret)
	h := signed(body)
	if err := src.Verify(h, body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	p, err := src.Parse(h, body)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestSign(t *testing.T) {
	body := []byte(`{}`)
	m := hmac.New(sha512.New, []byte(secret))
	m.Write(body)
	want := hex.EncodeToString(m.Sum(nil))
	if got := Sign(secret, body); got != want || len(got) != 128 {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerifyFixtures(t *testing.T) {
	names, bodies := fixtures.All(t, "terraform")
	if len(names) != 3 {
		t.Fatalf("want the 3 terraform fixtures, found %v", names)
	}
	src := New(secret)
	for _, name := range names {
		body := bodies[name]
		t.Run(name, func(t *testing.T) {
			if err := src.Verify(signed(body), body); err != nil {
				t.Fatalf("Verify(signed) = %v", err)
			}
			tampered := append([]byte{}, body...)
			tampered[len(tampered)/2] ^= 0x20
			expected := Sign(secret, body)
			cases := []struct {
				name, header, want string
				body               []byte
			}{
				{"missing", "", "missing X-TFE-Notification-Signature", body},
				{"not hex", strings.Repeat("g", 128), "malformed X-TFE-Notification-Signature", body},
				{"sha256 length", expected[:64], "malformed X-TFE-Notification-Signature", body},
				{"prefixed", "sha512=" + expected, "malformed X-TFE-Notification-Signature", body},
				{"wrong secret", Sign("other", body), "does not match", body},
				{"tampered", expected, "does not match", tampered},
			}
			for _, c := range cases {
				h := http.Header{}
				if c.header != "" {
					h.Set(SignatureHeader, c.header)
				}
				err := src.Verify(h, c.body)
				e := wantCode(t, err, releaseops.EUNAUTHORIZED)
				if !strings.Contains(e.Error(), c.want) {
					t.Errorf("%s: error %q does not name %q", c.name, e.Error(), c.want)
				}
				if strings.Contains(e.Error(), expected) || strings.Contains(e.Error(), Sign(secret, c.body)) {
					t.Errorf("%s: error leaks the expected signature", c.name)
				}
			}
		})
	}
	wantCode(t, New("").Verify(signed([]byte("{}")), []byte("{}")), releaseops.EUNAVAILABLE)
}

func TestParseRunErrored(t *testing.T) {
	p := parse(t, fixtures.Read(t, "terraform/run.errored.json"))
	if p.Type != "run:errored" {
		t.Errorf("type = %q", p.Type)
	}
	if want := "run-FwnENkvDnrpyFC7M:run:errored:2019-01-25T18:37:04.000Z"; p.DeliveryID != want {
		t.Errorf("delivery = %q, want %q", p.DeliveryID, want)
	}
	subject := releaseops.Subject{Kind: releaseops.SubjectWorkspace, Key: "acme-org/my-workspace"}
	if p.Subject != subject {
		t.Errorf("subject = %+v", p.Subject)
	}
	at := time.Date(2019, 1, 25, 18, 37, 4, 0, time.UTC)
	if !p.OccurredAt.Equal(at) {
		t.Errorf("occurred at = %v", p.OccurredAt)
	}
	if len(p.Facts) != 1 || p.Facts[0].Kind != releaseops.FactTerraformRun {
		t.Fatalf("facts = %+v", p.Facts)
	}
	f := p.Facts[0]
	r := f.TerraformRun
	if f.Subject != subject || !f.At.Equal(at) {
		t.Errorf("fact subject/at = %+v %v", f.Subject, f.At)
	}
	if r.RunID != "run-FwnENkvDnrpyFC7M" || r.Workspace != "my-workspace" || r.Organization != "acme-org" ||
		r.Trigger != "run:errored" || r.Status != "canceled" || r.Message != "Add five new queue workers" ||
		r.CreatedBy != "sample-user" || r.UpdatedBy != "sample-user" || r.IsDestroy ||
		r.URL != "https://app.terraform.io/app/acme-org/my-workspace/runs/run-FwnENkvDnrpyFC7M" {
		t.Errorf("run = %+v", r)
	}
}

func TestParseRunCompleted(t *testing.T) {
	p := parse(t, readTestdata(t, "run.applied.json"))
	if p.Type != "run:completed" || p.Facts[0].TerraformRun.Status != "applied" || p.Facts[0].TerraformRun.UpdatedBy != "bob" {
		t.Errorf("parsed = %+v %+v", p, p.Facts[0].TerraformRun)
	}
}

func TestParseAssessmentDrifted(t *testing.T) {
	p := parse(t, fixtures.Read(t, "terraform/assessment.drifted.json"))
	if p.Type != "assessment:drifted" || p.DeliveryID != "asmtres-vRVQxpqq64EA9V5a:assessment:drifted" {
		t.Errorf("type/delivery = %q/%q", p.Type, p.DeliveryID)
	}
	if p.Subject.Key != "acme-org/my-workspace" || p.Subject.Kind != releaseops.SubjectWorkspace {
		t.Errorf("subject = %+v", p.Subject)
	}
	at := time.Date(2022, 6, 9, 5, 23, 10, 0, time.UTC)
	if !p.OccurredAt.Equal(at) {
		t.Errorf("occurred at = %v", p.OccurredAt)
	}
	if len(p.Facts) != 1 || p.Facts[0].Kind != releaseops.FactAssessment {
		t.Fatalf("facts = %+v", p.Facts)
	}
	a := p.Facts[0].Assessment
	if !a.Drifted || !a.Succeeded || a.ResourcesDrifted != 4 || a.ChecksFailed != 0 || a.Workspace != "my-workspace" ||
		a.Organization != "acme-org" || a.Trigger != "assessment:drifted" ||
		a.URL != "https://app.terraform.io/api/v2/assessment-results/asmtres-vRVQxpqq64EA9V5a" {
		t.Errorf("assessment = %+v", a)
	}
}

func TestParseAutoDestroy(t *testing.T) {
	p := parse(t, fixtures.Read(t, "terraform/workspace.auto_destroy_reminder.json"))
	if p.Type != "workspace:auto_destroy_reminder" || len(p.Facts) != 0 {
		t.Errorf("reminder = %+v", p)
	}
	if p.Subject.Key != "acme-org/learned-english-dog" || p.DeliveryID != "acme-org/learned-english-dog:workspace:auto_destroy_reminder:2025-01-01T00:00:00Z:" {
		t.Errorf("reminder subject/delivery = %+v %q", p.Subject, p.DeliveryID)
	}

	body := readTestdata(t, "workspace.auto_destroy_results.json")
	for _, trigger := range []string{TriggerAutoDestroyResults, TriggerAutoDestroyRunResults} {
		b := []byte(strings.Replace(string(body), TriggerAutoDestroyResults, trigger, 1))
		p = parse(t, b)
		if p.Type != trigger || len(p.Facts) != 1 || p.Facts[0].Kind != releaseops.FactTerraformRun {
			t.Fatalf("results = %+v", p)
		}
		r := p.Facts[0].TerraformRun
		if !r.IsDestroy || r.RunID != "run-vdyJqnSmrYvxRGvr" || r.Status != "applied" || r.Workspace != "checkout-ephemeral" {
			t.Errorf("destroy run = %+v", r)
		}
		if !p.Facts[0].At.Equal(time.Date(2025, 1, 1, 0, 0, 3, 0, time.UTC)) {
			t.Errorf("at = %v", p.Facts[0].At)
		}
	}
}

func TestParseVerification(t *testing.T) {
	body := readTestdata(t, "verification.json")
	p := parse(t, body)
	if p.Type != "verification" || len(p.Facts) != 0 || !strings.HasPrefix(p.DeliveryID, "verification:nc-jWvVsmp5VxsaCeXm:") {
		t.Errorf("verification = %+v", p)
	}
	again := parse(t, body)
	if again.DeliveryID != p.DeliveryID {
		t.Errorf("the same body gave two delivery ids")
	}
}

func TestParsePayloadVersionForms(t *testing.T) {
	body := string(readTestdata(t, "run.applied.json"))
	for _, v := range []string{`1`, `"1"`, `"2"`, `null`} {
		b := strings.Replace(body, `"payload_version": 1`, `"payload_version": `+v, 1)
		if _, err := New(secret).Parse(nil, []byte(b)); err != nil {
			t.Errorf("payload_version %s: %v", v, err)
		}
	}
	b := strings.Replace(body, `"payload_version": 1`, `"payload_version": true`, 1)
	_, err := New(secret).Parse(nil, []byte(b))
	if e := wantCode(t, err, releaseops.EINVALID); !strings.Contains(e.Message, "payload_version") {
		t.Errorf("message %q does not name payload_version", e.Message)
	}
}

func TestParseErrors(t *testing.T) {
	run := string(readTestdata(t, "run.applied.json"))
	cases := []struct {
		name, body, code, field string
	}{
		{"empty", ``, releaseops.EMALFORMED, "empty"},
		{"not json", `<xml/>`, releaseops.EMALFORMED, "JSON"},
		{"array", `[]`, releaseops.EMALFORMED, "object"},
		{"no notifications", `{"payload_version":1,"run_id":"run-1"}`, releaseops.EINVALID, "notifications[0].trigger"},
		{"notifications not a list", `{"payload_version":1,"notifications":"x"}`, releaseops.EINVALID, "notifications"},
		{"run_id number", strings.Replace(run, `"run_id": "run-8mzzJ3bkZ3mqAP2p"`, `"run_id": 7`, 1), releaseops.EINVALID, "run_id"},
		{"missing run_id", strings.Replace(run, `"run_id": "run-8mzzJ3bkZ3mqAP2p"`, `"run_id": null`, 1), releaseops.EINVALID, "run_id: is required"},
		{"missing workspace", strings.Replace(run, `"workspace_name": "checkout-prod"`, `"workspace_name": ""`, 1), releaseops.EINVALID, "workspace_name: is required"},
		{"bad run_updated_at", strings.Replace(run, `"2026-11-20T09:58:41.000Z"`, `"yesterday"`, 1), releaseops.EINVALID, "notifications[0].run_updated_at"},
		{"assessment without details", `{"payload_version":"2","trigger_scope":"assessment","trigger":"assessment:drifted"}`, releaseops.EINVALID, "details"},
		{"assessment without result", `{"payload_version":"2","trigger_scope":"assessment","trigger":"assessment:failed","details":{"workspace_name":"w","organization_name":"o"}}`, releaseops.EINVALID, "details.new_assessment_result.id"},
		{"assessment drifted count string", `{"payload_version":"2","trigger_scope":"assessment","trigger":"assessment:drifted","details":{"workspace_name":"w","organization_name":"o","new_assessment_result":{"id":"a","resources_drifted":"4"}}}`, releaseops.EINVALID, "details.new_assessment_result.resources_drifted"},
		{"workspace details not object", `{"payload_version":"2","trigger_scope":"workspace","trigger":"workspace:auto_destroy_reminder","details":[1]}`, releaseops.EINVALID, "details"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(secret).Parse(nil, []byte(c.body))
			e := wantCode(t, err, c.code)
			if !strings.Contains(e.Message, c.field) {
				t.Errorf("message %q does not name %q", e.Message, c.field)
			}
		})
	}
}

func TestParseOtherScope(t *testing.T) {
	body := []byte(`{"payload_version":"2","notification_configuration_id":"nc-1","trigger_scope":"team","trigger":"team:change_request","details":{"organization_name":"acme-org"}}`)
	p, err := New(secret).Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "team:change_request" || len(p.Facts) != 0 || !strings.HasPrefix(p.DeliveryID, "nc-1:team:change_request:") {
		t.Errorf("parsed = %+v", p)
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range fixtures.Seeds("terraform") {
		f.Add(b)
	}
	for _, b := range fixtures.Testdata(f, ".json") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := New(secret).Parse(nil, body)
		if err != nil {
			if code := releaseops.ErrorCode(err); code != releaseops.EMALFORMED && code != releaseops.EINVALID {
				t.Fatalf("unexpected code %s: %v", code, err)
			}
			return
		}
		if p.DeliveryID == "" || p.Type == "" {
			t.Fatalf("parsed without a delivery id or type: %+v", p)
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, b := range fixtures.Seeds("terraform") {
		f.Add(b, Sign(secret, b))
	}
	f.Add([]byte("{}"), "")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		h := http.Header{}
		h.Set(SignatureHeader, sig)
		err := New(secret).Verify(h, body)
		if err == nil && !strings.EqualFold(strings.TrimSpace(sig), Sign(secret, body)) {
			t.Fatalf("accepted a signature that is not the body's")
		}
		if err != nil && releaseops.ErrorCode(err) != releaseops.EUNAUTHORIZED {
			t.Fatalf("code = %s", releaseops.ErrorCode(err))
		}
	})
}
