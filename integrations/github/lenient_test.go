package github

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/internal/fixtures"
)

const oddTime = "2018-04-25 20:42:10"

var quiet = Options{Log: slog.New(slog.DiscardHandler)}

// lenientBodies returns the payloads of handled types to test with: the shared fixtures (when
// present) and this package's testdata, keyed by name.
func lenientBodies(t *testing.T) (names []string, bodies map[string][]byte) {
	t.Helper()
	bodies = map[string][]byte{}
	for _, dir := range []string{"testdata", filepath.Join("testdata", "lenient")} {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, m := range matches {
			if !handled[eventOf(filepath.Base(m))] {
				continue
			}
			b, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			bodies[m] = b
		}
	}
	if _, ok := os.Stat(filepath.Join("..", "..", "..", "shared", "fixtures", "github")); ok == nil {
		fnames, fb := fixtures.All(t, "github")
		for _, n := range fnames {
			if handled[eventOf(n)] {
				bodies["fixtures/"+n] = fb[n]
			}
		}
	} else {
		t.Log("../shared/fixtures/github not found: testing with this package's testdata only")
	}
	for n := range bodies {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, bodies
}

func parseOK(t *testing.T, event, name string, body []byte) releaseops.Parsed {
	t.Helper()
	p, err := New(secret, quiet).Parse(headers(event, "d-"+name, body), body)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

// The fields readFields keeps are all facts.go reads: every payload gives the same facts from
// its pruned form as from the whole of it.
func TestReadFieldsGiveTheSameFacts(t *testing.T) {
	names, bodies := lenientBodies(t)
	for _, n := range names {
		event := eventOf(filepath.Base(n))
		body := bodies[n]
		if bytes.Contains(body, []byte(oddTime)) {
			continue // a payload go-github cannot decode whole
		}
		pruned, ok := pruneToRead(event, body)
		if !ok {
			t.Fatalf("%s: not pruned", n)
		}
		if got, want := parseOK(t, event, n, pruned), parseOK(t, event, n, body); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: facts from the read fields differ:\n got %+v\nwant %+v", n, got, want)
		}
	}
	for event := range handled {
		if _, ok := readFields[event]; !ok {
			t.Errorf("handled type %s has no readFields", event)
		}
	}
}

// oddUnused rewrites the values of v that readFields does not keep: times become
// "2018-04-25 20:42:10", numbers 1e300, strings and booleans null; unused objects get an odd
// created_at and id. Read values are left as they are.
func oddUnused(v any, keep keepTree, read bool) any {
	if read && len(keep) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x)+2)
		for k, val := range x {
			sub, ok := keep[k]
			if !read {
				ok = false
			}
			if !ok && isTimeKey(k) {
				out[k] = oddTime
				continue
			}
			out[k] = oddUnused(val, sub, ok)
		}
		if !read {
			out["created_at"], out["id"] = oddTime, json.Number("1e300")
		}
		return out
	case []any:
		sub, ok := keep["[]"]
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = oddUnused(el, sub, read && ok)
		}
		return out
	case json.Number:
		return json.Number("1e300")
	case string, bool:
		return nil
	}
	return v
}

func oddPayload(t *testing.T, event string, body []byte) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	odd := oddUnused(v, keepTrees[event], true).(map[string]any)
	// Objects GitHub adds that no fact reads, as an older App or installation writes them.
	for _, k := range []string{"app", "installation", "organization", "enterprise"} {
		if keepTrees[event][k] == nil {
			odd[k] = map[string]any{"id": json.Number("1e300"), "created_at": oddTime, "updated_at": oddTime, "owner": nil}
		}
	}
	if inst, ok := odd["installation"].(map[string]any); ok && keepTrees[event]["installation"] != nil {
		inst["created_at"] = oddTime // installation.id is read by deployment_protection_rule
		inst["app_id"] = json.Number("1e300")
	}
	out, err := json.Marshal(odd)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A payload of a type ReleaseOps reads, with odd but valid values in every field it does not
// read, is stored with the facts of the unmodified payload.
func TestOddUnusedFieldsKeepTheFacts(t *testing.T) {
	names, bodies := lenientBodies(t)
	seen := map[string]bool{}
	for _, n := range names {
		event := eventOf(filepath.Base(n))
		seen[event] = true
		body := bodies[n]
		if bytes.Contains(body, []byte(oddTime)) {
			continue
		}
		want := parseOK(t, event, n, body)
		odd := oddPayload(t, event, body)
		if _, err := gh.ParseWebHook(event, odd); err == nil && event != "ping" {
			t.Errorf("%s: go-github decodes the odd payload: the test does not test the fallback", n)
		}
		if got := parseOK(t, event, n, odd); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: odd unused fields changed the facts:\n got %+v\nwant %+v", n, got, want)
		}
	}
	for _, event := range []string{"check_run", "pull_request", "deployment_status"} {
		if !seen[event] {
			t.Logf("no %s payload found (../shared/fixtures/github absent?): not tested with odd fields", event)
		}
	}
}

// The delivery of the report: a check_run whose App was registered before GitHub wrote times
// in RFC 3339 ("created_at": "2018-04-25 20:42:10").
func TestCheckRunOfAnOlderApp(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "lenient", "check_run.older-app.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gh.ParseWebHook("check_run", body); err == nil {
		t.Fatal("go-github decodes the payload: the test does not test the fallback")
	}
	p := parseOK(t, "check_run", "older-app", body)
	if len(p.Facts) != 1 || p.Facts[0].CIRun == nil {
		t.Fatalf("facts = %+v", p.Facts)
	}
	r := p.Facts[0].CIRun
	if r.Repo != "Codertocat/Hello-World" || r.Name != "Octocoders-linter" || r.Status != "completed" ||
		r.Conclusion != "success" || r.HeadSHA != "ec26c3e57ca3a959ca5aad62de7213c562f8c821" ||
		r.HeadBranch != "changes" || !reflect.DeepEqual(r.PRNumbers, []int{2}) ||
		r.URL != "https://github.com/Codertocat/Hello-World/runs/128620228" ||
		p.OccurredAt.Format("2006-01-02T15:04:05Z07:00") != "2019-05-15T15:21:45Z" {
		t.Errorf("check run = %+v at %v", r, p.OccurredAt)
	}
}

// Every event type go-github knows, with odd values in fields no fact reads, is stored.
func TestEveryEventTypeWithOddUnusedFields(t *testing.T) {
	body := []byte(`{"action":"created","repository":{"full_name":"acme/checkout","id":1e300,"created_at":"` + oddTime +
		`","pushed_at":null,"owner":{"id":"x","created_at":"` + oddTime + `"}},"sender":{"login":"octocat","id":1e300,"created_at":"` + oddTime +
		`"},"installation":{"id":7,"app_id":1e300,"created_at":"` + oddTime + `","updated_at":"` + oddTime +
		`"},"app":{"id":1e300,"created_at":"` + oddTime + `"},"organization":{"id":"x"},"enterprise":{"created_at":"` + oddTime + `"}}`)
	types := append(gh.MessageTypes(), "repository_ruleset", "made_up_event")
	for _, event := range types {
		if event == "repository_ruleset" {
			continue // decoded by ruleset.go, which requires the ruleset object
		}
		p, err := New(secret, quiet).Parse(headers(event, "d-"+event, body), body)
		if err != nil {
			t.Errorf("%s: %v", event, err)
			continue
		}
		if p.Subject.Key != "acme/checkout" && event != "ping" {
			t.Errorf("%s: subject = %+v", event, p.Subject)
		}
	}
}

// A broken value in a field a fact is made from is still refused, naming the field.
func TestBrokenReadFieldIsNamed(t *testing.T) {
	cases := []struct{ event, body, want string }{
		{"pull_request", `{"action":"closed","app":{"created_at":"` + oddTime + `"},"pull_request":{"number":7,"merged":true,"merged_at":"` + oddTime + `"}}`, "pull_request.merged_at"},
		{"check_run", `{"action":"completed","app":{"id":1e300},"check_run":{"check_suite":{"head_branch":5}}}`, "check_run.check_suite.head_branch"},
		{"push", `{"ref":"refs/heads/main","sender":{"id":1e300},"commits":[{"id":"a","timestamp":"` + oddTime + `","added":"x"}]}`, "commits.added"},
	}
	for _, c := range cases {
		_, err := New(secret, quiet).Parse(headers(c.event, "d", []byte(c.body)), []byte(c.body))
		e := wantCode(t, err, releaseops.EINVALID)
		if !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: message %q does not name %s", c.event, e.Message, c.want)
		}
	}
}
