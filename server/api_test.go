package server

import (
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops/risk"
)

func TestWithTrust(t *testing.T) {
	at := time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)
	ladder := &risk.Ladder{Rung: 1, Top: 3, Steps: []risk.LadderStep{{At: at, Rung: 1, Reason: "deploy r4 <b>in</b> the mature band went well"}}}
	for _, c := range []struct {
		name, card string
		ladder     *risk.Ladder
		want       string
	}{
		{"appended last, the rest untouched", `{"service":"checkout","score":72.4,"dimensions":[{"id":"a"}]}`, ladder,
			`{"service":"checkout","score":72.4,"dimensions":[{"id":"a"}],"trust":{"rung":1,"top":3,"steps":[{"at":"2026-11-19T08:00:00Z","rung":1,"reason":"deploy r4 \u003cb\u003ein\u003c/b\u003e the mature band went well"}]}}`},
		{"trailing newline", "{\"service\":\"checkout\"}\n", &risk.Ladder{Top: 3}, `{"service":"checkout","trust":{"rung":0,"top":3,"steps":[]}}`},
		{"empty object", `{ }`, &risk.Ladder{Top: 3}, `{ "trust":{"rung":0,"top":3,"steps":[]}}`},
	} {
		got, err := withTrust([]byte(c.card), c.ladder)
		if err != nil || string(got) != c.want {
			t.Errorf("%s: withTrust = %s, %v\nwant %s", c.name, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{`} {
		if _, err := withTrust([]byte(bad), ladder); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
			t.Errorf("withTrust(%q) = %v, want a refusal", bad, err)
		}
	}
}
