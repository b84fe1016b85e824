package bot

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

const signingSecret = "slack-signing-secret-for-tests"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// post is one message the fake Slack accepted.
type post struct {
	Method   string
	Channel  string
	TS       string
	Text     string
	Blocks   string
	Metadata string
}

// fakeSlack is Slack over HTTP: the Web API under /api/ (a non-empty base path, so a client
// that ignores the configured URL fails loudly) and response_url endpoints under /respond/.
// fail, when set, may answer a request instead (an outage, a rate limit).
type fakeSlack struct {
	t    testing.TB
	srv  *httptest.Server
	mu   sync.Mutex
	n    int
	seen []post // accepted, in order
	fail func(n int, r *http.Request) (status int, header map[string]string, body string, handled bool)
}

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSlack) APIURL() string               { return f.srv.URL + "/api/" }
func (f *fakeSlack) ResponseURL(id string) string { return f.srv.URL + "/respond/" + id }

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n, fail := f.n, f.fail
	f.mu.Unlock()
	if fail != nil {
		if status, h, body, ok := fail(n, r); ok {
			for k, v := range h {
				w.Header().Set(k, v)
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/respond/"):
		b, _ := io.ReadAll(r.Body)
		f.record(post{Method: "response:" + strings.TrimPrefix(r.URL.Path, "/respond/"), Text: string(b)})
		io.WriteString(w, "ok")
	case r.URL.Path == "/api/chat.postMessage", r.URL.Path == "/api/chat.update":
		if err := r.ParseForm(); err != nil {
			f.t.Errorf("fake slack: %v", err)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer xoxb-") && !strings.HasPrefix(r.Form.Get("token"), "xoxb-") {
			io.WriteString(w, `{"ok":false,"error":"not_authed"}`)
			return
		}
		ch := r.Form.Get("channel")
		if ch == "C0GONE" {
			io.WriteString(w, `{"ok":false,"error":"channel_not_found"}`)
			return
		}
		p := post{Method: strings.TrimPrefix(r.URL.Path, "/api/"), Channel: ch, Text: r.Form.Get("text"), Blocks: r.Form.Get("blocks"), Metadata: r.Form.Get("metadata"), TS: r.Form.Get("ts")}
		if p.TS == "" {
			p.TS = fmt.Sprintf("1763633000.%06d", n)
		}
		f.record(p)
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": ch, "ts": p.TS})
	case r.URL.Path == "/api/conversations.history":
		r.ParseForm()
		var msgs []map[string]any
		for _, p := range f.posts("chat.postMessage") {
			if p.Channel != r.Form.Get("channel") {
				continue
			}
			m := map[string]any{"type": "message", "ts": p.TS, "text": p.Text}
			if p.Metadata != "" {
				var md any
				json.Unmarshal([]byte(p.Metadata), &md)
				m["metadata"] = md
			}
			msgs = append(msgs, m)
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "messages": msgs, "has_more": false})
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeSlack) record(p post) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen = append(f.seen, p)
}

// posts returns the accepted requests of one method ("" for all).
func (f *fakeSlack) posts(method string) []post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []post
	for _, p := range f.seen {
		if method == "" || p.Method == method || strings.HasPrefix(p.Method, method) {
			out = append(out, p)
		}
	}
	return out
}

func (f *fakeSlack) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

type harness struct {
	t      testing.TB
	db     *storage.DB
	cat    *catalog.Catalog
	engine *scoring.Engine
	ob     *outbox.Outbox
	pipe   *ingest.Pipeline
	bot    *Bot
	clock  *clock
	slack  *fakeSlack
	echo   *echo.Echo
	log    *strings.Builder
}

type harnessOpts struct {
	noToken bool
	scores  Scores
	notes   NotesSource
	cfg     func(*Config)
	path    string
}

var testServices = []releaseops.Service{
	{Name: "checkout", Repo: "acme/checkout", SlackChannel: "C0CHECKOUT", Approvers: []string{"U0ALICE"}},
	{Name: "checkin", Repo: "acme/checkin", SlackChannel: "C0CHECKIN"},
	{Name: "payments", Repo: "acme/payments"},
	{Name: "gone", SlackChannel: "C0GONE"},
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	path := o.path
	if path == "" {
		path = filepath.Join(t.TempDir(), "bot.db")
	}
	db, err := storage.Open(context.Background(), path, storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	logs := &strings.Builder{}
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	engine, err := scoring.Compile(scoring.DefaultConfig(), config.Default().Gate.Thresholds, testPublicURL)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(testServices)
	ob := &outbox.Outbox{DB: db, Now: clk.Now, Log: log, MaxAttempts: 5, BaseBackoff: time.Second, MaxBackoff: 8 * time.Second, Jitter: func() float64 { return 0 }}
	pipe := &ingest.Pipeline{DB: db, Catalog: cat, Sources: map[string]releaseops.Source{}, Now: clk.Now, Log: log}
	fs := newFakeSlack(t)
	d := Deps{DB: db, Scores: o.scores, Catalog: cat, Engine: engine, Outbox: ob, Pipeline: pipe, Log: log, Now: clk.Now, Notes: o.notes, HTTP: fs.srv.Client()}
	if !o.noToken {
		d.API = NewSlackClient("xoxb-test-token", fs.APIURL(), fs.srv.Client())
	}
	cfg := Config{SigningSecret: signingSecret, BotToken: "xoxb-test-token", APIURL: fs.APIURL(), DefaultChannel: "C0DEFAULT", PublicURL: testPublicURL}
	if o.noToken {
		cfg.BotToken = ""
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	b := New(d, cfg)
	b.RegisterSenders(ob)
	e := echo.New()
	e.HTTPErrorHandler = func(err error, c echo.Context) { // the server's mapping, in short
		code := map[string]int{releaseops.EMALFORMED: 400, releaseops.EUNAUTHORIZED: 401, releaseops.ETOOLARGE: 413, releaseops.EUNAVAILABLE: 503}[releaseops.ErrorCode(err)]
		if he, ok := err.(*echo.HTTPError); ok {
			code = he.Code
		}
		if code == 0 {
			code = 500
		}
		var re *releaseops.Error
		body := map[string]string{"error": err.Error()}
		if errors.As(err, &re) {
			body = map[string]string{"error": re.Message, "detail": re.Detail}
		}
		c.JSON(code, body)
	}
	b.Routes(e)
	return &harness{t: t, db: db, cat: cat, engine: engine, ob: ob, pipe: pipe, bot: b, clock: clk, slack: fs, echo: e, log: logs}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// storeCard saves a scorecard as the rescoring worker would.
func (h *harness) storeCard(card *scoring.Scorecard) {
	h.t.Helper()
	b, err := json.Marshal(card)
	if err != nil {
		h.t.Fatal(err)
	}
	err = h.db.Writer.Do(context.Background(), func(t *storage.Tx) error {
		return storage.PutScore(t, storage.ScoreRow{Service: card.Service, Score: card.Score, Band: card.Band, Level: card.Level, Card: b, UpdatedAt: card.UpdatedAt}, true)
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// deliver runs the outbox until nothing is due, advancing the clock past each backoff, at
// most rounds times.
func (h *harness) deliver(rounds int) {
	h.t.Helper()
	for range rounds {
		n, err := h.ob.DeliverDue(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if n == 0 {
			next, ok, err := h.db.NextOutboxAttempt(context.Background())
			if err != nil {
				h.t.Fatal(err)
			}
			if !ok {
				return
			}
			if d := next.Sub(h.clock.Now()); d > 0 {
				h.clock.Advance(d)
			}
		}
	}
}

func (h *harness) messages(state string) []outbox.Stored {
	h.t.Helper()
	ms, err := h.ob.List(context.Background(), state, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	return ms
}

// signed builds a Slack-signed request, as Slack sends them, at the given wall time.
func signedRequest(method, path, contentType, body string, ts time.Time, secret string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	tss := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", tss, body)
	r.Header.Set("X-Slack-Request-Timestamp", tss)
	r.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return r
}

func commandForm(text, responseURL string) string {
	v := url.Values{"command": {"/readiness"}, "text": {text}, "response_url": {responseURL}, "trigger_id": {"trig-" + text},
		"user_id": {"U0ALICE"}, "channel_id": {"C0CHECKOUT"}, "team_id": {"T0ACME"}}
	return v.Encode()
}

// do serves a request and returns the status and the decoded JSON body.
func (h *harness) do(r *http.Request) (int, map[string]any, string) {
	h.t.Helper()
	w := httptest.NewRecorder()
	h.echo.ServeHTTP(w, r)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out, w.Body.String()
}

func (h *harness) command(text string) (int, map[string]any, string) {
	h.t.Helper()
	return h.do(signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", commandForm(text, h.slack.ResponseURL("cmd")), time.Now(), signingSecret))
}
