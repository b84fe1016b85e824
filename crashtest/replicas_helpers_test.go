package crashtest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// writeReplicaConfig writes the config every replica shares; the storage (driver postgres and
// the URL) comes from the environment. Every gate request needs approval (the thresholds put
// every score in the watch band). The gate load asks about gateServices, each with a channel of
// its own: the outbox delivers a channel's messages in order, one per round, so one channel
// taking every approval would only measure its backlog. probe's channel has nothing but the
// approval the test asks for after each kill, so its post measures the handover alone.
var gateServices = []string{"payments", "billing", "ledger"}

func writeReplicaConfig(t *testing.T, dir string) string {
	t.Helper()
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
log: {level: info, format: text}
github: {webhook_secret: %q}
pagerduty: {webhook_secrets: [%q]}
deploy: {webhook_secret: %q}
terraform: {webhook_secret: %q}
slack: {signing_secret: %q}
api:
  tokens:
    - {name: reader, token: %q, scopes: [read]}
    - {name: ci, token: %q, scopes: [read, gate]}
gate:
  thresholds:
    default: {block_below: 0, approval_below: 100, mature_at: 100}
  on_unknown: needs_approval
services:
  - {name: checkout, repo: acme/checkout, owner: team-payments, slack_channel: C0CHECKOUT, approvers: [U0ALICE, U0BOB], pagerduty_service_id: PCHK123}
  - {name: search, repo: acme/search, owner: team-discovery}
  - {name: payments, repo: acme/payments, owner: team-payments, slack_channel: C0PAYMENTS, approvers: [U0ALICE, U0BOB]}
  - {name: billing, repo: acme/billing, owner: team-payments, slack_channel: C0BILLING, approvers: [U0ALICE, U0BOB]}
  - {name: ledger, repo: acme/ledger, owner: team-payments, slack_channel: C0LEDGER, approvers: [U0ALICE, U0BOB]}
  - {name: probe, repo: acme/probe, owner: team-payments, slack_channel: C0PROBE, approvers: [U0ALICE, U0BOB]}
`, ghSecret, pdSecret, deploySecret, tfSecret, slackSecret, readToken, gateToken)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// replicaSlack is the crash tests' fake Slack (chat.postMessage counted per outbox key,
// conversations.history for the in-doubt recovery) with two additions: when each key was
// first posted, and what each click's response_url received (the fake serves those too, under
// /actions/<click>; slack.api_url's host is an allowed response_url host).
type replicaSlack struct {
	*fakeSlack
	mu        sync.Mutex
	firstPost map[string]time.Time // outbox key → first chat.postMessage
	answers   map[string][]string  // click → texts posted to its response_url
}

func newReplicaSlack(t *testing.T) *replicaSlack {
	s := &replicaSlack{fakeSlack: &fakeSlack{posts: map[string]int{}, byCh: map[string][]map[string]any{}},
		firstPost: map[string]time.Time{}, answers: map[string][]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *replicaSlack) serve(w http.ResponseWriter, r *http.Request) {
	if click, ok := strings.CutPrefix(r.URL.Path, "/actions/"); ok {
		var msg struct {
			Text string `json:"text"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &msg)
		s.mu.Lock()
		s.answers[click] = append(s.answers[click], msg.Text)
		s.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "ok")
		return
	}
	if r.URL.Path == "/chat.postMessage" {
		_ = r.ParseForm() // the fake's ParseForm then finds the form parsed
		var md struct {
			EventPayload map[string]any `json:"event_payload"`
		}
		_ = json.Unmarshal([]byte(r.Form.Get("metadata")), &md)
		key, _ := md.EventPayload["key"].(string)
		s.mu.Lock()
		if _, ok := s.firstPost[key]; !ok {
			s.firstPost[key] = time.Now()
		}
		s.mu.Unlock()
	}
	s.fakeSlack.serve(w, r)
}

func (s *replicaSlack) postedAt(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.firstPost[key]
	return at, ok
}

func (s *replicaSlack) answersOf(click string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.answers[click]...)
}

// replicaSet is the set of live replicas the load is spread over.
type replicaSet struct {
	mu    sync.Mutex
	procs []*proc
	next  int
}

func (c *replicaSet) add(p *proc) {
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
}

func (c *replicaSet) remove(p *proc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, q := range c.procs {
		if q == p {
			c.procs = append(c.procs[:i:i], c.procs[i+1:]...)
			return
		}
	}
}

func (c *replicaSet) live() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*proc(nil), c.procs...)
}

// pick returns the next live replica, round-robin.
func (c *replicaSet) pick() *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.procs) == 0 {
		return nil
	}
	c.next++
	return c.procs[c.next%len(c.procs)]
}

// byPid returns the live replica with that process id.
func (c *replicaSet) byPid(pid int) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.cmd.Process.Pid == pid {
			return p
		}
	}
	return nil
}

// replicaHolderPid is the process id in a lease holder, "host/pid/random".
func replicaHolderPid(holder string) int {
	parts := strings.Split(holder, "/")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}

// replicaLeaseHolders reads the leases table: name → holder, for the rows not yet expired.
func replicaLeaseHolders(ctx context.Context, pool *pgxpool.Pool) (map[string]string, error) {
	rows, err := pool.Query(ctx, `SELECT name, holder FROM leases WHERE expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, holder string
		if err := rows.Scan(&name, &holder); err != nil {
			return nil, err
		}
		out[name] = holder
	}
	return out, rows.Err()
}

// replicaClickTo is a signed block_actions click like clickRequest's, whose response_url is the
// fake Slack's /actions/<click> and whose action_ts is the click's own (the bot keys its answer by
// action_ts, user and approval).
func replicaClickTo(ctx context.Context, base, slackURL, click, approvalID, user, action string) *http.Request {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T1"},
		"channel": map[string]any{"id": "C0GATE"}, "container": map[string]any{"type": "message", "message_ts": "1.2", "channel_id": "C0GATE"},
		"response_url": slackURL + "/actions/" + click, "trigger_id": "t-" + click,
		"actions": []map[string]any{{"action_id": action, "block_id": "approval:" + approvalID, "value": approvalID, "type": "button",
			"action_ts": "1795000000." + click}},
	})
	body := "payload=" + url.QueryEscape(string(payload))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(slackSecret))
	m.Write([]byte("v0:" + ts + ":" + body))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/slack/interactions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(m.Sum(nil)))
	return req
}
