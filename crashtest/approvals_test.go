package crashtest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/storage"
)

// Every gate request needs approval (the thresholds put every score in the watch band), and
// approvers click Approve and Deny while the server is killed: after the loops every approval
// was decided at most once, by one accepted click, and the audit chain holds.
func TestCrashLoopsDecideEachApprovalOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, `gate:
  thresholds:
    default: {block_below: 0, approval_below: 100, mature_at: 100}
  on_unknown: needs_approval
`)
	n := max(3, iterations(t)/2)
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var mu sync.Mutex
	var ids []string
	for it := 0; it < n; it++ {
		p := start(t, cfg)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // pipelines asking the gate
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for i := 0; ctx.Err() == nil; i++ {
				body, _ := json.Marshal(map[string]string{"service": "checkout", "environment": "production",
					"version": fmt.Sprintf("v%d.%d", it, i), "requested_by": "ci-bot"})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/v1/gate", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+gateToken)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return
				}
				var out struct {
					ApprovalID string `json:"approval_id"`
				}
				_ = json.NewDecoder(resp.Body).Decode(&out)
				resp.Body.Close()
				if out.ApprovalID != "" {
					mu.Lock()
					ids = append(ids, out.ApprovalID)
					mu.Unlock()
				}
			}
		}()
		for c := 0; c < 4; c++ { // approvers clicking, several on the same approval
			wg.Add(1)
			seed := r.Uint64()
			go func(c int) {
				defer wg.Done()
				rr := rand.New(rand.NewPCG(seed, uint64(c)))
				client := &http.Client{Timeout: 5 * time.Second}
				for ctx.Err() == nil {
					mu.Lock()
					var id string
					if len(ids) > 0 {
						id = ids[rr.IntN(len(ids))]
					}
					mu.Unlock()
					if id == "" {
						time.Sleep(5 * time.Millisecond)
						continue
					}
					user := []string{"U0ALICE", "U0BOB"}[rr.IntN(2)]
					action := []string{"releaseops_approve", "releaseops_deny"}[rr.IntN(2)]
					resp, err := client.Do(clickRequest(ctx, p.base, id, user, action))
					if err != nil {
						return
					}
					resp.Body.Close()
				}
			}(c)
		}
		time.Sleep(time.Duration(150+r.IntN(400)) * time.Millisecond)
		p.kill()
		cancel()
		wg.Wait()
	}

	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(dir, "releaseops.db"), storage.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if res, err := db.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("integrity_check = %q, %v", res, err)
	}
	var approvals, decided, accepted, twice int
	err = db.Writer.Do(ctx, func(tx *storage.Tx) error {
		if err := tx.QueryRow(`SELECT count(*), count(*) FILTER (WHERE state IN ('approved', 'denied')) FROM approvals`).Scan(&approvals, &decided); err != nil {
			return err
		}
		if err := tx.QueryRow(`SELECT count(*) FROM audit_log WHERE kind = ? AND json_extract(detail, '$.accepted') = 1`, gate.AuditClick).Scan(&accepted); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT count(*) FROM (SELECT approval_id FROM audit_log WHERE kind = ? AND json_extract(detail, '$.accepted') = 1
			GROUP BY approval_id HAVING count(*) > 1)`, gate.AuditClick).Scan(&twice)
	})
	if err != nil {
		t.Fatal(err)
	}
	if twice > 0 {
		t.Fatalf("%d approvals were decided by more than one accepted click", twice)
	}
	if accepted != decided {
		t.Fatalf("%d approvals decided but %d accepted clicks audited: a decision without its click, or a click without its decision", decided, accepted)
	}
	if v, err := gate.Verify(ctx, db); err != nil || !v.OK {
		t.Fatalf("audit chain after the kills: %+v, %v", v, err)
	}
	if approvals == 0 || decided == 0 {
		t.Fatalf("the loops made %d approvals and decided %d: nothing was tested", approvals, decided)
	}
	t.Logf("%d iterations: %d approvals, %d decided, each by exactly one accepted click; audit chain intact", n, approvals, decided)
}

// clickRequest is a signed block_actions payload, as Slack sends for a button.
func clickRequest(ctx context.Context, base, approvalID, user, action string) *http.Request {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user}, "team": map[string]any{"id": "T1"},
		"channel": map[string]any{"id": "C0CHECKOUT"}, "container": map[string]any{"type": "message", "message_ts": "1.2", "channel_id": "C0CHECKOUT"},
		"response_url": "https://hooks.slack.com/actions/1", "trigger_id": "t1",
		"actions": []map[string]any{{"action_id": action, "block_id": "approval:" + approvalID, "value": approvalID, "type": "button",
			"action_ts": strconv.FormatInt(time.Now().UnixNano(), 10)}},
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
