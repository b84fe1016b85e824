package pagerduty

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fixtures"
)

const (
	secret    = "pd-secret-current"
	oldSecret = "pd-secret-previous"
)

func header(sig string) http.Header {
	h := http.Header{}
	if sig != "" {
		h.Set(SignatureHeader, sig)
	}
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

func TestVerifyFixtures(t *testing.T) {
	names, bodies := fixtures.All(t, "pagerduty")
	if len(names) != 2 {
		t.Fatalf("want the 2 pagerduty fixtures, found %v", names)
	}
	src := New([]string{secret})
	for _, name := range names {
		body := bodies[name]
		t.Run(name, func(t *testing.T) {
			if err := src.Verify(header(Sign(secret, body)), body); err != nil {
				t.Fatalf("Verify(signed) = %v", err)
			}
			tampered := append([]byte{}, body...)
			tampered[len(tampered)/2] ^= 0x01
			good := Sign(secret, body)
			cases := []struct {
				name, header, want string
				body               []byte
			}{
				{"missing", "", "missing X-PagerDuty-Signature", body},
				{"no v1 prefix", strings.TrimPrefix(good, "v1="), "malformed X-PagerDuty-Signature", body},
				{"v0 only", "v0=" + strings.TrimPrefix(good, "v1="), "malformed X-PagerDuty-Signature", body},
				{"not hex", "v1=" + strings.Repeat("q", 64), "malformed X-PagerDuty-Signature", body},
				{"wrong secret", Sign("nope", body), "matches no configured secret", body},
				{"tampered", good, "matches no configured secret", tampered},
				{"empty body", good, "empty body", []byte{}},
			}
			for _, c := range cases {
				err := src.Verify(header(c.header), c.body)
				e := wantCode(t, err, releaseops.EUNAUTHORIZED)
				if !strings.Contains(e.Error(), c.want) {
					t.Errorf("%s: error %q does not name %q", c.name, e.Error(), c.want)
				}
				for _, leak := range []string{strings.TrimPrefix(good, "v1="), strings.TrimPrefix(Sign(secret, c.body), "v1=")} {
					if strings.Contains(e.Error(), leak) {
						t.Errorf("%s: error leaks a signature", c.name)
					}
				}
			}
		})
	}
}

func TestVerifyMultipleSignatures(t *testing.T) {
	body := fixtures.Read(t, "pagerduty/incident.priority_updated.json")
	src := New([]string{secret})
	for _, h := range []string{
		Sign("stale", body) + "," + Sign(secret, body),
		Sign(secret, body) + "," + Sign("stale", body),
		"v1=zz," + Sign(secret, body),
		"v0=abc," + Sign("stale", body) + "," + Sign(secret, body),
	} {
		if err := src.Verify(header(h), body); err != nil {
			t.Errorf("Verify(%d values, one valid) = %v", strings.Count(h, ",")+1, err)
		}
	}
	err := src.Verify(header(Sign("a", body)+","+Sign("b", body)), body)
	wantCode(t, err, releaseops.EUNAUTHORIZED)
}

func TestVerifyRotation(t *testing.T) {
	body := fixtures.Read(t, "pagerduty/service.updated.json")
	src := New([]string{oldSecret, secret, ""})
	for _, s := range []string{oldSecret, secret} {
		if err := src.Verify(header(Sign(s, body)), body); err != nil {
			t.Errorf("Verify(signed with one of two secrets) = %v", err)
		}
	}
	// PagerDuty's own rotation: both values in one header.
	if err := src.Verify(header(Sign(oldSecret, body)+","+Sign(secret, body)), body); err != nil {
		t.Errorf("Verify(both values) = %v", err)
	}
	wantCode(t, src.Verify(header(Sign("retired", body)), body), releaseops.EUNAUTHORIZED)

	wantCode(t, New(nil).Verify(header(Sign(secret, body)), body), releaseops.EUNAVAILABLE)
	wantCode(t, New([]string{""}).Verify(header(Sign(secret, body)), body), releaseops.EUNAVAILABLE)
}

func TestVerifyTooLarge(t *testing.T) {
	body := make([]byte, MaxBody)
	wantCode(t, New([]string{secret}).Verify(header(Sign(secret, body)), body), releaseops.ETOOLARGE)
}

func TestParseIncident(t *testing.T) {
	body := fixtures.Read(t, "pagerduty/incident.priority_updated.json")
	p, err := New([]string{secret}).Parse(header(Sign(secret, body)), body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "incident.priority_updated" || p.DeliveryID != "5ac64822-4adc-4fda-ade0-410becf0de4f" {
		t.Errorf("type/delivery = %q/%q", p.Type, p.DeliveryID)
	}
	subject := releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PF9KMXH"}
	at := time.Date(2020, 10, 2, 18, 45, 22, 169e6, time.UTC)
	if p.Subject != subject || !p.OccurredAt.Equal(at) {
		t.Errorf("subject/at = %+v %v", p.Subject, p.OccurredAt)
	}
	if len(p.Facts) != 1 || p.Facts[0].Kind != releaseops.FactIncident {
		t.Fatalf("facts = %+v", p.Facts)
	}
	f := p.Facts[0]
	if f.Subject != subject || !f.At.Equal(at) {
		t.Errorf("fact subject/at = %+v %v", f.Subject, f.At)
	}
	i := f.Incident
	if i.ID != "PGR0VU2" || i.Number != 2 || i.EventType != "incident.priority_updated" || i.Status != "triggered" ||
		i.Title != "A little bump in the road" || i.Urgency != "high" || i.Priority != "P1" || i.ServiceID != "PF9KMXH" ||
		i.EscalationPolicyID != "PUS0KTE" || i.URL != "https://acme.pagerduty.com/incidents/PGR0VU2" ||
		!i.CreatedAt.Equal(time.Date(2020, 4, 9, 15, 16, 27, 0, time.UTC)) {
		t.Errorf("incident = %+v", i)
	}
}

func TestParseIncidentLifecycle(t *testing.T) {
	body := string(fixtures.Read(t, "pagerduty/incident.priority_updated.json"))
	for _, status := range []string{"triggered", "acknowledged", "resolved"} {
		b := strings.Replace(body, `"incident.priority_updated"`, `"incident.`+status+`"`, 1)
		b = strings.Replace(b, `"status": "triggered"`, `"status": "`+status+`"`, 1)
		p, err := New([]string{secret}).Parse(nil, []byte(b))
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != "incident."+status || p.Facts[0].Incident.Status != status || p.Facts[0].Incident.EventType != "incident."+status {
			t.Errorf("%s: %+v", status, p.Facts[0].Incident)
		}
	}
}

func TestParseService(t *testing.T) {
	body := fixtures.Read(t, "pagerduty/service.updated.json")
	p, err := New([]string{secret}).Parse(header(Sign(secret, body)), body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "service.updated" || p.DeliveryID != "01BRB6ZP4M6T8ZG4X6BP63ZB9O" {
		t.Errorf("type/delivery = %q/%q", p.Type, p.DeliveryID)
	}
	subject := releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PF9KMXH"}
	if p.Subject != subject || len(p.Facts) != 1 || p.Facts[0].Kind != releaseops.FactPagerDutyService {
		t.Fatalf("parsed = %+v", p)
	}
	s := p.Facts[0].PagerDutyService
	if s.ID != "PF9KMXH" || s.EventType != "service.updated" || s.Name != "testing service updates" ||
		s.URL != "https://acme.pagerduty.com/services/PF9KMXH" || s.EscalationLevels != 0 {
		t.Errorf("service = %+v", s)
	}
	if !p.Facts[0].At.Equal(time.Date(2021, 3, 2, 13, 35, 11, 682e6, time.UTC)) {
		t.Errorf("at = %v", p.Facts[0].At)
	}
}

func TestParseSubEventsHaveNoFacts(t *testing.T) {
	body := []byte(`{"event":{"id":"01ANNOTATE","event_type":"incident.annotated","resource_type":"incident","occurred_at":"2026-11-20T10:00:00Z","agent":null,"client":null,"data":{"incident":{"id":"PGR0VU2","type":"incident_reference"},"id":"PNOTE1","content":"rolled back","trigger_log_entry":null,"type":"incident_note"}}}`)
	p, err := New([]string{secret}).Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "incident.annotated" || p.DeliveryID != "01ANNOTATE" || len(p.Facts) != 0 {
		t.Errorf("parsed = %+v", p)
	}
	body = []byte(`{"event":{"id":"01OTHER","event_type":"pagey.ping","resource_type":"pagey","occurred_at":"2026-11-20T10:00:00Z","data":{}}}`)
	p, err = New([]string{secret}).Parse(nil, body)
	if err != nil || len(p.Facts) != 0 || p.Type != "pagey.ping" {
		t.Errorf("unknown resource: %+v %v", p, err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, body, code, want string
	}{
		{"empty", ``, releaseops.EMALFORMED, "empty"},
		{"not json", `event=1`, releaseops.EMALFORMED, "JSON"},
		{"array", `[{"event":{}}]`, releaseops.EMALFORMED, "object"},
		{"no event", `{"events":[]}`, releaseops.EINVALID, "event: is required"},
		{"event string", `{"event":"x"}`, releaseops.EINVALID, "event"},
		{"no id", `{"event":{"event_type":"incident.triggered"}}`, releaseops.EINVALID, "event.id: is required"},
		{"no type", `{"event":{"id":"1"}}`, releaseops.EINVALID, "event.event_type: is required"},
		{"bad time", `{"event":{"id":"1","event_type":"service.updated","occurred_at":"yesterday"}}`, releaseops.EINVALID, "event.occurred_at"},
		{"incident without service", `{"event":{"id":"1","event_type":"incident.triggered","resource_type":"incident","data":{"id":"P1","type":"incident","status":"triggered"}}}`, releaseops.EINVALID, "event.data.service.id: is required"},
		{"incident number string", `{"event":{"id":"1","event_type":"incident.triggered","resource_type":"incident","data":{"id":"P1","type":"incident","number":"two","service":{"id":"S"}}}}`, releaseops.EINVALID, "event.data.number"},
		{"incident without data", `{"event":{"id":"1","event_type":"incident.triggered","resource_type":"incident"}}`, releaseops.EINVALID, "event.data: is required"},
		{"service without id", `{"event":{"id":"1","event_type":"service.created","resource_type":"service","data":{"name":"x"}}}`, releaseops.EINVALID, "event.data.id: is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New([]string{secret}).Parse(nil, []byte(c.body))
			e := wantCode(t, err, c.code)
			if !strings.Contains(e.Message, c.want) {
				t.Errorf("message %q does not name %q", e.Message, c.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range fixtures.Seeds("pagerduty") {
		f.Add(b)
	}
	f.Add([]byte(`{"event":{"id":"01ANNOTATE","event_type":"incident.annotated","resource_type":"incident","data":{"type":"incident_note"}}}`))
	f.Add([]byte(`{"event":{"id":"1","event_type":"service.deleted","data":{"id":"P"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := New([]string{secret}).Parse(nil, body)
		if err != nil {
			if code := releaseops.ErrorCode(err); code != releaseops.EMALFORMED && code != releaseops.EINVALID {
				t.Fatalf("unexpected code %s: %v", code, err)
			}
			return
		}
		if p.DeliveryID == "" || p.Type == "" {
			t.Fatalf("parsed without a delivery id or type: %+v", p)
		}
		for _, fact := range p.Facts {
			if fact.Subject.Key == "" {
				t.Fatalf("fact without a subject: %+v", fact)
			}
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, b := range fixtures.Seeds("pagerduty") {
		f.Add(b, Sign(secret, b))
		f.Add(b, Sign("x", b)+","+Sign(oldSecret, b))
	}
	f.Add([]byte("{}"), "v1=,")
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		err := New([]string{secret, oldSecret}).Verify(header(sig), body)
		if err == nil {
			ok := false
			for _, v := range strings.Split(sig, ",") {
				v = strings.ToLower(strings.TrimSpace(v))
				if v == Sign(secret, body) || v == Sign(oldSecret, body) {
					ok = true
				}
			}
			if !ok {
				t.Fatalf("accepted %q, which holds no valid signature", sig)
			}
			return
		}
		if code := releaseops.ErrorCode(err); code != releaseops.EUNAUTHORIZED && code != releaseops.ETOOLARGE {
			t.Fatalf("code = %s", code)
		}
	})
}
