package gate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/storage"
)

var ocNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

type onCallEnv struct {
	t  *testing.T
	db *storage.DB
	g  *Gate
}

func newOnCallEnv(t *testing.T) *onCallEnv {
	t.Helper()
	db, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "oncall.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &onCallEnv{t: t, db: db, g: &Gate{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}}
}

// fact stores an oncall fact of PagerDuty service PCHK for service, read by sync at at.
func (e *onCallEnv) fact(service string, at time.Time, levels ...releaseops.OnCallLevel) {
	e.t.Helper()
	subj := releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PCHK"}
	d := &storage.NewDelivery{Source: releaseops.SourcePagerDuty, DeliveryID: "sync:PCHK:oncall:" + at.String() + service, Type: releaseops.EventSync,
		Subject: subj, Service: service, Outcome: releaseops.OutcomeStored, ReceivedAt: at, Headers: map[string]string{}, Body: []byte(`{}`),
		Facts: []releaseops.Fact{{Kind: releaseops.FactOnCall, Subject: subj, Service: service, At: at,
			Evidence: releaseops.Evidence{Source: releaseops.SourcePagerDuty, Event: releaseops.EventSync, At: at},
			OnCall:   &releaseops.OnCall{ServiceID: "PCHK", EscalationPolicyID: "PEP1", Levels: levels}}}}
	if err := e.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		_, _, err := storage.InsertDelivery(t, d)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
}

// synced records a successful sync read of PagerDuty service PCHK at at.
func (e *onCallEnv) synced(service string, at time.Time) {
	e.t.Helper()
	if err := e.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		return storage.PutSyncSuccess(t, releaseops.SourcePagerDuty, "PCHK", service, at, []byte(`{}`))
	}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *onCallEnv) text(service string) string {
	e.t.Helper()
	s, err := e.g.onCallText(context.Background(), service, ocNow)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func level(n int, user string, until time.Time) releaseops.OnCallLevel {
	return releaseops.OnCallLevel{Level: n, User: user, Until: until}
}

func TestOnCallLineFromLatestFact(t *testing.T) {
	e := newOnCallEnv(t)
	e.fact("checkout", ocNow.Add(-3*time.Hour), level(1, "Zed", time.Time{}))
	e.fact("checkout", ocNow.Add(-time.Hour), level(1, "Alice", ocNow.Add(8*time.Hour)), level(2, "Bob", time.Time{}))
	e.fact("payments", ocNow.Add(-time.Minute), level(1, "Pat", time.Time{}))
	if got, want := e.text("checkout"), "On call: Alice (until 18:00 UTC), then Bob"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if !strings.HasPrefix(e.text("checkout"), bot.OnCallPrefix) || onCallPrefix != bot.OnCallPrefix {
		t.Fatalf("the Slack builders would not find the line: gate %q, bot %q", onCallPrefix, bot.OnCallPrefix)
	}
}

func TestOnCallLineAbsent(t *testing.T) {
	e := newOnCallEnv(t)
	if got := e.text("checkout"); got != "" {
		t.Fatalf("no fact: got %q", got)
	}
	// Nobody on call is a state sync records too; it has no line either.
	e.fact("checkout", ocNow.Add(-time.Hour))
	if got := e.text("checkout"); got != "" {
		t.Fatalf("nobody on call: got %q", got)
	}
}

func TestOnCallLineStale(t *testing.T) {
	e := newOnCallEnv(t)
	e.fact("checkout", ocNow.Add(-25*time.Hour), level(1, "Alice", time.Time{}))
	if got := e.text("checkout"); got != "" {
		t.Fatalf("a fact 25 h old, never confirmed: got %q", got)
	}
	e.synced("checkout", ocNow.Add(-30*time.Hour))
	if got := e.text("checkout"); got != "" {
		t.Fatalf("a fact 25 h old, last read 30 h ago: got %q", got)
	}
	// Sync stores the rota only when it changes: an unchanged week-long shift read an hour
	// ago is current.
	e.synced("checkout", ocNow.Add(-time.Hour))
	if got, want := e.text("checkout"), "On call: Alice"; got != want {
		t.Fatalf("a fact 25 h old, confirmed an hour ago: got %q, want %q", got, want)
	}
}

func TestOnCallLineShifts(t *testing.T) {
	oc := func(ls ...releaseops.OnCallLevel) *releaseops.OnCall { return &releaseops.OnCall{Levels: ls} }
	for _, c := range []struct {
		name string
		oc   *releaseops.OnCall
		want string
	}{
		{"level 1 ended", oc(level(1, "Alice", ocNow), level(2, "Bob", ocNow.Add(time.Hour))), "On call: Bob (level 2, until 11:00 UTC)"},
		{"both ended", oc(level(1, "Alice", ocNow.Add(-time.Minute)), level(2, "Bob", ocNow.Add(-time.Hour))), ""},
		{"level 3 not shown", oc(level(1, "Alice", time.Time{}), level(3, "Carol", time.Time{})), "On call: Alice"},
		{"until beyond a day has its date", oc(level(1, "Alice", ocNow.Add(72*time.Hour))), "On call: Alice (until 2026-11-23 10:00 UTC)"},
		{"names folded onto one line", oc(level(1, "  Alice\n Smith ", time.Time{}), level(1, " ", time.Time{})), "On call: Alice Smith"},
		{"several at a level", oc(level(1, "A", time.Time{}), level(1, "B", time.Time{}), level(1, "C", time.Time{}), level(1, "D", time.Time{}), level(1, "E", time.Time{})),
			"On call: A, B, C, 2 more"},
	} {
		if got := onCallLine(c.oc, ocNow); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

// The line is kept in the approval record: what the request showed, a row read back for the
// decision shows too, and the decision's own reasons never gain it.
func TestOnCallKeptWithTheApproval(t *testing.T) {
	e := newOnCallEnv(t)
	e.fact("checkout", ocNow.Add(-time.Hour), level(1, "<!channel>", ocNow.Add(8*time.Hour)), level(2, "Bob <@U0MALLORY>", time.Time{}))
	decision := make([]Reason, 1, 4)
	decision[0] = Reason{Kind: "band", Text: "score 70.0 is in the watch band"}
	a := &Approval{ID: "apr_1", Service: "checkout", Reasons: decision}
	e.g.withOnCall(context.Background(), a, ocNow)
	if len(a.Reasons) != 2 || a.Reasons[1].Kind != ReasonOnCall {
		t.Fatalf("reasons %+v", a.Reasons)
	}
	if decision[:2][1].Kind != "" {
		t.Fatal("the on-call line was written into the decision's reasons")
	}
	row, err := rowOf(a, "gr_1")
	if err != nil {
		t.Fatal(err)
	}
	back, err := approvalOf(row)
	if err != nil {
		t.Fatal(err)
	}
	if back.Reasons[1] != a.Reasons[1] {
		t.Fatalf("read back %+v, stored %+v", back.Reasons, a.Reasons)
	}

	// As the app hands the reasons to the bot: PagerDuty's names are escaped, never pings.
	var rs []bot.Reason
	for _, r := range back.Reasons {
		rs = append(rs, bot.Reason{Text: r.Text, Playbook: r.Playbook})
	}
	b, _ := json.Marshal(bot.ApprovalRequestMessage(bot.ApprovalRequest{ID: a.ID, Service: "checkout", Environment: "production", Reasons: rs}, "").Blocks)
	var decoded any
	_ = json.Unmarshal(b, &decoded)
	s := strings.Join(texts(decoded), "\n")
	if !strings.Contains(s, "*On call:* &lt;!channel&gt; (until 18:00 UTC), then Bob &lt;@U0MALLORY&gt;") {
		t.Fatalf("on-call line missing or unescaped: %s", s)
	}
	if strings.Contains(s, "<!channel") || strings.Contains(s, "<@U0MALLORY") {
		t.Fatalf("a PagerDuty name injected a mention: %s", s)
	}
}

func TestOnCallNoFactLeavesReasons(t *testing.T) {
	e := newOnCallEnv(t)
	a := &Approval{ID: "apr_1", Service: "checkout", Reasons: []Reason{{Kind: "band", Text: "watch"}}}
	e.g.withOnCall(context.Background(), a, ocNow)
	if len(a.Reasons) != 1 {
		t.Fatalf("reasons %+v", a.Reasons)
	}
}

func texts(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			out = append(out, texts(x)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, x := range v {
			out = append(out, texts(x)...)
		}
		return out
	}
	return nil
}
