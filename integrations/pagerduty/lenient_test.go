package pagerduty

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/internal/fixtures"
)

const oddTime = "2018-04-25 20:42:10"

// withOdd sets each dotted path of body (objects only) to its value, creating objects on the
// way.
func withOdd(t *testing.T, body []byte, set map[string]any) []byte {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	for path, val := range set {
		parts := strings.Split(path, ".")
		m := v
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = val
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// huge is a number no Go integer holds.
var huge = json.RawMessage(`1e300`)

// Odd but valid values in fields Parse does not read (wrong types, non-RFC 3339 times, huge
// numbers, nulls) leave a delivery stored with the facts of the unmodified payload.
func TestOddUnusedFieldsKeepTheFacts(t *testing.T) {
	unused := map[string]any{
		"event.agent": "PLH1HKV", "event.client": huge, "event.extra": []any{oddTime},
		"event.data.self": huge, "event.data.type_of": nil, "event.data.incident_key": huge,
		"event.data.reopened_at": oddTime, "event.data.resolved_at": oddTime,
		"event.data.assignees": map[string]any{"id": huge}, "event.data.teams": "Engineering",
		"event.data.conference_bridge": huge, "event.data.resolve_reason": huge,
		"event.data.service.type": huge, "event.data.service.self": nil, "event.data.service.html_url": huge,
		"event.data.escalation_policy.type": []any{}, "event.data.escalation_policy.created_at": oddTime,
		"event.data.priority.type": huge, "event.data.priority.self": oddTime,
	}
	service := map[string]any{
		"event.agent": []any{huge}, "event.client": "PagerDuty",
		"event.data.type": huge, "event.data.self": huge, "event.data.teams": map[string]any{"id": nil},
		"event.data.alert_creation": huge, "event.data.created_at": oddTime, "event.data.last_incident_timestamp": oddTime,
		"event.data.escalation_policy.type": huge, "event.data.escalation_policy.summary": huge,
	}
	for name, set := range map[string]map[string]any{
		"pagerduty/incident.priority_updated.json": unused,
		"pagerduty/service.updated.json":           service,
	} {
		body := fixtures.Read(t, name)
		want, err := New([]string{secret}).Parse(nil, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(want.Facts) == 0 {
			t.Fatalf("%s: no facts", name)
		}
		odd := withOdd(t, body, set)
		got, err := New([]string{secret}).Parse(nil, odd)
		if err != nil {
			t.Errorf("%s with odd unused fields: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: odd unused fields changed the parse:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// A sub-event whose data is not the incident is stored with no facts, whatever its fields hold.
func TestSubEventWithOddFieldsIsStored(t *testing.T) {
	body := []byte(`{"event":{"id":"1","event_type":"incident.annotated","resource_type":"incident","occurred_at":"2020-10-02T18:45:22.169Z",` +
		`"agent":"x","data":{"type":"incident_note","id":5,"number":"two","created_at":"` + oddTime + `","incident":{"id":1e300},"content":null}}}`)
	p, err := New([]string{secret}).Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.DeliveryID != "1" || p.Type != "incident.annotated" || len(p.Facts) != 0 {
		t.Errorf("parsed = %+v", p)
	}
}
