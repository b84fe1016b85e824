package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/scoring"
)

// exemptSlack is a fake Slack that records posts, updates and response_url answers in the
// shapes the Web API takes them.
type exemptSlack struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []slackCall
}

type slackCall struct {
	Method  string // chat.postMessage, chat.update or respond
	Channel string
	Body    string // the blocks and text, or the response_url JSON
}

func newExemptSlack(t *testing.T) *exemptSlack {
	f := &exemptSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.URL.Path {
		case "/api/chat.postMessage", "/api/chat.update":
			r.ParseForm()
			f.got = append(f.got, slackCall{Method: strings.TrimPrefix(r.URL.Path, "/api/"), Channel: r.Form.Get("channel"),
				Body: unescapeJSON(r.Form.Get("text") + "\n" + r.Form.Get("blocks"))})
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1763633000.%06d"}`, r.Form.Get("channel"), len(f.got))
		case "/respond":
			b, _ := io.ReadAll(r.Body)
			f.got = append(f.got, slackCall{Method: "respond", Body: unescapeJSON(string(b))})
			w.Write([]byte("ok"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// unescapeJSON undoes encoding/json's HTML escaping, so tests read < and & as Slack does.
func unescapeJSON(s string) string {
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
}

// responses returns and forgets the response_url answers recorded so far.
func (f *exemptSlack) responses() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	kept := f.got[:0]
	for _, c := range f.got {
		if c.Method == "respond" {
			out = append(out, c.Body)
		} else {
			kept = append(kept, c)
		}
	}
	f.got = kept
	return out
}

// take returns and forgets the calls recorded so far.
func (f *exemptSlack) take() []slackCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

type exemptEnv struct {
	*env
	slack *exemptSlack
}

func newExemptEnv(t *testing.T, mutate func(*config.Config)) *exemptEnv {
	fake := newExemptSlack(t)
	e := newEnv(t, func(c *configT) {
		c.Slack.BotToken = config.NewSecret("xoxb-e2e")
		c.Slack.SigningSecret = config.NewSecret(slackSecret)
		c.Slack.APIURL = fake.srv.URL + "/api/"
		c.Slack.DefaultChannel = "C0DEFAULT"
		c.Exemptions = config.Exemptions{Approvers: []string{"U0ALICE", "U0CAROL", "U0BOBALT"}, Channel: "C0EXEMPT"}
		// Bob has a second account: both ids are his.
		c.Gate.Users = map[string]string{"bob": "U0BOB", "Bob": "U0BOBALT"}
		if mutate != nil {
			mutate(c)
		}
	})
	if err := e.app.Worker.RescoreAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &exemptEnv{env: e, slack: fake}
}

// command runs /readiness <text> as user and returns the reply's text and blocks.
func (e *exemptEnv) command(user, text string) string {
	e.t.Helper()
	form := url.Values{"command": {"/readiness"}, "text": {text}, "user_id": {user}, "response_url": {e.slack.srv.URL + "/respond"},
		"trigger_id": {fmt.Sprintf("trigger-%d", time.Now().UnixNano())}}.Encode()
	resp, err := http.DefaultClient.Do(slackRequest(e.t, e.srv.URL+"/slack/commands", form, slackSecret, time.Now()))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("/readiness %s: %d %s", text, resp.StatusCode, b)
	}
	var m struct {
		Text   string          `json:"text"`
		Blocks json.RawMessage `json:"blocks"`
	}
	json.Unmarshal(b, &m)
	return m.Text + "\n" + string(m.Blocks)
}

// click presses an exemption button as user and returns the ephemeral answer.
func (e *exemptEnv) click(user, action, id string) string {
	e.t.Helper()
	payload := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T0ACME"},
		"channel": map[string]any{"id": "C0EXEMPT"}, "response_url": e.slack.srv.URL + "/respond", "trigger_id": "t1",
		"actions": []map[string]any{{"action_id": action, "block_id": "exemption:" + id, "value": id, "type": "button",
			"action_ts": fmt.Sprintf("1763633001.%d", time.Now().UnixNano()%1000000)}},
	}
	b, _ := json.Marshal(payload)
	resp, err := http.DefaultClient.Do(slackRequest(e.t, e.srv.URL+"/slack/interactions", url.Values{"payload": {string(b)}}.Encode(), slackSecret, time.Now()))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		e.t.Fatalf("click: %d", resp.StatusCode)
	}
	e.deliver()
	return strings.Join(e.slack.responses(), "\n")
}

func (e *exemptEnv) deliver() {
	e.t.Helper()
	for range 5 {
		if _, err := e.app.Outbox.DeliverDue(context.Background()); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *exemptEnv) signal(id string) scoring.SignalResult {
	e.t.Helper()
	row, err := e.app.DB.GetScore(context.Background(), "checkout")
	if err != nil {
		e.t.Fatal(err)
	}
	var card scoring.Scorecard
	if err := json.Unmarshal(row.Card, &card); err != nil {
		e.t.Fatal(err)
	}
	for _, d := range card.Dimensions {
		for _, s := range d.Signals {
			if s.ID == id {
				return s
			}
		}
	}
	e.t.Fatalf("no signal %s on the card", id)
	return scoring.SignalResult{}
}

func (e *exemptEnv) only(state string) []any {
	e.t.Helper()
	status, res := e.get("/api/v1/exemptions?state="+state, readToken)
	if status != 200 {
		e.t.Fatalf("GET /api/v1/exemptions: %d %v", status, res)
	}
	list, _ := res["exemptions"].([]any)
	return list
}

func (e *exemptEnv) auditKinds() map[string]int {
	e.t.Helper()
	v, err := gate.Verify(context.Background(), e.app.DB)
	if err != nil || !v.OK {
		e.t.Fatalf("audit chain: %+v %v", v, err)
	}
	rows, err := e.app.DB.ListAudit(context.Background(), "", 0, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Kind]++
	}
	return out
}

func mustContain(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// TestExemptionRequestToExpiry: a request in Slack, refused clicks (self under either of the
// requester's accounts, a non-approver), the approval, the waiver on the scorecard, the
// reminder to the owner's channel three days before, once, and the expiry.
func TestExemptionRequestToExpiry(t *testing.T) {
	e := newExemptEnv(t, nil)
	ctx := context.Background()
	if s := e.signal("slo_defined"); s.Waived {
		t.Fatalf("waived before any request: %+v", s)
	}
	mustContain(t, "the scorecard", e.command("U0BOB", "checkout"), "releaseops_exempt_offer", "Request an exemption")
	reply := e.command("U0BOB", "exempt checkout slo_defined 10 vendor SLO tooling is down <!channel>")
	mustContain(t, "the requester's answer", reply, "Requested", "SLO defined", "10 days", "<@U0ALICE>", "<#C0EXEMPT>")
	pending := e.only("pending")
	if len(pending) != 1 {
		t.Fatalf("pending = %v", pending)
	}
	id := pending[0].(map[string]any)["id"].(string)
	e.deliver()
	calls := e.slack.take()
	if len(calls) != 1 || calls[0].Method != "chat.postMessage" || calls[0].Channel != "C0EXEMPT" {
		t.Fatalf("want the request posted to C0EXEMPT, got %+v", calls)
	}
	mustContain(t, "the request", calls[0].Body, "releaseops_exempt_approve", "releaseops_exempt_deny", id, "vendor SLO tooling is down &lt;!channel&gt;")
	if strings.Contains(calls[0].Body, "<!channel") {
		t.Errorf("the reason reached Slack unescaped: %s", calls[0].Body)
	}

	mustContain(t, "the requester, no approver", e.click("U0BOB", "releaseops_exempt_approve", id), "Only the exemption approvers")
	mustContain(t, "self-approval from a second account", e.click("U0BOBALT", "releaseops_exempt_approve", id), "You requested this exemption")
	mustContain(t, "a non-approver", e.click("U0MALLORY", "releaseops_exempt_approve", id), "Only the exemption approvers")
	if s := e.signal("slo_defined"); s.Waived {
		t.Fatal("a refused click granted the waiver")
	}

	decidedAt := e.clock.Now()
	mustContain(t, "the approval", e.click("U0ALICE", "releaseops_exempt_approve", id), "Approved: slo_defined of checkout is waived until")
	e.app.Exemptions.Settle()
	mustContain(t, "a second click", e.click("U0CAROL", "releaseops_exempt_deny", id), "already approved by U0ALICE")
	e.deliver()
	var updated, told bool
	for _, c := range e.slack.take() {
		updated = updated || (c.Method == "chat.update" && strings.Contains(c.Body, "Exemption approved"))
		told = told || (c.Method == "chat.postMessage" && c.Channel == "C0CHECKOUT" && strings.Contains(c.Body, "Exemption approved"))
	}
	if !updated || !told {
		t.Errorf("the request is updated %v, the owner's channel told %v", updated, told)
	}

	s := e.signal("slo_defined")
	wantExpiry := decidedAt.Add(10 * 24 * time.Hour)
	if !s.Waived || s.Waiver == nil || s.Waiver.Approver != "U0ALICE" || s.Waiver.Author != "bob (U0BOB)" || s.Waiver.Ref != id ||
		!s.Waiver.Expires.Equal(wantExpiry) {
		t.Fatalf("the scorecard's signal after the approval: %+v %+v", s, s.Waiver)
	}
	if approved := e.only("approved"); len(approved) != 1 || approved[0].(map[string]any)["decided_by"] != "U0ALICE" {
		t.Errorf("approved = %v", approved)
	}
	if _, page := e.get("/exemptions", ""); !strings.Contains(fmt.Sprint(page["_raw"]), `<span class="badge band-healthy">approved</span>`) {
		t.Errorf("the /exemptions page does not show the approval:\n%v", page["_raw"])
	}
	why := e.command("U0BOB", "why checkout observability")
	mustContain(t, "/readiness why", why, "Waived by bob (U0BOB)", "approved by U0ALICE")

	// Six days later nothing is due; seven days later (three before the end) the reminder.
	e.clock.Advance(6 * 24 * time.Hour)
	if err := e.app.Exemptions.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	if calls := e.slack.take(); len(calls) != 0 {
		t.Fatalf("reminded early: %+v", calls)
	}
	e.clock.Advance(24*time.Hour + time.Minute)
	for range 2 {
		if err := e.app.Exemptions.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.deliver()
	calls = e.slack.take()
	if len(calls) != 1 || calls[0].Channel != "C0CHECKOUT" {
		t.Fatalf("want one reminder to C0CHECKOUT, got %+v", calls)
	}
	mustContain(t, "the reminder", calls[0].Body, "Exemption ends soon", "in 3 days", "<@U0ALICE>", "/readiness exempt checkout slo_defined")

	// At the end the waiver stops counting, the card says it expired and the audit says so.
	e.clock.Advance(3 * 24 * time.Hour)
	if err := e.app.Exemptions.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if s := e.signal("slo_defined"); s.Waived || !strings.Contains(s.Reason, "expired") {
		t.Errorf("after the end: %+v", s)
	}
	if expired := e.only("expired"); len(expired) != 1 {
		t.Errorf("expired = %v", expired)
	}
	kinds := e.auditKinds()
	if kinds[gate.AuditExemptionRequest] != 1 || kinds[gate.AuditExemptionClick] != 5 || kinds[gate.AuditExemptionExpired] != 1 {
		t.Errorf("audit entries = %v; want 1 request, 5 clicks, 1 expiry", kinds)
	}
}

func TestExemptionDenied(t *testing.T) {
	e := newExemptEnv(t, nil)
	e.command("U0BOB", "exempt checkout slo_defined 5 drafting")
	id := e.only("pending")[0].(map[string]any)["id"].(string)
	mustContain(t, "the deny", e.click("U0CAROL", "releaseops_exempt_deny", id), "Denied: the exemption of slo_defined for checkout")
	mustContain(t, "approve after deny", e.click("U0ALICE", "releaseops_exempt_approve", id), "already denied by U0CAROL")
	e.app.Exemptions.Settle()
	if s := e.signal("slo_defined"); s.Waived {
		t.Errorf("a denied request waived the signal: %+v", s)
	}
	if denied := e.only("denied"); len(denied) != 1 {
		t.Errorf("denied = %v", denied)
	}
	// An approver cannot approve their own request.
	e.command("U0ALICE", "exempt checkout alerting_wired 5 pager migration")
	own := e.only("pending")[0].(map[string]any)["id"].(string)
	mustContain(t, "self-approval", e.click("U0ALICE", "releaseops_exempt_approve", own), "You requested this exemption of alerting_wired")
	// A new request after the deny is taken.
	mustContain(t, "a new request", e.command("U0BOB", "exempt checkout slo_defined 5 drafting, really"), "Requested")
}

// TestExemptionBadInput: each refusal says what is wrong, and nothing is stored or audited.
func TestExemptionBadInput(t *testing.T) {
	e := newExemptEnv(t, nil)
	for text, want := range map[string]string{
		"exempt chekout slo_defined 10 r":           "No service named chekout. Did you mean checkout?",
		"exempt checkout slo_defind 10 r":           "No signal slo_defind. Did you mean slo_defined",
		"exempt checkout slo_defined 0 r":           "at least 1 day, not 0",
		"exempt checkout slo_defined -3 r":          "at least 1 day, not -3",
		"exempt checkout slo_defined 31 r":          "at most 30 days (exemptions.max_days), not 31",
		"exempt checkout slo_defined ten r":         "number of days as a whole number",
		"exempt checkout slo_defined 10":            "needs a reason",
		"exempt checkout":                           "needs a signal",
		"exempt checkout slo_defined 10 " + longStr: "keep it within 500",
	} {
		mustContain(t, text, e.command("U0BOB", text), want)
	}
	if all := e.only(""); len(all) != 0 {
		t.Errorf("refused requests were stored: %v", all)
	}
	if kinds := e.auditKinds(); len(kinds) != 0 {
		t.Errorf("refused requests were audited: %v", kinds)
	}
	// A second request while one is pending is refused too.
	e.command("U0BOB", "exempt checkout slo_defined 3 r")
	mustContain(t, "a duplicate", e.command("U0CAROL", "exempt checkout slo_defined 3 r"), "already has a pending exemption request")
	if all := e.only(""); len(all) != 1 {
		t.Errorf("stored = %v", all)
	}
	// An unknown request id is refused and audited.
	mustContain(t, "unknown id", e.click("U0ALICE", "releaseops_exempt_approve", "exm_nope"), "There is no exemption request exm_nope")
	if kinds := e.auditKinds(); kinds[gate.AuditExemptionClick] != 1 {
		t.Errorf("audit = %v", kinds)
	}
	if status, res := e.get("/api/v1/exemptions?state=granted", readToken); status != 422 || !strings.Contains(fmt.Sprint(res), "state must be one of") {
		t.Errorf("bad state: %d %v", status, res)
	}
}

var longStr = strings.Repeat("why ", 130)

// TestExemptionsOffWithoutApprovers: the command says so and stores nothing.
func TestExemptionsOffWithoutApprovers(t *testing.T) {
	e := newExemptEnv(t, func(c *config.Config) { c.Exemptions.Approvers = nil })
	mustContain(t, "the answer", e.command("U0BOB", "exempt checkout slo_defined 3 r"), "Exemptions are not set up")
	if card := e.command("U0BOB", "checkout"); strings.Contains(card, "releaseops_exempt_offer") {
		t.Errorf("the scorecard offers exemptions while they are off: %s", card)
	}
	if all := e.only(""); len(all) != 0 {
		t.Errorf("stored = %v", all)
	}
}

// TestConfigWaiversListed: the config's waivers are listed with the requests and keep
// working.
func TestConfigWaiversListed(t *testing.T) {
	e := newExemptEnv(t, func(c *config.Config) {
		c.Scoring.Waivers = []scoring.Waiver{{Service: "checkout", Signal: "alerting_wired", Reason: "pager migration", Author: "platform", Expires: "2026-12-31"}}
	})
	approved := e.only("approved")
	if len(approved) != 1 || approved[0].(map[string]any)["origin"] != "config" || approved[0].(map[string]any)["requested_by"] != "platform" {
		t.Fatalf("approved = %v", approved)
	}
	if s := e.signal("alerting_wired"); !s.Waived {
		t.Errorf("the config waiver stopped counting: %+v", s)
	}
	from := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	soon, err := e.app.Exemptions.ExemptionsExpiring(context.Background(), "team-payments", from, from.Add(48*time.Hour))
	if err != nil || len(soon) != 1 || !soon[0].Config {
		t.Errorf("expiring for team-payments = %+v %v", soon, err)
	}
	if other, _ := e.app.Exemptions.ExemptionsExpiring(context.Background(), "team-search", from, from.Add(48*time.Hour)); len(other) != 0 {
		t.Errorf("expiring for another team = %+v", other)
	}
	// The owner's channel is reminded of a config waiver too, once, three days before.
	ctx := context.Background()
	if err := e.app.Exemptions.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.deliver()
	if calls := e.slack.take(); len(calls) != 0 {
		t.Fatalf("reminded a month early: %+v", calls)
	}
	e.clock.Advance(time.Date(2026, 12, 29, 0, 0, 0, 0, time.UTC).Sub(e.clock.Now()))
	for range 2 {
		if err := e.app.Exemptions.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	e.deliver()
	calls := e.slack.take()
	if len(calls) != 1 || calls[0].Channel != "C0CHECKOUT" {
		t.Fatalf("want one reminder to C0CHECKOUT, got %+v", calls)
	}
	mustContain(t, "the config waiver's reminder", calls[0].Body, "Exemption ends soon", "Written in scoring.waivers by* platform", "pager migration")
}

// TestExemptionLoopUnderItsLease: with the app started, the reminder loop (under its lease)
// queues a reminder once it is due and it is woken.
func TestExemptionLoopUnderItsLease(t *testing.T) {
	e := newExemptEnv(t, nil)
	e.command("U0BOB", "exempt checkout slo_defined 4 vendor outage")
	id := e.only("pending")[0].(map[string]any)["id"].(string)
	mustContain(t, "the approval", e.click("U0ALICE", "releaseops_exempt_approve", id), "Approved")
	e.app.Start()
	e.clock.Advance(24*time.Hour + time.Minute)
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.app.Exemptions.Wake()
		if _, err := e.app.DB.GetOutbox(context.Background(), "exemption:"+id+":reminder"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop queued no reminder")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
