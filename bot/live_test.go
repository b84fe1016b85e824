package bot

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func liveFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "live", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type liveChan struct {
	name             string
	member, archived bool
}

// liveSlack answers the Web API methods CheckLive calls with the recorded answers of
// testdata/live, for the token xoxb-good only.
type liveSlack struct {
	t        testing.TB
	srv      *httptest.Server
	scopes   string
	noRead   bool // conversations.info and .list answer missing_scope
	channels map[string]liveChan

	mu    sync.Mutex
	calls []string
}

func newLiveSlack(t testing.TB) *liveSlack {
	f := &liveSlack{t: t, scopes: "commands,chat:write,chat:write.public,channels:read,groups:read,channels:history,groups:history",
		channels: map[string]liveChan{
			"C0CHECKOUT": {name: "checkout", member: true},
			"C0DEFAULT":  {name: "releaseops", member: true},
			"C0RELEASES": {name: "releases", member: true},
		}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *liveSlack) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	f.mu.Lock()
	f.calls = append(f.calls, method+" "+r.Form.Get("channel"))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-OAuth-Scopes", f.scopes)
	if r.Form.Get("token") != "xoxb-good" {
		w.Write(liveFixture(f.t, "invalid_auth.json"))
		return
	}
	id := r.Form.Get("channel")
	ch, known := f.channels[id]
	switch {
	case method == "auth.test":
		w.Write(liveFixture(f.t, "auth.test.json"))
	case (method == "conversations.info" || method == "conversations.list") && f.noRead:
		w.Write(liveFixture(f.t, "missing_scope.json"))
	case method == "conversations.info" && !known:
		w.Write(liveFixture(f.t, "channel_not_found.json"))
	case method == "conversations.info":
		var v map[string]map[string]any
		_ = json.Unmarshal(liveFixture(f.t, "conversations.info.json"), &v)
		v["channel"]["id"], v["channel"]["name"], v["channel"]["is_member"], v["channel"]["is_archived"] = id, ch.name, ch.member, ch.archived
		b, _ := json.Marshal(v)
		w.Write(b)
	case method == "conversations.history" && !known:
		w.Write(liveFixture(f.t, "channel_not_found.json"))
	case method == "conversations.history" && !ch.member:
		w.Write(liveFixture(f.t, "not_in_channel.json"))
	case method == "conversations.history":
		w.Write(liveFixture(f.t, "conversations.history.json"))
	case method == "conversations.list":
		w.Write(liveFixture(f.t, "conversations.list.json"))
	default:
		w.Write([]byte(`{"ok":false,"error":"unknown_method"}`))
	}
}

func (f *liveSlack) options() LiveOptions {
	return LiveOptions{BotToken: "xoxb-good", APIURL: f.srv.URL + "/api/", SigningSecret: true, Timeout: 5 * time.Second,
		Channels: []LiveChannel{
			{Key: "services[0].slack_channel", Channel: "C0CHECKOUT", Services: []string{"checkout"}},
			{Key: "services[0].stakeholder_channel", Channel: "#releases", Services: []string{"checkout"}},
			{Key: "services[1].stakeholder_channel", Channel: "#Releases", Services: []string{"search"}},
			{Key: "slack.default_channel", Channel: "C0DEFAULT", Services: []string{"search", "ledger"}},
		}}
}

func liveProblems(r LiveResult) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.Key + ": " + p.Message + "\n")
	}
	return b.String()
}

func TestLiveSlackAllGood(t *testing.T) {
	f := newLiveSlack(t)
	r := CheckLive(context.Background(), f.options())
	if len(r.Problems) != 0 {
		t.Fatalf("problems:\n%s", liveProblems(r))
	}
	if r.Who != "@releaseops (U0BOT) in Acme (T0ACME)" || r.Visible != 3 {
		t.Fatalf("who %q visible %d", r.Who, r.Visible)
	}
	if got := strings.Join(r.Details, "|"); got != "bot in 3 of 3 channel(s)|signing secret set" {
		t.Fatalf("details %q", got)
	}
	// Names are resolved with one listing, however many there are.
	lists := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "conversations.list") {
			lists++
		}
	}
	if lists != 1 {
		t.Fatalf("conversations.list called %d times: %v", lists, f.calls)
	}
}

func TestLiveSlackChannelProblems(t *testing.T) {
	f := newLiveSlack(t)
	f.channels["C0CHECKOUT"] = liveChan{name: "checkout"}
	f.channels["C0DEFAULT"] = liveChan{name: "old-releases", member: true, archived: true}
	o := f.options()
	o.Channels = append(o.Channels,
		LiveChannel{Key: "services[2].slack_channel", Channel: "C0PAYMENTS", Services: []string{"payments"}},
		LiveChannel{Key: "services[3].slack_channel", Channel: "#nowhere", Services: []string{"ledger"}},
		LiveChannel{Key: "services[4].slack_channel", Channel: "C0CHECKOUT", Services: []string{"checkout-worker"}},
	)
	o.SigningSecret = false
	r := CheckLive(context.Background(), o)
	got := liveProblems(r)
	for _, want := range []string{
		"services[0].slack_channel: the bot is not in C0CHECKOUT (#checkout), where posts of checkout, checkout-worker go; /invite @releaseops\n",
		"slack.default_channel: channel C0DEFAULT (#old-releases), where posts of search, ledger go, is archived",
		"services[2].slack_channel: channel C0PAYMENTS, where posts of payments go, does not exist or is private without the bot",
		"services[3].slack_channel: channel #nowhere, where posts of ledger go, does not exist",
		"slack.signing_secret: not set: /readiness and the gate's Approve and Deny buttons answer 503",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(r.Problems) != 5 || r.Visible != 1 {
		t.Fatalf("visible %d, problems:\n%s", r.Visible, got)
	}
}

func TestLiveSlackWithoutReadScopes(t *testing.T) {
	f := newLiveSlack(t)
	f.noRead = true
	f.channels["C0CHECKOUT"] = liveChan{name: "checkout"}
	o := f.options()
	o.SigningSecret, o.SocketMode, o.AppToken = false, true, true
	r := CheckLive(context.Background(), o)
	got := liveProblems(r)
	// Ids fall back to conversations.history (channels:history, which docs/slack.md asks
	// for); names cannot be resolved without channels:read.
	for _, want := range []string{
		"services[0].slack_channel: the bot is not in C0CHECKOUT, where posts of checkout go; /invite @releaseops",
		"services[0].stakeholder_channel: cannot check #releases, where posts of checkout, search go: the bot token lacks channels:read",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if len(r.Problems) != 2 || !strings.Contains(strings.Join(r.Details, "|"), "Socket Mode (no signing secret needed)") {
		t.Fatalf("details %q problems:\n%s", r.Details, got)
	}
}

func TestLiveSlackBadTokenAndScopes(t *testing.T) {
	f := newLiveSlack(t)
	o := f.options()
	o.BotToken = "xoxb-revoked"
	r := CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "slack.bot_token: Slack refused the bot token (invalid_auth)") || r.Visible != -1 {
		t.Fatalf("problems:\n%s", got)
	}
	f.scopes = "commands,channels:read"
	r = CheckLive(context.Background(), f.options())
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "slack.bot_token: the bot lacks the chat:write scope") {
		t.Fatalf("problems:\n%s", got)
	}
}

func TestLiveSlackUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	o := LiveOptions{BotToken: "xoxb-good", APIURL: "http://" + addr + "/api/", SigningSecret: true,
		Channels: []LiveChannel{{Key: "slack.default_channel", Channel: "C0DEFAULT"}}}
	r := CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "slack.api_url: cannot reach the Slack Web API at http://"+addr+"/api/") {
		t.Fatalf("problems:\n%s", got)
	}

	// The handler waits for the client to go, or the test to end: a POST whose body is not
	// read never sees the client hang up.
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop)
	o.APIURL, o.Timeout = hang.URL+"/api/", 200*time.Millisecond
	start := time.Now()
	r = CheckLive(context.Background(), o)
	if got := liveProblems(r); len(r.Problems) != 1 || !strings.Contains(got, "no answer within 200ms") || time.Since(start) > 3*time.Second {
		t.Fatalf("after %s:\n%s", time.Since(start), got)
	}
}
