package terraform

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/internal/fixtures"
)

const oddTime = "2018-04-25 20:42:10"

var huge = json.RawMessage(`1e300`)

// withOdd sets each dotted path of body to its value ("notifications.0.message" indexes an
// array), creating objects on the way.
func withOdd(t *testing.T, body []byte, set map[string]any) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	for path, val := range set {
		parts := strings.Split(path, ".")
		cur := v
		for i, p := range parts {
			last := i == len(parts)-1
			switch c := cur.(type) {
			case map[string]any:
				if last {
					c[p] = val
					continue
				}
				if _, ok := c[p].(map[string]any); !ok {
					if _, ok := c[p].([]any); !ok {
						c[p] = map[string]any{}
					}
				}
				cur = c[p]
			case []any:
				if p != "0" || len(c) == 0 {
					t.Fatalf("path %s: only index 0 of a non-empty array", path)
				}
				if last {
					c[0] = val
					continue
				}
				cur = c[0]
			}
		}
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Odd but valid values in fields Parse does not read (wrong types, non-RFC 3339 times, huge
// numbers, nulls) leave a notification stored with the facts of the unmodified payload.
func TestOddUnusedFieldsKeepTheFacts(t *testing.T) {
	cases := map[string]map[string]any{
		"terraform/run.errored.json": {
			"run_created_at": oddTime, "workspace_id": huge, "message": huge, "details": "x",
			"notification_configuration_url": huge, "notifications.0.message": huge,
			"notifications.0.extra": []any{oddTime}, "trigger": nil,
		},
		"terraform/assessment.drifted.json": {
			"message": huge, "notification_configuration_url": nil, "run_id": huge, "notifications": "x",
			"details.prior_assessment_result": "x", "details.workspace_id": huge,
			"details.new_assessment_result.all_checks_succeeded": "yes",
			"details.new_assessment_result.resources_undrifted":  huge,
			"details.new_assessment_result.checks_passed":        "33", "details.new_assessment_result.checks_unknown": oddTime,
			"details.new_assessment_result.json_state_url": huge,
		},
		"terraform/workspace.auto_destroy_reminder.json": {
			"message": huge, "run_id": []any{}, "workspace_name": huge, "notifications": huge,
			"details.trigger_type": huge, "details.workspace_id": oddTime,
		},
	}
	for name, set := range cases {
		body := fixtures.Read(t, name)
		want, err := New(secret).Parse(nil, body)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		odd := withOdd(t, body, set)
		got, err := New(secret).Parse(nil, odd)
		if err != nil {
			t.Errorf("%s with odd unused fields: %v", name, err)
			continue
		}
		// A workspace delivery id hashes the body only when it has no auto_destroy_at and run id.
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: odd unused fields changed the parse:\n got %+v\nwant %+v", name, got, want)
		}
	}
}

// A scope ReleaseOps does not use is stored whatever its run-shaped fields hold.
func TestUnusedScopeWithOddFieldsIsStored(t *testing.T) {
	body := []byte(`{"payload_version":"2","notification_configuration_id":"nc-1","trigger_scope":"team","trigger":"team:change_request",` +
		`"notifications":"x","run_id":1e300,"run_created_at":"` + oddTime + `","details":{"workspace_name":5,"requested_at":"` + oddTime + `"}}`)
	p, err := New(secret).Parse(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != "team:change_request" || len(p.Facts) != 0 || p.DeliveryID == "" {
		t.Errorf("parsed = %+v", p)
	}
}
