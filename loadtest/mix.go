package loadtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/releaseops/releaseops/integrations/deploy"
	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/integrations/pagerduty"
)

// Secrets are the webhook and Slack secrets the server under test was configured with.
type Secrets struct {
	GitHub, PagerDuty, Deploy, Terraform, Slack string
}

// Mix builds the realistic signed traffic of a bench run for a set of catalogued services:
// deploy events (about BodyBytes each), GitHub deliveries from ../shared/fixtures with fresh
// X-GitHub-Delivery ids, and PagerDuty incident events with fresh event ids.
type Mix struct {
	Services  []string
	Secrets   Secrets
	BodyBytes int
	// RunID makes delivery ids unique across runs against one database.
	RunID string

	deploys [][]deployTemplate // per service
	github  []signedBody
	pd      [][]byte // incident templates with pdIDMark and pdServiceMark to replace
	seq     atomic.Int64
}

type signedBody struct {
	event, sig string
	body       []byte
}

// Fixture events left out of the mix: a deployment protection rule would make the gate call
// GitHub's API, and this benchmark talks to nothing but loopback.
var skipFixtures = map[string]bool{"deployment_protection_rule": true, "deployment_review": true}

const (
	pdIDMark      = "@@EVENT_ID@@"
	pdServiceMark = "@@SERVICE_ID@@"
)

// ServiceName is the catalog name of bench service i; its repository is bench/<name> and its
// PagerDuty service id PagerDutyID(i).
func ServiceName(i int) string { return fmt.Sprintf("svc-%03d", i) }

// PagerDutyID is the PagerDuty service id mapped to bench service i.
func PagerDutyID(i int) string { return fmt.Sprintf("PBENCH%03d", i) }

// NewMix loads the fixtures from fixturesDir (may be "" or absent: the mix is then deploy
// events only, and Notes says so) and pre-signs the GitHub bodies, whose dedupe key is a
// header, so that the generator spends its share of the CPU on what must be fresh.
func NewMix(services []string, secrets Secrets, bodyBytes int, fixturesDir, runID string) (*Mix, []string, error) {
	m := &Mix{Services: services, Secrets: secrets, BodyBytes: bodyBytes, RunID: runID}
	m.buildDeploys()
	var notes []string
	if fixturesDir == "" {
		return m, []string{"no fixtures directory: the mix is deploy events only"}, nil
	}
	files, _ := filepath.Glob(filepath.Join(fixturesDir, "github", "*.json"))
	sort.Strings(files)
	perFixture := min(len(services), 16)
	for _, f := range files {
		event, _, _ := strings.Cut(filepath.Base(f), ".")
		if skipFixtures[event] {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read fixture %s: %w", f, err)
		}
		for i := 0; i < perFixture; i++ {
			body, err := retarget(raw, "bench/"+services[i], services[i])
			if err != nil {
				return nil, nil, fmt.Errorf("fixture %s: %w", f, err)
			}
			m.github = append(m.github, signedBody{event: event, body: body, sig: github.Sign(secrets.GitHub, body)})
		}
	}
	if len(files) == 0 {
		notes = append(notes, "no GitHub fixtures under "+fixturesDir+": none in the mix")
	}
	pdRaw, err := os.ReadFile(filepath.Join(fixturesDir, "pagerduty", "incident.priority_updated.json"))
	if err == nil {
		m.pd, err = pdTemplates(pdRaw)
		if err != nil {
			return nil, nil, err
		}
	} else {
		notes = append(notes, "no PagerDuty incident fixture: none in the mix")
	}
	return m, notes, nil
}

// retarget points a GitHub payload's repository at repo, so that it maps to a bench service.
func retarget(raw []byte, fullName, name string) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if repo, ok := doc["repository"].(map[string]any); ok {
		repo["full_name"], repo["name"] = fullName, name
	}
	return json.Marshal(doc)
}

// pdTemplates turns the PagerDuty incident fixture into triggered and resolved templates.
func pdTemplates(raw []byte) ([][]byte, error) {
	var doc struct {
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil || doc.Event == nil {
		return nil, fmt.Errorf("decode PagerDuty fixture: not an event envelope")
	}
	data, _ := doc.Event["data"].(map[string]any)
	svc, _ := data["service"].(map[string]any)
	if svc == nil {
		return nil, fmt.Errorf("PagerDuty fixture has no data.service")
	}
	var out [][]byte
	for _, typ := range []string{"incident.triggered", "incident.resolved"} {
		doc.Event["id"] = pdIDMark
		doc.Event["event_type"] = typ
		data["status"] = strings.TrimPrefix(typ, "incident.")
		svc["id"] = pdServiceMark
		b, err := json.Marshal(map[string]any{"event": doc.Event})
		if err != nil {
			return nil, fmt.Errorf("encode PagerDuty template: %w", err)
		}
		out = append(out, b)
	}
	return out, nil
}

// NextID returns a delivery id unique within this process and run.
func (m *Mix) NextID(prefix string) string {
	return m.RunID + "-" + prefix + "-" + strconv.FormatInt(m.seq.Add(1), 36)
}

// Deploy returns a signed deploy event with a fresh id for a random service, to path.
func (m *Mix) Deploy(label, path string, w *Worker) Request {
	ts := m.deploys[w.Rand.IntN(len(m.deploys))]
	t := ts[w.Rand.IntN(len(ts))]
	id := m.fixedID()
	body := make([]byte, len(t.body))
	copy(body, t.body)
	copy(body[t.slot:], id)
	var stamp [stampWidth]byte
	now := time.Now().UTC()
	copy(body[t.started:t.started+stampWidth], now.Add(-deployDuration).AppendFormat(stamp[:0], time.RFC3339))
	copy(body[t.finished:t.finished+stampWidth], now.AppendFormat(stamp[:0], time.RFC3339))
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(deploy.SignatureHeader, deploy.Sign(m.Secrets.Deploy, body))
	h.Set(DeliveryHeader, id)
	return Request{Label: label, Method: http.MethodPost, Path: path, Header: h, Body: body}
}

// HasGitHub and HasPagerDuty say whether the fixtures gave the mix those sources.
func (m *Mix) HasGitHub() bool    { return len(m.github) > 0 }
func (m *Mix) HasPagerDuty() bool { return len(m.pd) > 0 }

// GitHub returns a pre-signed fixture delivery with a fresh X-GitHub-Delivery id.
func (m *Mix) GitHub(w *Worker) Request {
	g := m.github[w.Rand.IntN(len(m.github))]
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-GitHub-Event", g.event)
	h.Set("X-GitHub-Delivery", m.NextID("gh"))
	h.Set(github.SignatureHeader, g.sig)
	return Request{Label: "POST /webhooks/github", Method: http.MethodPost, Path: "/webhooks/github", Header: h, Body: g.body}
}

// PagerDuty returns a signed incident event with a fresh event id for a random service.
func (m *Mix) PagerDuty(w *Worker) Request {
	i := w.Rand.IntN(len(m.Services))
	body := bytes.Replace(m.pd[w.Rand.IntN(len(m.pd))], []byte(pdIDMark), []byte(m.NextID("pd")), 1)
	body = bytes.Replace(body, []byte(pdServiceMark), []byte(PagerDutyID(i)), 1)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(pagerduty.SignatureHeader, pagerduty.Sign(m.Secrets.PagerDuty, body))
	return Request{Label: "POST /webhooks/pagerduty", Method: http.MethodPost, Path: "/webhooks/pagerduty", Header: h, Body: body}
}

// Webhook returns the next request of the realistic mix: about 60% deploy events, 30% GitHub
// deliveries and 10% PagerDuty incidents (less of each when fixtures are missing).
func (m *Mix) Webhook(w *Worker) Request {
	n := w.Rand.IntN(10)
	switch {
	case n < 3 && m.HasGitHub():
		return m.GitHub(w)
	case n == 3 && m.HasPagerDuty():
		return m.PagerDuty(w)
	}
	return m.Deploy("POST /webhooks/deploy", "/webhooks/deploy", w)
}

// ServiceGet reads a random service's scorecard from the API.
func (m *Mix) ServiceGet(token string, w *Worker) Request {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	svc := m.Services[w.Rand.IntN(len(m.Services))]
	return Request{Label: "GET /api/v1/services/{name}", Method: http.MethodGet, Path: "/api/v1/services/" + svc, Header: h}
}

// SlashCommand returns a signed `/readiness <service>` slash command whose delayed answers
// go to responseURL.
func (m *Mix) SlashCommand(responseURL string, w *Worker) Request {
	svc := m.Services[w.Rand.IntN(len(m.Services))]
	form := url.Values{
		"command": {"/readiness"}, "text": {svc}, "user_id": {"U0BENCH"}, "user_name": {"bench"},
		"team_id": {"T0BENCH"}, "channel_id": {"C0BENCH"}, "response_url": {responseURL},
		"trigger_id": {m.NextID("trig")},
	}
	body := []byte(form.Encode())
	h := SlackHeaders(m.Secrets.Slack, body, time.Now())
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	return Request{Label: "POST /slack/commands", Method: http.MethodPost, Path: "/slack/commands", Header: h, Body: body}
}

// SlackHeaders signs body the way Slack does: v0=HMAC-SHA256(secret, "v0:<ts>:<body>").
func SlackHeaders(secret string, body []byte, at time.Time) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", ts)
	h.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	return h
}
