package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/internal/pgtest"
	"github.com/releaseops/releaseops/storage"
)

// handoverBound is how soon after its holder dies the singleton work must run elsewhere: the
// lease TTL (6 s) plus the others' retry (1 s), with room for a busy machine.
const handoverBound = 10 * time.Second

// A click sent to one replica: which approval, who, what, and what the replica answered.
type replicaClick struct {
	id, approval, user, action string
	replica                    int // index of the replica in start order
	status                     int // 0: no answer (the replica died, or the load ended)
}

// killReport is what the test measured around one SIGKILL of the outbox lease holder.
type killReport struct {
	victim   int
	held     []string                 // leases the victim held at the kill
	handover map[string]time.Duration // lease → kill to a new holder in the table
	probe    time.Duration            // kill to the Slack post of an approval asked after it
}

// Three `releaseops serve` on one PostgreSQL schema take deploy events, gate requests and
// simultaneous Approve/Deny clicks on different replicas, while the replica holding the
// outbox lease is SIGKILLed twice (a fresh replica joins after each kill). Every acknowledged
// delivery must be stored, no Slack message posted twice, no approval decided twice, the audit
// chain intact, and the leased work running elsewhere within 10 s of each kill.
func TestReplicasSurviveLeaseHolderKills(t *testing.T) {
	pgURL := pgtest.URL(t)
	began := time.Now()
	bin := binary(t) // before any timing
	built := time.Since(began)
	dir := t.TempDir()
	slack := newReplicaSlack(t)
	t.Setenv("RELEASEOPS_SLACK_BOT_TOKEN", "xoxb-replica-test")
	t.Setenv("RELEASEOPS_SLACK_API_URL", slack.srv.URL+"/")
	t.Setenv("RELEASEOPS_STORAGE_DRIVER", "postgres")
	t.Setenv("RELEASEOPS_STORAGE_POSTGRES_URL", pgURL)
	cfg := writeReplicaConfig(t, dir)

	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	cl := &replicaSet{}
	var all []*proc // every replica started, in order; index = replica number
	var nmu sync.Mutex
	numbers := map[*proc]int{}
	number := func(p *proc) int { // the load reads it while the test starts replicas
		nmu.Lock()
		defer nmu.Unlock()
		return numbers[p]
	}
	startReplica := func() *proc {
		p := start(t, cfg)
		nmu.Lock()
		numbers[p] = len(all)
		all = append(all, p)
		nmu.Unlock()
		cl.add(p)
		return p
	}
	for range 3 {
		startReplica()
	}
	defer func() {
		if t.Failed() {
			for i, p := range all {
				t.Logf("replica %d (pid %d) log, warnings and leases (last 40):\n%s", i, p.cmd.Process.Pid, replicaLogTail(replicaNotable(p.log()), 40))
			}
		}
	}()
	started := time.Since(began)
	// The outbox and rescore leases are taken before the load starts.
	replicaWaitFor(t, 15*time.Second, "every lease held", func() bool {
		h, err := replicaLeaseHolders(ctx, pool)
		return err == nil && h[storage.LeaseOutbox] != "" && h[storage.LeaseRescore] != ""
	})

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	led := &ledger{acked: map[string]string{}, unknown: map[string]bool{}}
	var (
		seq, unanswered, redelivered atomic.Int64
		clickSeq                     atomic.Int64
		cmu                          sync.Mutex
		clicks                       []replicaClick
		asked                        []string // approval ids from gate answers
		reported                     atomic.Int64
	)
	report := func(format string, args ...any) { // the load's failures, the first 10 of them
		if reported.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { // also when the test fails early: no load goroutine outlives it
		stopLoad()
		wg.Wait()
	}()
	// Four senders of signed deploy events, round-robin over the live replicas; one in ten is
	// a redelivery of an acknowledged id, to whichever replica is next.
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g)))
			client := &http.Client{Timeout: 10 * time.Second}
			for n := 0; loadCtx.Err() == nil; n++ {
				p := cl.pick()
				if p == nil {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if n%10 == 9 {
					if ids := led.someAcked(1, r); len(ids) == 1 {
						status, err := do(client, deployRequest(loadCtx, p.base, ids[0], r))
						if err == nil && status != http.StatusOK {
							report("redelivery of acknowledged %s to replica %d answered %d, want 200 (duplicate)", ids[0], number(p), status)
						}
						if err == nil {
							redelivered.Add(1)
						}
						continue
					}
				}
				id := fmt.Sprintf("rep-d-%d", seq.Add(1))
				led.lost("deploy", id) // until a 2xx says otherwise
				status, err := do(client, deployRequest(loadCtx, p.base, id, r))
				switch {
				case err != nil:
					unanswered.Add(1) // killed with the request in flight, or the load ended
					time.Sleep(10 * time.Millisecond)
				case status/100 != 2:
					report("deploy %s to replica %d answered %d", id, number(p), status)
				default:
					led.ack("deploy", id)
				}
			}
		}()
	}
	// Pipelines asking the gate, and for each approval three approvers' clicks sent at the
	// same moment to different replicas.
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 99))
		client := &http.Client{Timeout: 10 * time.Second}
		for i := 0; loadCtx.Err() == nil; i++ {
			p := cl.pick()
			if p == nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			id, err := replicaAskGate(loadCtx, client, p.base, gateServices[i%len(gateServices)], fmt.Sprintf("v1.%d", i))
			if err != nil {
				if loadCtx.Err() == nil && !replicaIsTransport(err) {
					report("gate request to replica %d: %v", number(p), err)
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			cmu.Lock()
			asked = append(asked, id)
			cmu.Unlock()
			live := cl.live()
			if len(live) == 0 {
				continue
			}
			off := r.IntN(len(live))
			who := []struct{ user, action string }{{"U0ALICE", "releaseops_approve"}, {"U0BOB", "releaseops_deny"},
				{[]string{"U0ALICE", "U0BOB"}[r.IntN(2)], []string{"releaseops_approve", "releaseops_deny"}[r.IntN(2)]}}
			go1 := make(chan struct{})
			var cw sync.WaitGroup
			for j := range min(3, len(live)) {
				target := live[(off+j)%len(live)]
				c := replicaClick{id: fmt.Sprintf("%06d", clickSeq.Add(1)), approval: id, user: who[j].user, action: who[j].action, replica: number(target)}
				cw.Add(1)
				go func() {
					defer cw.Done()
					<-go1
					status, err := do(client, replicaClickTo(loadCtx, target.base, slack.srv.URL, c.id, c.approval, c.user, c.action))
					if err == nil {
						c.status = status
						if status != http.StatusOK {
							report("click %s on %s to replica %d answered %d", c.id, c.approval, c.replica, status)
						}
					}
					cmu.Lock()
					clicks = append(clicks, c)
					cmu.Unlock()
				}()
			}
			close(go1)
			cw.Wait()
			time.Sleep(400 * time.Millisecond) // a few approvals a second: busy, not a flood
		}
	}()

	// Kill the outbox lease holder mid-load, twice; a new replica joins after each kill.
	probeClient := &http.Client{Timeout: 10 * time.Second}
	var kills []killReport
	time.Sleep(2 * time.Second)
	for k := range 2 {
		var victim *proc
		var holder string
		replicaWaitFor(t, 15*time.Second, "an outbox lease holder among the live replicas", func() bool {
			h, err := replicaLeaseHolders(ctx, pool)
			if err != nil {
				return false
			}
			holder = h[storage.LeaseOutbox]
			victim = cl.byPid(replicaHolderPid(holder))
			return victim != nil
		})
		h, _ := replicaLeaseHolders(ctx, pool)
		kr := killReport{victim: number(victim), handover: map[string]time.Duration{}}
		for name, hd := range h {
			if hd == holder {
				kr.held = append(kr.held, name)
			}
		}
		sort.Strings(kr.held)
		killed := time.Now()
		victim.kill()
		cl.remove(victim)
		// An approval asked after the kill: its Slack post is outbox work queued after it.
		var probeKey string
		for probeKey == "" && time.Since(killed) < handoverBound {
			id, err := replicaAskGate(ctx, probeClient, cl.pick().base, "probe", fmt.Sprintf("v2.%d", k))
			if err == nil {
				probeKey = "approval:" + id + ":request"
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
		watch := append([]string(nil), kr.held...)
		for _, name := range []string{storage.LeaseOutbox, storage.LeaseRescore} {
			if !slices.Contains(watch, name) {
				watch = append(watch, name)
			}
		}
		deadline := killed.Add(2 * handoverBound) // measure past the bound, to report the figure
		for time.Now().Before(deadline) {
			h, err := replicaLeaseHolders(ctx, pool)
			now := time.Now()
			if err == nil {
				for _, name := range watch {
					if _, ok := kr.handover[name]; !ok && h[name] != "" && h[name] != holder {
						kr.handover[name] = now.Sub(killed)
					}
				}
			}
			if at, ok := slack.postedAt(probeKey); ok && kr.probe == 0 {
				kr.probe = at.Sub(killed)
			}
			if len(kr.handover) == len(watch) && kr.probe > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("kill %d: replica %d (pid %d) held %v; new holders after %v; probe %s posted after %v",
			k+1, kr.victim, victim.cmd.Process.Pid, kr.held, kr.handover, probeKey, kr.probe)
		for _, name := range watch {
			d, ok := kr.handover[name]
			switch {
			case !ok:
				t.Errorf("kill %d: no replica took the %s lease within %v", k+1, name, 2*handoverBound)
			case d >= handoverBound && slices.Contains(kr.held, name):
				t.Errorf("kill %d: the %s lease moved %v after its holder was killed, want < %v", k+1, name, d, handoverBound)
			}
		}
		switch {
		case probeKey == "":
			t.Errorf("kill %d: no live replica answered a gate request within %v", k+1, handoverBound)
		case kr.probe == 0:
			t.Errorf("kill %d: %s, queued after the kill, was not posted within %v", k+1, probeKey, 2*handoverBound)
		case kr.probe >= handoverBound:
			t.Errorf("kill %d: %s, queued after the kill, was posted %v after it, want < %v", k+1, probeKey, kr.probe, handoverBound)
		}
		kills = append(kills, kr)
		startReplica()
		time.Sleep(time.Second)
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()

	// Let the outbox finish what the load queued (release notes, Slack posts, updates, click answers).
	drained := replicaWaitUntil(20*time.Second, func() bool {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')`).Scan(&n)
		return err == nil && n == 0
	})
	if !drained {
		t.Logf("the outbox still had messages waiting 20 s after the load; the oldest per target:\n%s", replicaWaitingOutbox(ctx, pool))
	}
	for _, p := range cl.live() {
		p.kill()
	}
	loaded := time.Since(began)

	replicaCheckDeliveries(t, ctx, pool, led)
	if n := replicaCheckOrder(t, ctx, pool, slack); n == 0 {
		t.Errorf("no queued post reached Slack: the per-channel order was not tested")
	}
	dups, posts := slack.duplicates()
	if len(dups) > 0 {
		t.Errorf("outbox messages posted to Slack more than once: %v", dups)
	}
	if posts == 0 {
		t.Errorf("nothing was posted to Slack: the outbox was not tested")
	}
	decided := replicaCheckApprovals(t, ctx, pool, slack, clicks, asked)
	out, err := replicaAuditVerify(bin, cfg)
	if err != nil {
		t.Errorf("releaseops audit verify: %v\n%s", err, out)
	}
	var outboxStates []string
	if rows, err := pool.Query(ctx, `SELECT state || ' ' || kind || ': ' || count(*) FROM outbox GROUP BY state, kind ORDER BY 1`); err == nil {
		for rows.Next() {
			var s string
			if rows.Scan(&s) == nil {
				outboxStates = append(outboxStates, s)
			}
		}
		rows.Close()
	}
	t.Logf("load: %d deploys acknowledged, %d unanswered (in flight at a kill or at the end), %d redeliveries answered; %d approvals asked, %d clicks, %d decided; %d Slack posts, none twice; outbox %v; %s",
		len(led.acked), unanswered.Load(), redelivered.Load(), len(asked), len(clicks), decided, posts, outboxStates, strings.TrimSpace(out))
	for i, kr := range kills {
		t.Logf("kill %d of replica %d: handover %v, probe post %v", i+1, kr.victim, kr.handover, kr.probe)
	}
	t.Logf("phases: binary built %v, 3 replicas serving %v, load, kills and drain done %v, checks done %v",
		built.Round(time.Millisecond), started.Round(time.Millisecond), loaded.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	var logs strings.Builder
	for _, p := range all {
		logs.WriteString(p.log())
	}
	t.Logf("replica logs: %d in-doubt posts found in Slack instead of sent again, %d leases lost by a live replica, %d retries",
		strings.Count(logs.String(), "in-doubt message was delivered"), strings.Count(logs.String(), `msg="lease lost"`),
		strings.Count(logs.String(), "message will be retried"))
}

// replicaCheckDeliveries fails the test for every acknowledged delivery missing from the table.
func replicaCheckDeliveries(t *testing.T, ctx context.Context, pool *pgxpool.Pool, led *ledger) {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT source || '/' || delivery_id FROM deliveries`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		stored[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for k := range led.acked {
		if !stored[k] {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged delivery %s is not in the deliveries table", k)
			}
		}
	}
	for k := range stored {
		if strings.HasPrefix(k, "deploy/") && !led.unknown[k] {
			t.Errorf("delivery %s is stored but was never sent", k)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged deliveries lost", missing, len(led.acked))
	}
	if len(led.acked) == 0 {
		t.Errorf("no delivery was acknowledged: nothing was tested")
	}
}

// replicaCheckApprovals checks each approval was decided at most once: at most one accepted click in
// the audit log, exactly one for a decided approval and by its decider, the decider one of the
// approvers who clicked it, and at most one click answered with the decision. It returns how
// many approvals were decided.
func replicaCheckApprovals(t *testing.T, ctx context.Context, pool *pgxpool.Pool, slack *replicaSlack, clicks []replicaClick, asked []string) int {
	t.Helper()
	type approval struct{ state, decidedBy string }
	approvals := map[string]approval{}
	rows, err := pool.Query(ctx, `SELECT id, state, decided_by FROM approvals`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var a approval
		if err := rows.Scan(&id, &a.state, &a.decidedBy); err != nil {
			t.Fatal(err)
		}
		approvals[id] = a
	}
	rows.Close()
	type accept struct{ actor, action string }
	accepted := map[string][]accept{}
	rows, err = pool.Query(ctx, `SELECT approval_id, actor, detail FROM audit_log WHERE kind = $1 ORDER BY seq`, gate.AuditClick)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, actor string
		var detail []byte
		if err := rows.Scan(&id, &actor, &detail); err != nil {
			t.Fatal(err)
		}
		var d struct {
			Action   string `json:"action"`
			Accepted bool   `json:"accepted"`
		}
		if err := json.Unmarshal(detail, &d); err != nil {
			t.Fatalf("audit detail of a click on %s: %v", id, err)
		}
		if d.Accepted {
			accepted[id] = append(accepted[id], accept{actor, d.Action})
		}
	}
	rows.Close()
	byApproval := map[string][]replicaClick{}
	for _, c := range clicks {
		byApproval[c.approval] = append(byApproval[c.approval], c)
	}
	for _, id := range asked {
		if _, ok := approvals[id]; !ok {
			t.Errorf("the gate answered approval %s, which is not in the approvals table", id)
		}
	}
	bad := 0
	fail := func(format string, args ...any) {
		if bad++; bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	decided, raced, answered := 0, 0, 0
	for id, a := range approvals {
		acc := accepted[id]
		if len(acc) > 1 {
			fail("approval %s decided by %d accepted clicks: %v", id, len(acc), acc)
		}
		cs := byApproval[id]
		replicas := map[int]bool{}
		for _, c := range cs {
			if c.status == http.StatusOK {
				replicas[c.replica] = true
			}
		}
		if len(replicas) > 1 {
			raced++
		}
		// The clicks whose response_url was told the approval is theirs.
		var won []replicaClick
		for _, c := range cs {
			for _, text := range slack.answersOf(c.id) {
				if strings.HasPrefix(text, "Approved: ") || strings.HasPrefix(text, "Denied: ") {
					won = append(won, c)
					break
				}
			}
		}
		if len(won) > 1 {
			fail("approval %s: %d clicks were answered with the decision: %+v", id, len(won), won)
		}
		switch a.state {
		case gate.StateApproved, gate.StateDenied:
			decided++
			if len(acc) != 1 {
				fail("approval %s is %s by %s but the audit log has %d accepted clicks", id, a.state, a.decidedBy, len(acc))
				continue
			}
			if acc[0].actor != a.decidedBy || acc[0].action != a.state {
				fail("approval %s is %s by %s but the audited click is %s by %s", id, a.state, a.decidedBy, acc[0].action, acc[0].actor)
			}
			clicked := false
			for _, c := range cs {
				if c.user == a.decidedBy && replicaClickState(c.action) == a.state {
					clicked = true
				}
			}
			if !clicked {
				fail("approval %s is %s by %s, which no click sent asked for: %+v", id, a.state, a.decidedBy, cs)
			}
			if len(won) == 1 {
				answered++
				if won[0].user != a.decidedBy || replicaClickState(won[0].action) != a.state {
					fail("approval %s is %s by %s but the click answered with the decision was %s by %s", id, a.state, a.decidedBy, won[0].action, won[0].user)
				}
			}
		default:
			if len(acc) > 0 || len(won) > 0 {
				fail("approval %s is %s, yet %d clicks were accepted and %d answered with a decision", id, a.state, len(acc), len(won))
			}
		}
	}
	if decided == 0 || raced == 0 {
		t.Errorf("%d approvals, %d decided, %d clicked on several replicas at once: nothing was tested", len(approvals), decided, raced)
	}
	t.Logf("%d approvals: %d decided (%d with the winning click's answer delivered), %d clicked on two or three replicas at once; none decided twice",
		len(approvals), decided, answered, raced)
	return decided
}

func replicaClickState(action string) string {
	if action == "releaseops_approve" {
		return gate.StateApproved
	}
	return gate.StateDenied
}

// replicaAskGate asks the gate about a production deploy of service and returns the approval it
// opened.
func replicaAskGate(ctx context.Context, client *http.Client, base, service, version string) (string, error) {
	body, _ := json.Marshal(map[string]string{"service": service, "environment": "production", "version": version, "requested_by": "ci-bot"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/gate", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+gateToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", replicaTransportError{err}
	}
	defer resp.Body.Close()
	var out struct {
		Decision   string  `json:"decision"`
		ApprovalID *string `json:"approval_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode/100 != 2 || out.ApprovalID == nil || *out.ApprovalID == "" {
		return "", fmt.Errorf("status %d, decision %q, approval %v: want an approval", resp.StatusCode, out.Decision, out.ApprovalID)
	}
	return *out.ApprovalID, nil
}

type replicaTransportError struct{ error }

func replicaIsTransport(err error) bool {
	_, ok := err.(replicaTransportError)
	return ok
}

// replicaAuditVerify runs `releaseops audit verify` with the replicas' config and environment.
func replicaAuditVerify(bin, cfg string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "audit", "verify", "--config", cfg)
	cmd.Env = append(os.Environ(), "RELEASEOPS_CONFIG=")
	out, err := cmd.CombinedOutput()
	if err == nil && !strings.Contains(string(out), "audit log OK") {
		err = fmt.Errorf("no \"audit log OK\" in its output")
	}
	return string(out), err
}

func replicaWaitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	if !replicaWaitUntil(d, ok) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

func replicaWaitUntil(d time.Duration, ok func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if ok() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// replicaNotable keeps a replica's log lines worth reading after a failure: errors, warnings and
// lease changes, without the warning every search deploy repeats.
func replicaNotable(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if (strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") || strings.Contains(l, "lease")) &&
			!strings.Contains(l, "release notes not posted") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func replicaLogTail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// replicaWaitingOutbox describes the oldest waiting messages of each target, for a failure message.
func replicaWaitingOutbox(ctx context.Context, pool *pgxpool.Pool) string {
	rows, err := pool.Query(ctx, `SELECT id, key, kind, target, state, attempts, last_error, next_attempt, created_at FROM outbox o
		WHERE state IN ('pending', 'sending') AND id IN (SELECT id FROM outbox WHERE target = o.target AND state IN ('pending', 'sending') ORDER BY id LIMIT 3)
		ORDER BY target, id`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	now := time.Now()
	for rows.Next() {
		var id, attempts, next, created int64
		var key, kind, target, state, lastErr string
		if err := rows.Scan(&id, &key, &kind, &target, &state, &attempts, &lastErr, &next, &created); err != nil {
			return err.Error()
		}
		fmt.Fprintf(&b, "  %d %s %s → %s: %s, %d attempts, due in %v, queued %v ago, last error %q\n", id, kind, key, target, state, attempts,
			time.UnixMilli(next).Sub(now).Round(time.Millisecond), now.Sub(time.UnixMilli(created)).Round(time.Millisecond), lastErr)
	}
	return b.String()
}
