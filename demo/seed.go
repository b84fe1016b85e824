package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/rescore"
	"github.com/releaseops/releaseops/storage"
)

// Days is how many days of history the demo seeds: more than the 30-day trend window, so the
// trend compares against a day that already had data.
const Days = 45

const seededCursor = "demo_seeded"

// Clock is the demo's switchable clock: simulated days while seeding, real time after.
type Clock struct{ sim atomic.Pointer[time.Time] }

// Now returns the simulated time while seeding, else the wall clock.
func (c *Clock) Now() time.Time {
	if t := c.sim.Load(); t != nil {
		return *t
	}
	return time.Now()
}

func (c *Clock) set(t time.Time) { c.sim.Store(&t) }
func (c *Clock) release()        { c.sim.Store(nil) }

// event is one generated delivery, in the replay-file shape (SPEC §3.6).
type event struct {
	service string
	at      time.Time
	source  string
	headers map[string]string
	body    any
}

// Seed sends the demo's events through the pipeline day by day, rescoring after each simulated
// day so the history and trends are real. It does nothing if this database was seeded before.
// end is the last simulated instant (normally now).
func Seed(ctx context.Context, db *storage.DB, p *ingest.Pipeline, w *rescore.Worker, clock *Clock, end time.Time) (int, error) {
	done, err := db.Cursor(ctx, seededCursor)
	if err != nil {
		return 0, err
	}
	if done > 0 {
		return 0, nil
	}
	events := Generate(end)
	start := end.Add(-Days * 24 * time.Hour).Truncate(24 * time.Hour)
	defer clock.release()
	n, i := 0, 0
	for day := start; !day.After(end); day = day.Add(24 * time.Hour) {
		dayEnd := day.Add(24 * time.Hour)
		if dayEnd.After(end) {
			dayEnd = end
		}
		for ; i < len(events) && events[i].at.Before(dayEnd); i++ {
			clock.set(events[i].at)
			ev := events[i]
			if gd, ok := ev.body.(*releaseops.GateDecision); ok {
				_, err := p.RecordInternal(ctx, ingest.Internal{Type: "gate_decision", Service: ev.service,
					DeliveryID: fmt.Sprintf("demo-gate-%s-%s", ev.service, gd.Version), Body: gd,
					Facts: []releaseops.Fact{{Kind: releaseops.FactGateDecision, At: ev.at, GateDecision: gd}}})
				if err != nil {
					return n, fmt.Errorf("demo gate decision: %w", err)
				}
				n++
				continue
			}
			body, err := json.Marshal(ev.body)
			if err != nil {
				return n, fmt.Errorf("demo event %d: %w", i, err)
			}
			h := http.Header{}
			for k, v := range ev.headers {
				h.Set(k, v)
			}
			if _, err := p.Receive(ctx, ev.source, h, body, false); err != nil {
				return n, fmt.Errorf("demo event %d (%s %v): %w", i, ev.source, ev.headers, err)
			}
			n++
		}
		clock.set(dayEnd)
		for {
			k, err := w.Step(ctx)
			if err != nil {
				return n, err
			}
			if k == 0 {
				break
			}
		}
		if err := w.RescoreAll(ctx); err != nil {
			return n, err
		}
	}
	err = db.Writer.Do(ctx, func(t *storage.Tx) error { return storage.SetCursor(t, seededCursor, int64(n)) })
	return n, err
}

// Generate returns the demo's events for the Days days up to end, in time order. The same
// end gives the same events.
func Generate(end time.Time) []event {
	rng := rand.New(rand.NewPCG(20261123, 7))
	start := end.Add(-Days * 24 * time.Hour).Truncate(24 * time.Hour)
	var out []event
	for _, p := range profiles() {
		g := &gen{p: p, rng: rng, start: start, end: end}
		g.run()
		out = append(out, g.out...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out
}

type gen struct {
	p          profile
	rng        *rand.Rand
	start, end time.Time
	out        []event
	seq        int
}

func (g *gen) id(kind string) string {
	g.seq++
	return fmt.Sprintf("demo-%s-%s-%04d", g.p.svc.Name, kind, g.seq)
}

// prob returns a probability moved by the profile's trend across the window.
func (g *gen) prob(base float64, at time.Time) float64 {
	f := at.Sub(g.start).Hours() / g.end.Sub(g.start).Hours()
	return min(1, max(0, base+g.p.trend*(f-0.5)))
}

func (g *gen) chance(base float64, at time.Time) bool { return g.rng.Float64() < g.prob(base, at) }

// mishap is chance for things that should get rarer as the service improves (failures).
func (g *gen) mishap(base float64, at time.Time) bool {
	f := at.Sub(g.start).Hours() / g.end.Sub(g.start).Hours()
	return g.rng.Float64() < min(1, max(0, base-g.p.trend*(f-0.5)))
}

func (g *gen) run() {
	p := g.p
	if p.reviews > 0 {
		at := g.start.Add(time.Hour)
		if p.protectDay > 0 {
			at = g.start.Add(time.Duration(p.protectDay) * 24 * time.Hour)
		}
		g.protection("created", at, false)
		if p.lapseDay > 0 {
			lapse := g.start.Add(time.Duration(p.lapseDay)*24*time.Hour + 10*time.Hour)
			g.protection("deleted", lapse, true)
			g.push(lapse.Add(20*time.Minute), "fix: hotfix pushed straight to main", "main.go")
			g.protection("created", lapse.Add(time.Hour), false)
		}
	}
	if p.runbookDaysAgo >= 0 {
		g.push(g.end.Add(-time.Duration(p.runbookDaysAgo)*24*time.Hour-3*time.Hour), "docs: refresh the on-call runbook", "docs/runbook.md")
	}
	hours := g.end.Sub(g.start).Hours()
	// Deploys, each preceded by a merged pull request or two.
	nDeploys := int(p.deploysPerWeek * hours / (24 * 7))
	for i := 0; i < nDeploys; i++ {
		at := g.start.Add(time.Duration(g.rng.Float64()*hours) * time.Hour)
		for k := 0; k < 1+g.rng.IntN(2); k++ {
			g.pullRequest(at.Add(-time.Duration(2+g.rng.IntN(30))*time.Hour), at)
		}
		g.deploy(at, i)
	}
	if p.rehearsalRTO > 0 {
		at := g.start.Add(time.Duration(10+g.rng.IntN(10)) * 24 * time.Hour)
		rto := p.rehearsalRTO * (0.9 + 0.2*g.rng.Float64())
		g.add(at, releaseops.SourceDeploy, nil, map[string]any{"id": g.id("rehearsal"), "service": p.svc.Name, "environment": "production",
			"status": "succeeded", "kind": "rehearsal", "rto_seconds": int(rto), "started_at": at.Add(-time.Duration(rto) * time.Second), "finished_at": at})
	}
	nInc := int(p.incidentsPerWeek*hours/(24*7) + 0.5)
	for i := 0; i < nInc; i++ {
		at := g.start.Add(time.Duration(g.rng.Float64()*hours) * time.Hour)
		g.incident(at, time.Duration(p.mttrHours*(0.5+g.rng.Float64())*float64(time.Hour)), i)
	}
	if p.svc.PagerDutyServiceID != "" {
		g.pagerDutyService(g.start.Add(2 * time.Hour))
	}
	if len(p.svc.TerraformWorkspaces) > 0 {
		g.terraform(hours)
	}
}

func (g *gen) add(at time.Time, source string, headers map[string]string, body any) {
	if at.After(g.end) || at.Before(g.start) {
		return
	}
	g.out = append(g.out, event{service: g.p.svc.Name, at: at, source: source, headers: headers, body: body})
}

func (g *gen) repo() map[string]any {
	org := "acme"
	return map[string]any{"id": 1000 + len(g.p.svc.Name), "name": g.p.svc.Name, "full_name": g.p.svc.Repo, "default_branch": g.p.svc.DefaultBranch,
		"owner": map[string]any{"login": org}, "html_url": "https://github.com/" + g.p.svc.Repo}
}

func (g *gen) github(at time.Time, event string, body map[string]any) {
	body["repository"] = g.repo()
	g.add(at, releaseops.SourceGitHub, map[string]string{"X-GitHub-Event": event, "X-GitHub-Delivery": g.id(event)}, body)
}

func level(on bool) string {
	if on {
		return "everyone"
	}
	return "off"
}

func (g *gen) protection(action string, at time.Time, deleted bool) {
	p := g.p
	checks := []string{"ci"}
	if p.planChecks {
		checks = append(checks, "terraform plan")
	}
	g.github(at, "branch_protection_rule", map[string]any{"action": action, "rule": map[string]any{
		"id": 4000 + len(p.svc.Name), "name": p.svc.DefaultBranch, "created_at": at, "updated_at": at,
		"pull_request_reviews_enforcement_level": level(p.reviews > 0 && !deleted), "required_approving_review_count": p.reviews,
		"require_code_owner_review": p.codeOwners, "dismiss_stale_reviews_on_push": true,
		"signature_requirement_enforcement_level": level(p.signed), "linear_history_requirement_enforcement_level": level(p.linear),
		"admin_enforced": true, "allow_force_pushes_enforcement_level": "off", "allow_deletions_enforcement_level": "off",
		"required_status_checks": checks, "required_status_checks_enforcement_level": "everyone",
	}})
}

func (g *gen) sha() string { return fmt.Sprintf("%040x", g.rng.Uint64()) }

func (g *gen) push(at time.Time, msg, file string) {
	sha := g.sha()
	commit := map[string]any{"id": sha, "message": msg, "timestamp": at, "author": map[string]any{"name": "Dev", "username": "dev"},
		"added": []string{}, "removed": []string{}, "modified": []string{file}}
	g.github(at, "push", map[string]any{"ref": "refs/heads/" + g.p.svc.DefaultBranch, "before": g.sha(), "after": sha,
		"created": false, "deleted": false, "forced": false, "commits": []any{commit}, "head_commit": commit,
		"pusher": map[string]any{"name": "dev"}, "compare": "https://github.com/" + g.p.svc.Repo + "/compare"})
}

var titles = []string{"feat: add retry budget to the client", "fix: handle empty carts", "chore: bump dependencies",
	"feat: expose latency histogram", "fix: close idle connections", "refactor: split the handler", "feat(api): paginate results"}

func (g *gen) pullRequest(mergedAt, deployAt time.Time) {
	if mergedAt.After(deployAt) {
		mergedAt = deployAt.Add(-time.Hour)
	}
	g.seq++
	n := g.seq
	title := titles[g.rng.IntN(len(titles))]
	if g.chance(g.p.approvalShare, mergedAt) {
		g.github(mergedAt.Add(-30*time.Minute), "pull_request_review", map[string]any{"action": "submitted",
			"review":       map[string]any{"id": n, "state": "approved", "user": map[string]any{"login": "reviewer"}, "submitted_at": mergedAt.Add(-30 * time.Minute)},
			"pull_request": map[string]any{"number": n, "title": title}})
	}
	if g.p.planChecks && g.rng.IntN(4) == 0 {
		g.github(mergedAt.Add(-time.Hour), "workflow_run", map[string]any{"action": "completed", "workflow_run": map[string]any{
			"id": 9000 + n, "name": "terraform plan", "head_branch": "feature", "head_sha": g.sha(), "event": "pull_request",
			"status": "completed", "conclusion": "success", "html_url": "https://github.com/" + g.p.svc.Repo + "/actions",
			"pull_requests": []any{map[string]any{"number": n}}, "created_at": mergedAt.Add(-time.Hour), "updated_at": mergedAt.Add(-time.Hour)}})
	}
	g.github(mergedAt, "pull_request", map[string]any{"action": "closed", "number": n, "pull_request": map[string]any{
		"number": n, "title": title, "merged": true, "merged_at": mergedAt, "state": "closed", "merge_commit_sha": g.sha(),
		"user": map[string]any{"login": "dev"}, "merged_by": map[string]any{"login": "lead"}, "base": map[string]any{"ref": g.p.svc.DefaultBranch},
		"html_url": fmt.Sprintf("https://github.com/%s/pull/%d", g.p.svc.Repo, n), "labels": []any{}}})
}

func (g *gen) deploy(at time.Time, i int) {
	p := g.p
	id := fmt.Sprintf("demo-%s-deploy-%03d", p.svc.Name, i)
	strategy, phases := "big_bang", 1
	if g.chance(p.phased, at) {
		strategy, phases = []string{"canary", "blue_green", "rolling"}[g.rng.IntN(3)], 2+g.rng.IntN(3)
	}
	status := "succeeded"
	failed := g.mishap(p.failRate, at)
	if failed {
		status = []string{"failed", "rolled_back"}[g.rng.IntN(2)]
	}
	started := at.Add(-time.Duration(5+g.rng.IntN(20)) * time.Minute)
	version := fmt.Sprintf("v1.%d.%d", i/5, i%5)
	base := map[string]any{"service": p.svc.Name, "environment": "production", "version": version, "commit_sha": g.sha(),
		"strategy": strategy, "phases": phases, "health_checks": g.chance(p.health, at), "feature_flags": g.chance(p.flags, at),
		"snapshot": p.svc.Stateful && g.chance(p.snapshot, at), "actor": "ci-bot", "url": "https://ci.example.com/runs/" + id}
	startEv := clone(base)
	startEv["id"], startEv["status"], startEv["started_at"] = id+"-started", "started", started
	if g.rng.Float64() < 0.9+p.gateShare/10 {
		g.add(started, releaseops.SourceDeploy, nil, startEv)
	}
	fin := clone(base)
	fin["id"], fin["status"], fin["started_at"], fin["finished_at"] = id+"-finished", status, started, at
	g.add(at, releaseops.SourceDeploy, nil, fin)
	if g.chance(p.gateShare, at) {
		// What the gate records when the pipeline asks it before deploying.
		g.add(started.Add(-time.Minute), releaseops.SourceInternal, nil, &releaseops.GateDecision{
			Environment: "production", Version: version, CommitSHA: base["commit_sha"].(string), Decision: "allow", RequestedBy: "ci-bot"})
	}
	if !failed && g.chance(p.notesShare, at) {
		g.github(at.Add(5*time.Minute), "release", map[string]any{"action": "published", "release": map[string]any{
			"id": 7000 + i, "tag_name": version, "name": version, "draft": false, "prerelease": false, "target_commitish": p.svc.DefaultBranch,
			"html_url": "https://github.com/" + p.svc.Repo + "/releases/tag/" + version, "published_at": at.Add(5 * time.Minute), "created_at": at}})
	}
	if failed && g.rng.IntN(2) == 0 {
		g.incident(at.Add(20*time.Minute), time.Duration(p.mttrHours*float64(time.Hour)), 100+i)
	}
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (g *gen) incident(at time.Time, ttr time.Duration, i int) {
	id := fmt.Sprintf("Q%s%03d", upper(g.p.svc.Name), i)
	for _, st := range []struct {
		typ, status string
		at          time.Time
	}{{"incident.triggered", "triggered", at}, {"incident.acknowledged", "acknowledged", at.Add(ttr / 5)}, {"incident.resolved", "resolved", at.Add(ttr)}} {
		g.add(st.at, releaseops.SourcePagerDuty, nil, map[string]any{"event": map[string]any{
			"id": g.id("pd"), "event_type": st.typ, "resource_type": "incident", "occurred_at": st.at,
			"agent": nil, "client": nil, "data": map[string]any{"id": id, "type": "incident", "number": i + 1, "status": st.status,
				"title": "Elevated error rate on " + g.p.svc.Name, "urgency": "high", "html_url": "https://acme.pagerduty.com/incidents/" + id,
				"created_at": at, "service": map[string]any{"id": g.p.svc.PagerDutyServiceID, "type": "service_reference", "summary": g.p.svc.Name},
				"escalation_policy": map[string]any{"id": "PEP" + upper(g.p.svc.Name), "type": "escalation_policy_reference"}}}})
	}
}

func (g *gen) pagerDutyService(at time.Time) {
	g.add(at, releaseops.SourcePagerDuty, nil, map[string]any{"event": map[string]any{
		"id": g.id("pdsvc"), "event_type": "service.updated", "resource_type": "service", "occurred_at": at, "agent": nil, "client": nil,
		"data": map[string]any{"id": g.p.svc.PagerDutyServiceID, "type": "service", "name": g.p.svc.Name, "status": "active",
			"html_url":          "https://acme.pagerduty.com/services/" + g.p.svc.PagerDutyServiceID,
			"escalation_policy": map[string]any{"id": "PEP" + upper(g.p.svc.Name), "type": "escalation_policy_reference"}}}})
}

func (g *gen) terraform(hours float64) {
	p := g.p
	org, ws := "acme", p.svc.Name+"-prod"
	// A health assessment every 4 hours; drift now and then, triaged by an apply.
	nDrift := int(p.driftsPerWeek*hours/(24*7) + 0.5)
	driftAt := map[int]bool{}
	for i := 0; i < nDrift; i++ {
		driftAt[int(g.rng.Float64()*hours/4)] = true
	}
	clearAt := -1
	for k := 0; k < int(hours/4); k++ {
		at := g.start.Add(time.Duration(k*4)*time.Hour + 17*time.Minute)
		drifted := driftAt[k] || (clearAt > k)
		trigger := "assessment:check_failure"
		if drifted {
			trigger = "assessment:drifted"
			if driftAt[k] {
				clearAt = k + max(1, int(p.triageHours/4))
				g.tfRun(at.Add(time.Duration(p.triageHours*float64(time.Hour))), org, ws, k)
			}
		} else if k%6 != 0 {
			continue // only report healthy assessments once a day
		}
		drifts := 0
		if drifted {
			drifts = 1 + g.rng.IntN(3)
		}
		g.add(at, releaseops.SourceTerraform, nil, map[string]any{"payload_version": "2", "notification_configuration_id": "nc-demo",
			"trigger_scope": "assessment", "trigger": trigger, "message": "Health assessment",
			"details": map[string]any{"new_assessment_result": map[string]any{"id": g.id("asmt"), "url": "https://app.terraform.io/api/v2/assessment-results/x",
				"succeeded": true, "drifted": drifted, "all_checks_succeeded": true, "resources_drifted": drifts, "resources_undrifted": 40,
				"checks_passed": 5, "checks_failed": 0, "checks_errored": 0, "checks_unknown": 0, "created_at": at},
				"prior_assessment_result": nil, "workspace_id": "ws-" + upper(ws), "workspace_name": ws, "organization_name": org}})
	}
}

func (g *gen) tfRun(at time.Time, org, ws string, k int) {
	runID := fmt.Sprintf("run-%s-%03d", upper(ws), k)
	for i, st := range []struct{ trigger, status string }{{"run:needs_attention", "planned"}, {"run:applying", "applying"}, {"run:completed", "applied"}} {
		t := at.Add(time.Duration(i*5) * time.Minute)
		g.add(t, releaseops.SourceTerraform, nil, map[string]any{"payload_version": 1, "notification_configuration_id": "nc-demo",
			"run_url": "https://app.terraform.io/app/" + org + "/" + ws + "/runs/" + runID, "run_id": runID, "run_message": "Reconcile drift",
			"run_created_at": at, "run_created_by": "ops", "workspace_id": "ws-" + upper(ws), "workspace_name": ws, "organization_name": org,
			"notifications": []any{map[string]any{"message": st.status, "trigger": st.trigger, "run_status": st.status, "run_updated_at": t, "run_updated_by": "ops"}}})
	}
}
