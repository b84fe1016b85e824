package scoring

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// Rollback readiness.

func (x *facts) noDeployData(p Params) result {
	return noData(fmt.Sprintf("no deploy event received in the last %s; report deploys, rollbacks and rehearsals to POST /webhooks/deploy", span(p.Window)))
}

// exercised reports a successful rollback or rehearsal, or a deploy that was rolled back.
func (d *deployRec) exercised() bool {
	switch d.kind {
	case releaseops.KindRollback, releaseops.KindRehearsal:
		return d.succeeded()
	}
	return d.status == releaseops.DeployRolledBack
}

// lastAt is the deploy's latest known time: its end, else its start.
func (d *deployRec) lastAt() time.Time {
	if d.finished() {
		return d.end
	}
	return d.start
}

func evalRollbackExercised(x *facts, p Params) result {
	var last *deployRec
	var seen bool
	for _, d := range x.deploys {
		if !x.since(d.lastAt(), p.Window) {
			continue
		}
		seen = true
		if d.exercised() && (last == nil || !d.end.Before(last.end)) {
			last = d
		}
	}
	if last == nil {
		if !seen {
			return x.noDeployData(p)
		}
		return result{score: 0, value: false,
			reason: fmt.Sprintf("no successful rollback or rollback rehearsal in the last %s; rehearse one and report it with kind: rehearsal and rto_seconds", span(p.Window))}
	}
	what := "rehearsal"
	switch {
	case last.kind == releaseops.KindRollback:
		what = "rollback"
	case last.kind != releaseops.KindRehearsal:
		what = "automatic rollback of a deploy"
	}
	env := last.env
	if env == "" {
		env = "an unnamed environment"
	}
	return result{score: 1, value: true, evidence: evidenceOf(last.final),
		reason: fmt.Sprintf("last successful %s %s in %s (within %s)", what, ago(x.now, last.end), env, span(p.Window))}
}

func evalRTO(x *facts, p Params) result {
	target := p.Target
	source := "default target"
	if x.svc.RTOTargetSeconds > 0 {
		target, source = x.svc.RTOTargetSeconds, "catalog target"
	}
	var last *deployRec
	for _, d := range x.deploys {
		if d.rto == nil || *d.rto < 0 || !d.exercised() {
			continue // only a rollback that worked measures a recovery time
		}
		if x.since(d.lastAt(), p.Window) && (last == nil || !d.lastAt().Before(last.lastAt())) {
			last = d
		}
	}
	if last == nil {
		return noData(fmt.Sprintf("no rollback or rehearsal reported rto_seconds in the last %s; measure the recovery time of a rehearsal and send it", span(p.Window)))
	}
	rto := *last.rto
	score := gradeAtMost(rto, target)
	kind := last.kind
	if kind == "" || kind == releaseops.KindDeploy {
		kind = "rollback"
	}
	r := result{score: score, value: metric(rto), evidence: evidenceOf(last.facts...)}
	at := last.lastAt()
	switch {
	case rto <= target:
		r.reason = fmt.Sprintf("last measured RTO %s s (%s, %s) meets the %s of %s s", num(rto), kind, ago(x.now, at), source, num(target))
	case score > 0:
		r.reason = fmt.Sprintf("last measured RTO %s s (%s, %s) is over the %s of %s s; credit reaches 0 at %s s", num(rto), kind, ago(x.now, at), source, num(target), num(2*target))
	default:
		r.reason = fmt.Sprintf("last measured RTO %s s (%s, %s) is at least twice the %s of %s s", num(rto), kind, ago(x.now, at), source, num(target))
	}
	return r
}

// prodDeploys are the production deploys (kind deploy) that started within the window.
func (x *facts) prodDeploys(p Params) []*deployRec {
	if out, ok := x.prod[p.Window]; ok {
		return out
	}
	var out []*deployRec
	for _, d := range x.deploys {
		if d.production() && d.isDeploy() && x.since(d.start, p.Window) {
			out = append(out, d)
		}
	}
	if x.prod == nil {
		x.prod = map[time.Duration][]*deployRec{}
	}
	x.prod[p.Window] = out
	return out
}

// lastFact is the deploy's latest event, the evidence for it.
func (d *deployRec) lastFact() *releaseops.Fact { return d.facts[len(d.facts)-1] }

// shareOf grades the share of production deploys for which ok holds, with the deploys that
// miss it as evidence.
func (x *facts) shareOf(p Params, ds []*deployRec, ok func(*deployRec) bool, what, fix string) result {
	if len(ds) == 0 {
		return noData(fmt.Sprintf("no production deploy in the last %s", span(p.Window)))
	}
	// Newest first, keeping only as many of each kind as newest would: the evidence is picked
	// from the most recent deploys, and a service may have thousands.
	var good int
	var miss, hit []*releaseops.Fact
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if ok(d) {
			good++
			if len(hit) < 2*maxEvidence {
				hit = append(hit, d.lastFact())
			}
		} else if len(miss) < 2*maxEvidence {
			miss = append(miss, d.lastFact())
		}
	}
	slices.Reverse(hit)
	slices.Reverse(miss)
	share := float64(good) / float64(len(ds))
	r := result{score: gradeAtLeast(share, p.Target), value: metric(share)}
	r.reason = fmt.Sprintf("%d of %s in %s %s (%s); the target is %s", good, plural(len(ds), "production deploy", "production deploys"), span(p.Window), what, pct(share), pct(p.Target))
	// Deploys come oldest first: the most recent ones are the evidence.
	if len(miss) > 0 {
		if r.score < 1 {
			r.reason += "; " + fix
		}
		r.evidence = evidenceOf(newest(miss)...)
	} else {
		r.evidence = evidenceOf(newest(hit)...)
	}
	return r
}

func isTrue(b *bool) bool { return b != nil && *b }

func evalSnapshot(x *facts, p Params) result {
	if !x.svc.Stateful {
		return notApplicable("stateless service (the catalog does not declare stateful: true)")
	}
	return x.shareOf(p, x.prodDeploys(p), func(d *deployRec) bool { return isTrue(d.snapshot) },
		"took a pre-flight snapshot", "take a snapshot before each deploy and send snapshot: true")
}

// Observability.

func evalSLODefined(x *facts, _ Params) result {
	var names []string
	for _, s := range x.svc.SLOs {
		if s.Objective > 0 && s.Objective <= 100 {
			names = append(names, fmt.Sprintf("%s %s", s.Name, num(s.Objective)))
		}
	}
	if len(names) == 0 {
		if len(x.svc.SLOs) > 0 {
			return result{score: 0, value: 0, reason: "SLOs are listed in the catalog but none has an objective between 0 and 100"}
		}
		return result{score: 0, value: 0, reason: "no SLO declared in the catalog; add slos: [{name: availability, objective: 99.9}]"}
	}
	return result{score: 1, value: len(names), reason: plural(len(names), "SLO", "SLOs") + " declared: " + strings.Join(names, ", ")}
}

func evalAlertingWired(x *facts, p Params) result {
	id := x.svc.PagerDutyServiceID
	if id == "" {
		return result{score: 0, value: false, reason: "no pagerduty_service_id in the catalog; map the service to its PagerDuty service"}
	}
	// last is the newest word from PagerDuty; state the newest that says whether the service
	// is enabled (a sync read always does, a service webhook may not).
	var last, state *releaseops.Fact
	for _, f := range x.of(releaseops.FactPagerDutyService) {
		if f.PagerDutyService.ID == "" || f.PagerDutyService.ID == id {
			last = f
			if f.PagerDutyService.Status != "" {
				state = f
			}
		}
	}
	var incident *releaseops.Fact
	for _, f := range x.of(releaseops.FactIncident) {
		if (f.Incident.ServiceID == "" || f.Incident.ServiceID == id) && x.since(f.At, p.Window) {
			incident = f
		}
	}
	if incident != nil && (last == nil || !incident.At.Before(last.At)) {
		last = incident
	}
	// Disabled stands until an incident opened after it says the service pages again.
	if state != nil && strings.EqualFold(state.PagerDutyService.Status, "disabled") && (incident == nil || !incident.At.After(state.At)) {
		return result{score: 0, value: false, evidence: evidenceOf(state),
			reason: fmt.Sprintf("PagerDuty service %s is disabled%s: it opens no incident and pages no one; enable it in PagerDuty or map the service to the PagerDuty service that pages", id, apiNote(state))}
	}
	if last == nil {
		return result{score: 0.5, value: false,
			reason: fmt.Sprintf("PagerDuty service %s is mapped, but no PagerDuty event for it has arrived; subscribe the webhook to it", id)}
	}
	if last.Kind == releaseops.FactPagerDutyService && last.Evidence.Synced() {
		claim := fmt.Sprintf("PagerDuty service %s is mapped and enabled", id)
		r := result{score: 1, value: true, evidence: evidenceOf(last), reason: fmt.Sprintf("%s (%s)", claim, readAt(last))}
		if tail := x.staleRead(last, releaseops.SourcePagerDuty, id, "fix the PagerDuty sync or subscribe the webhook"); tail != "" {
			return staleResult(claim, tail, r)
		}
		return r
	}
	return result{score: 1, value: true, evidence: evidenceOf(last),
		reason: fmt.Sprintf("PagerDuty service %s is mapped and sending events (last %s)", id, ago(x.now, last.At))}
}

func declared(ok bool, yes, no string) result {
	if ok {
		return result{score: 1, value: true, reason: yes}
	}
	return result{score: 0, value: false, reason: no}
}

func evalStructuredLogging(x *facts, _ Params) result {
	return declared(x.svc.StructuredLogging, "structured logging declared in the catalog",
		"structured logging not declared; emit JSON logs and set structured_logging: true")
}

func evalTraceCorrelation(x *facts, _ Params) result {
	return declared(x.svc.TraceCorrelation, "trace correlation declared in the catalog",
		"trace correlation not declared; put trace ids in logs and set trace_correlation: true")
}

// Deployment maturity.

func evalPhased(x *facts, p Params) result {
	return x.shareOf(p, x.prodDeploys(p), (*deployRec).phased,
		"rolled out in phases", "use canary, blue_green, or rolling with phases > 1")
}

func evalHealthChecks(x *facts, p Params) result {
	return x.shareOf(p, x.prodDeploys(p), func(d *deployRec) bool { return isTrue(d.health) },
		"ran health checks", "gate each phase on health checks and send health_checks: true")
}

func evalFeatureFlags(x *facts, p Params) result {
	return x.shareOf(p, x.prodDeploys(p), func(d *deployRec) bool { return isTrue(d.flags) },
		"shipped behind feature flags", "ship risky changes dark behind flags and send feature_flags: true")
}

func evalChangeFailureRate(x *facts, p Params) result {
	c := x.changeFailures(p)
	if c.deploys == 0 {
		return noData(fmt.Sprintf("no finished production deploy in the last %s", span(p.Window)))
	}
	rate := float64(c.failures) / float64(c.deploys)
	r := result{score: gradeAtMost(rate, p.Target), value: metric(rate)}
	r.reason = fmt.Sprintf("%d of %s in %s failed, were rolled back, or were followed by an incident within %s (%s); the target is at most %s",
		c.failures, plural(c.deploys, "production deploy", "production deploys"), span(p.Window), span(p.Within), pct(rate), pct(p.Target))
	if c.failures > 0 {
		r.evidence = evidenceOf(newest(c.evidence)...)
	} else {
		r.evidence = evidenceOf(newest(c.okEvidence)...)
	}
	return r
}

// Operational coordination.

func evalOwner(x *facts, _ Params) result {
	o := strings.TrimSpace(x.svc.Owner)
	if o == "" {
		return result{score: 0, value: "", reason: "no owner in the catalog; name the one team that owns the service"}
	}
	if strings.ContainsAny(o, ",;&") || strings.Contains(o, " and ") {
		return result{score: 0, value: o, reason: fmt.Sprintf("owner %q names several teams; name one owning team", o)}
	}
	return result{score: 1, value: o, reason: "owned by " + o}
}

func evalRunbook(x *facts, p Params) result {
	linked := x.svc.RunbookURL != ""
	var last *releaseops.Fact
	for _, f := range x.of(releaseops.FactPush) {
		if f.Push.TouchesRunbook && !f.Push.Deleted && x.repoMatches(f.Push.Repo) && x.since(f.At, 2*p.Window) {
			last = f
		}
	}
	var fresh float64
	var ageText string
	var value any
	if last != nil {
		a := x.now.Sub(last.At)
		fresh = gradeAge(a, p.Window)
		ageText = age(a)
		value = metric(a.Hours() / 24)
	}
	score := 0.5 * fresh
	if linked {
		score += 0.5
	}
	r := result{score: score, value: value, evidence: evidenceOf(last)}
	link := "runbook linked"
	if !linked {
		link = "no runbook_url in the catalog"
	}
	switch {
	case last == nil:
		r.reason = fmt.Sprintf("%s; no push touching the runbook in the last %s — update it (list its paths in runbook_paths so pushes count)", link, span(2*p.Window))
	case fresh >= 1:
		r.reason = fmt.Sprintf("%s; updated %s ago (within %s)", link, ageText, span(p.Window))
	default:
		r.reason = fmt.Sprintf("%s; last updated %s ago, past %s — review and update it (freshness credit reaches 0 at %s)", link, ageText, span(p.Window), span(2*p.Window))
	}
	return r
}

func evalApprovers(x *facts, p Params) result {
	seen := map[string]bool{}
	for _, a := range x.svc.Approvers {
		if a = strings.TrimSpace(a); a != "" {
			seen[a] = true
		}
	}
	n := len(seen)
	r := result{score: gradeAtLeast(float64(n), p.Target), value: n}
	if float64(n) >= p.Target {
		r.reason = fmt.Sprintf("%s named for watch-band deploys", plural(n, "approver", "approvers"))
	} else {
		r.reason = fmt.Sprintf("%s named; the policy wants %d so that no requester is the only possible approver", plural(n, "approver", "approvers"), int(p.Target))
	}
	return r
}

func evalEscalation(x *facts, p Params) result {
	// The latest sync read of the policy wins over any other fact that carries a depth (the
	// older escalation-depth loop's, a fixture's): a read is the policy as it is now.
	levels, from := 0, ""
	var ev *releaseops.Fact
	synced := false
	for _, f := range x.of(releaseops.FactPagerDutyService) {
		ps := f.PagerDutyService
		if ps.EscalationLevels <= 0 || (x.svc.PagerDutyServiceID != "" && ps.ID != "" && ps.ID != x.svc.PagerDutyServiceID) {
			continue
		}
		isRead := f.Evidence.Synced()
		if isRead || !synced {
			levels, from, ev, synced = ps.EscalationLevels, "synced from PagerDuty"+apiAside(f), f, isRead
		}
	}
	if levels == 0 && x.svc.EscalationLevels > 0 {
		levels, from = x.svc.EscalationLevels, "declared in the catalog"
	}
	if levels == 0 {
		return noData("escalation policy depth unknown: set escalation_levels in the catalog or let ReleaseOps sync the PagerDuty service")
	}
	r := result{score: gradeAtLeast(float64(levels), p.Target), value: levels, evidence: evidenceOf(ev)}
	if synced {
		claim := fmt.Sprintf("escalation policy has %s", plural(levels, "level", "levels"))
		if tail := x.staleRead(ev, releaseops.SourcePagerDuty, x.svc.PagerDutyServiceID, "fix the PagerDuty sync or declare escalation_levels in the catalog"); tail != "" && r.score > 0 {
			return staleResult(claim, tail, r)
		}
	}
	if float64(levels) >= p.Target {
		r.reason = fmt.Sprintf("escalation policy has %s (%s)", plural(levels, "level", "levels"), from)
	} else {
		r.reason = fmt.Sprintf("escalation policy has %s (%s); the policy wants %d so a missed page escalates", plural(levels, "level", "levels"), from, int(p.Target))
	}
	return r
}
