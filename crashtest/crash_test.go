package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/releaseops/releaseops/integrations/github"
	"github.com/releaseops/releaseops/loadtest"
	"github.com/releaseops/releaseops/storage"
)

// iterations is 20 (the figure), 3 with -short, or CRASHTEST_ITERATIONS.
func iterations(t *testing.T) int {
	if v := os.Getenv("CRASHTEST_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CRASHTEST_ITERATIONS=%q: want a positive whole number", v)
		}
		return n
	}
	if testing.Short() {
		return 3
	}
	return 20
}

// ledger is what the senders know: which deliveries were acknowledged with a 2xx, and which
// were sent without an answer (their fate is unknown: stored or not, both are correct).
type ledger struct {
	mu      sync.Mutex
	acked   map[string]string // "source/id" → source
	unknown map[string]bool
	redeliv atomic.Int64 // redeliveries answered 200 duplicate
}

func (l *ledger) ack(source, id string) {
	l.mu.Lock()
	l.acked[source+"/"+id] = source
	l.mu.Unlock()
}

func (l *ledger) lost(source, id string) {
	l.mu.Lock()
	l.unknown[source+"/"+id] = true
	l.mu.Unlock()
}

// someAcked returns up to n acknowledged deploy ids, for redelivery.
func (l *ledger) someAcked(n int, r *rand.Rand) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k, src := range l.acked {
		if src == "deploy" && r.IntN(4) == 0 {
			out = append(out, strings.TrimPrefix(k, "deploy/"))
			if len(out) == n {
				break
			}
		}
	}
	return out
}

func TestCrashLoopsLoseNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	// Slack is on, against a fake: production deploys of checkout make release notes, so the
	// loops also prove the outbox never posts a message twice across kills.
	slackFake := newFakeSlack(t)
	t.Setenv("RELEASEOPS_SLACK_BOT_TOKEN", "xoxb-crash-test")
	t.Setenv("RELEASEOPS_SLACK_API_URL", slackFake.srv.URL+"/")
	cfg := writeConfig(t, dir, "")
	ghBodies := githubFixtures()
	n := iterations(t)
	led := &ledger{acked: map[string]string{}, unknown: map[string]bool{}}
	seed := uint64(time.Now().UnixNano())
	t.Logf("%d iterations, seed %d", n, seed)
	r := rand.New(rand.NewPCG(seed, 1))
	var seq atomic.Int64
	for it := 0; it < n; it++ {
		p := start(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			wg.Add(1)
			seed := r.Uint64()
			go func(g int) {
				defer wg.Done()
				send(ctx, p.base, g, it, seed, &seq, led, ghBodies, t)
			}(g)
		}
		// Kill at a random point of the load: anywhere from just after start to well into it.
		time.Sleep(time.Duration(20+r.IntN(500)) * time.Millisecond)
		p.kill()
		cancel()
		wg.Wait()
	}
	verify(t, cfg, filepath.Join(dir, "releaseops.db"), led)
	dups, posts := slackFake.duplicates()
	if len(dups) > 0 {
		t.Errorf("outbox messages posted to Slack more than once: %v", dups)
	}
	t.Logf("%d Slack posts across the kills, none twice", posts)
}

// send posts signed deliveries until ctx ends or the server dies: mostly fresh deploy events,
// some GitHub deliveries, and redeliveries of ids acknowledged in earlier iterations.
func send(ctx context.Context, base string, g, it int, seed uint64, seq *atomic.Int64, led *ledger, gh []ghFixture, t *testing.T) {
	r := rand.New(rand.NewPCG(seed, uint64(g)))
	client := &http.Client{Timeout: 10 * time.Second}
	var redeliver []string
	if g == 0 && it > 0 {
		redeliver = led.someAcked(10, r)
	}
	for ctx.Err() == nil {
		var req *http.Request
		var source, id string
		switch {
		case len(redeliver) > 0:
			source, id = "deploy", redeliver[0]
			redeliver = redeliver[1:]
			req = deployRequest(ctx, base, id, r)
			status, err := do(client, req)
			if err != nil {
				return
			}
			if status != http.StatusOK {
				t.Errorf("redelivery of acknowledged %s answered %d, want 200 (duplicate)", id, status)
			}
			led.redeliv.Add(1)
			continue
		case len(gh) > 0 && r.IntN(5) == 0:
			f := gh[r.IntN(len(gh))]
			source, id = "github", fmt.Sprintf("crash-gh-%d-%d", it, seq.Add(1))
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/github", strings.NewReader(string(f.body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", f.event)
			req.Header.Set("X-GitHub-Delivery", id)
			req.Header.Set(github.SignatureHeader, github.Sign(ghSecret, f.body))
		default:
			source, id = "deploy", fmt.Sprintf("crash-d-%d-%d", it, seq.Add(1))
			req = deployRequest(ctx, base, id, r)
		}
		led.lost(source, id) // until a 2xx says otherwise
		status, err := do(client, req)
		if err != nil {
			return // the server was killed: this delivery's fate is unknown
		}
		if status/100 != 2 {
			t.Errorf("%s %s answered %d", source, id, status)
			return
		}
		led.ack(source, id)
	}
}

func deployRequest(ctx context.Context, base, id string, r *rand.Rand) *http.Request {
	svc := []string{"checkout", "search"}[r.IntN(2)]
	lr := loadtest.SignedDeploy("deploy", "/webhooks/deploy", deploySecret, id, svc, 1024, r, time.Now())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+lr.Path, strings.NewReader(string(lr.Body)))
	req.Header = lr.Header
	return req
}

func do(client *http.Client, req *http.Request) (int, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

type ghFixture struct {
	event string
	body  []byte
}

// githubFixtures reads a few GitHub payloads from ../shared/fixtures; none when absent (the
// loops then send deploy events only).
func githubFixtures() []ghFixture {
	var out []ghFixture
	for _, name := range []string{"push.branch-with-commit", "pull_request.closed.merged", "workflow_run.completed", "release.published"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "github", name+".json"))
		if err == nil {
			ev, _, _ := strings.Cut(name, ".")
			out = append(out, ghFixture{event: ev, body: b})
		}
	}
	return out
}

// verify restarts the server once more (recovery must work after the last kill), checks a
// sample through the API, then opens the database and checks everything.
func verify(t *testing.T, cfg, dbPath string, led *ledger) {
	t.Helper()
	p := start(t, cfg)
	client := &http.Client{Timeout: 10 * time.Second}
	checked := 0
	for key := range led.acked {
		if checked == 50 {
			break
		}
		checked++
		req, _ := http.NewRequest(http.MethodGet, p.base+"/api/v1/events/"+key, nil)
		req.Header.Set("Authorization", "Bearer "+readToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			DeliveryID string `json:"delivery_id"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&ev)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(key, "/"+ev.DeliveryID) {
			t.Errorf("GET /api/v1/events/%s: %d %q", key, resp.StatusCode, ev.DeliveryID)
		}
	}
	p.kill()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := storage.Open(ctx, dbPath, storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("PRAGMA integrity_check = %q, %v", res, err)
	}
	missing := 0
	for key, src := range led.acked {
		ok, err := db.HasDelivery(ctx, src, strings.TrimPrefix(key, src+"/"))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged delivery %s is not in the database", key)
			}
		}
	}
	var rows, distinct, dupFacts, sentStored int64
	err = db.Writer.Do(ctx, func(tx *storage.Tx) error {
		if err := tx.QueryRow(`SELECT count(*), count(DISTINCT source || '/' || delivery_id) FROM deliveries`).Scan(&rows, &distinct); err != nil {
			return err
		}
		if err := tx.QueryRow(`SELECT count(*) FROM deliveries WHERE source IN ('deploy', 'github')`).Scan(&sentStored); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT count(*) FROM (SELECT 1 FROM facts GROUP BY delivery, kind, data HAVING count(*) > 1)`).Scan(&dupFacts)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != distinct || dupFacts != 0 {
		t.Errorf("stored twice: %d delivery rows for %d distinct deliveries, %d duplicated facts", rows, distinct, dupFacts)
	}
	// led.unknown holds every delivery sent (each is entered before its request).
	if sentStored > int64(len(led.unknown)) {
		t.Errorf("%d webhook deliveries stored, but only %d were sent", sentStored, len(led.unknown))
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged deliveries lost", missing, len(led.acked))
	}
	t.Logf("%d acknowledged deliveries all present, %d unanswered at a kill, %d redeliveries answered 200, integrity ok, no duplicates",
		len(led.acked), len(led.unknown)-countAcked(led), led.redeliv.Load())
}

func countAcked(l *ledger) int {
	n := 0
	for k := range l.unknown {
		if _, ok := l.acked[k]; ok {
			n++
		}
	}
	return n
}
