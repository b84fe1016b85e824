package scoring

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// Release auditability.

func evalStartFinish(x *facts, p Params) result {
	prod := x.prodDeploys(p)
	ds := make([]*deployRec, 0, len(prod))
	for _, d := range prod {
		if !d.finished() && x.now.Sub(d.start) < p.Within {
			continue // still in progress
		}
		ds = append(ds, d)
	}
	return x.shareOf(p, ds, func(d *deployRec) bool { return d.started != nil && d.final != nil },
		"arrived with both a started and a final event",
		fmt.Sprintf("send status: started when a deploy begins and its final status when it ends (deploys started over %s ago without a final event count as missing)", span(p.Within)))
}

func evalGateRecorded(x *facts, p Params) result {
	byVersion := map[string]bool{}
	byCommit := map[string][]string{} // first 7 characters → full (or short) SHAs
	var times []time.Time             // sorted, as facts are
	for _, f := range x.of(releaseops.FactGateDecision) {
		g := f.GateDecision
		if !isProduction(g.Environment) {
			continue
		}
		if g.Version != "" {
			byVersion[g.Version] = true
		}
		if c := strings.ToLower(g.CommitSHA); len(c) >= 7 {
			byCommit[c[:7]] = append(byCommit[c[:7]], c)
		}
		times = append(times, f.At)
	}
	return x.shareOf(p, x.prodDeploys(p), func(d *deployRec) bool {
		if d.version != "" && byVersion[d.version] {
			return true
		}
		if c := d.commit; len(byCommit) > 0 && len(c) >= 7 {
			c = strings.ToLower(c)
			for _, g := range byCommit[c[:7]] {
				if strings.HasPrefix(c, g) || strings.HasPrefix(g, c) {
					return true
				}
			}
		}
		// A decision within the tolerance before the deploy started.
		i, _ := slices.BinarySearchFunc(times, d.start.Add(-p.Within), time.Time.Compare)
		return i < len(times) && !times[i].After(d.start)
	}, "had a recorded gate decision", "call the gate (releaseops gate or POST /api/v1/gate) before every production deploy")
}

func evalCompliance(x *facts, _ Params) result {
	c := x.svc.ComplianceControls
	if len(c) == 0 {
		return result{score: 0, value: 0, reason: "no compliance_controls mapped in the catalog; list the controls the release process satisfies (e.g. SOC2 CC8.1)"}
	}
	return result{score: 1, value: len(c), reason: plural(len(c), "compliance control", "compliance controls") + " mapped: " + quoteList(c, 5)}
}

// Terraform governance.

func isPlanCheck(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "terraform") || strings.Contains(n, "plan")
}

func evalPlanChecks(x *facts, p Params) result {
	v := x.branchGov()
	var required []string
	for _, c := range v.current.checks {
		if isPlanCheck(c) {
			required = append(required, c)
		}
	}
	var runs, pushes []*releaseops.Fact
	for _, f := range x.of(releaseops.FactCIRun) {
		r := f.CIRun
		if isPlanCheck(r.Name) && x.repoMatches(r.Repo) && x.since(f.At, p.Window) && (len(r.PRNumbers) > 0 || r.Event == "pull_request" || r.Event == "pull_request_target") {
			runs = append(runs, f)
		}
	}
	for _, f := range x.of(releaseops.FactPush) {
		if f.Push.TouchesTerraform && x.repoMatches(f.Push.Repo) && x.since(f.At, p.Window) {
			pushes = append(pushes, f)
		}
	}
	runs, pushes = newest(runs), newest(pushes) // only the latest are cited
	switch {
	case len(required) > 0:
		claim := fmt.Sprintf("%s requires the plan check %s before a merge", v.name, quoteList(required, 3))
		r := result{score: 1, value: "required", evidence: evidenceOf(append(v.current.evidence(), runs...)...), reason: claim + v.apiNote(v.current.synced())}
		if tail := x.staleGov(v); tail != "" {
			return staleResult(claim, tail, r)
		}
		return r
	case len(runs) > 0:
		return result{score: 0.5, value: "runs", evidence: evidenceOf(runs...),
			reason: fmt.Sprintf("%s ran on pull requests in %s, but no plan check is a required status check on %s; make it required", plural(len(runs), "terraform plan check", "terraform plan checks"), span(p.Window), v.name)}
	case len(pushes) > 0:
		return result{score: 0, value: "none", evidence: evidenceOf(pushes...),
			reason: fmt.Sprintf("%s touched Terraform in %s with no terraform plan check on pull requests; run plan on every PR and require it", plural(len(pushes), "push", "pushes"), span(p.Window))}
	}
	return noData(fmt.Sprintf("no Terraform change and no terraform plan check seen in the last %s", span(p.Window)))
}

func evalAssessmentRecent(x *facts, p Params) result {
	if off := x.assessmentsOff(); len(off) > 0 {
		names := make([]string, len(off))
		for i, f := range off {
			names[i] = f.Workspace.Organization + "/" + f.Workspace.Workspace
		}
		what := "workspace " + names[0]
		if len(names) > 1 {
			what = "workspaces " + strings.Join(names[:min(len(names), maxEvidence)], ", ")
			if len(names) > maxEvidence {
				what += fmt.Sprintf(" and %d more", len(names)-maxEvidence)
			}
		}
		return result{score: 0, value: "off", evidence: evidenceOf(off...),
			reason: fmt.Sprintf("enable health assessments for %s: they are off%s", what, apiNote(off[len(off)-1]))}
	}
	as := x.of(releaseops.FactAssessment)
	if len(as) == 0 {
		if ws := x.of(releaseops.FactTerraformWorkspace); len(ws) > 0 {
			w := ws[len(ws)-1]
			return noData(fmt.Sprintf("no health assessment has completed yet for workspace %s/%s (health assessments are on%s)",
				w.Workspace.Organization, w.Workspace.Workspace, apiAside(w)))
		}
		return noData("no health assessment received; enable drift detection (health assessments) on the service's workspaces and their notifications")
	}
	last := as[len(as)-1]
	a := x.now.Sub(last.At)
	r := result{score: gradeAge(a, p.Within), value: metric(a.Hours()), evidence: evidenceOf(last)}
	if a <= p.Within {
		r.reason = fmt.Sprintf("last health assessment %s ago (workspace %s); the target is every %s", age(a), last.Assessment.Workspace, span(p.Within))
	} else {
		r.reason = fmt.Sprintf("last health assessment %s ago (workspace %s), older than %s; check that assessments still run (credit reaches 0 at %s)", age(a), last.Assessment.Workspace, span(p.Within), span(2*p.Within))
	}
	return r
}

// wsKey names a workspace the same way in notifications and API reads.
func wsKey(org, ws string) string { return lowerASCII(org + "/" + ws) }

// assessmentsOff returns, by workspace, the latest read of each workspace that says health
// assessments are off, unless an assessment of it came after the read (an organisation can
// enforce assessments over the workspace's own setting).
func (x *facts) assessmentsOff() []*releaseops.Fact {
	latest := map[string]*releaseops.Fact{}
	var keys []string
	for _, f := range x.of(releaseops.FactTerraformWorkspace) {
		k := wsKey(f.Workspace.Organization, f.Workspace.Workspace)
		if latest[k] == nil {
			keys = append(keys, k)
		}
		latest[k] = f
	}
	if len(keys) == 0 {
		return nil
	}
	assessed := map[string]time.Time{}
	for _, f := range x.of(releaseops.FactAssessment) {
		assessed[wsKey(f.Assessment.Organization, f.Assessment.Workspace)] = f.At // oldest first: the last is the latest
	}
	slices.Sort(keys)
	var off []*releaseops.Fact
	for _, k := range keys {
		if f := latest[k]; !f.Workspace.AssessmentsEnabled && !assessed[k].After(f.At) {
			off = append(off, f)
		}
	}
	return off
}

// noAssessment says why no drift can be judged: assessments off in the latest read of a
// workspace, or none received.
func (x *facts) noAssessment(why string) string {
	if why != "" {
		why = " " + why
	}
	if off := x.assessmentsOff(); len(off) > 0 {
		w := off[0].Workspace
		return fmt.Sprintf("health assessments are off for workspace %s/%s%s; enable them%s", w.Organization, w.Workspace, apiNote(off[0]), why)
	}
	return "no health assessment received; enable drift detection on the service's workspaces" + why
}

// runApplied reports whether a run status means its apply started.
func runApplied(status string) bool {
	switch strings.ToLower(status) {
	case "applied", "applying", "post_apply_running", "post_apply_completed":
		return true
	}
	return false
}

func evalNoUnapprovedDestroy(x *facts, p Params) result {
	type run struct {
		destroy, waited, applied, auto bool
		last                           *releaseops.Fact
	}
	runs := map[string]*run{}
	var order []string
	for _, f := range x.of(releaseops.FactTerraformRun) {
		if !x.since(f.At, p.Window) {
			continue
		}
		t := f.TerraformRun
		r := runs[t.RunID]
		if r == nil {
			r = &run{}
			runs[t.RunID] = r
			order = append(order, t.RunID)
		}
		r.last = f
		r.destroy = r.destroy || t.IsDestroy
		applied := t.Trigger == "run:applying" || runApplied(t.Status)
		switch {
		case t.Trigger == "run:needs_attention":
			r.waited = true
		case applied:
			r.applied = true
		}
		// A read of the run says what notifications cannot: nobody confirmed an auto-applied
		// run, and one without auto-apply could only apply once someone confirmed it.
		if applied && (t.Trigger == "sync" || f.Evidence.Synced()) {
			if t.AutoApplied {
				r.auto = true
			} else {
				r.waited = true
			}
		}
	}
	if len(order) == 0 {
		if f, read := x.freshWorkspaceRead(); f != nil {
			return result{score: 1, value: 0, evidence: evidenceOf(f), reason: fmt.Sprintf("no Terraform run in the last %s (the workspace's runs were last read from %s at %s)",
				span(p.Window), apiName(f.Evidence.Source), stamp(read))}
		}
		return noData(fmt.Sprintf("no Terraform run notification in the last %s; add a notification configuration for the workspaces", span(p.Window)))
	}
	var destroys int
	var bad []*releaseops.Fact
	var auto []string
	for _, id := range order {
		r := runs[id]
		if !r.destroy || !r.applied {
			continue
		}
		destroys++
		if r.auto || !r.waited {
			bad = append(bad, r.last)
			if r.auto {
				auto = append(auto, id)
			}
		}
	}
	if destroys == 0 {
		return result{score: 1, value: 0, reason: fmt.Sprintf("no destroy applied in the last %s (%s seen)", span(p.Window), plural(len(order), "run", "runs"))}
	}
	share := float64(destroys-len(bad)) / float64(destroys)
	r := result{score: share, value: len(bad)}
	if len(bad) == 0 {
		r.reason = fmt.Sprintf("all %s in %s waited for a confirmation", plural(destroys, "applied destroy", "applied destroys"), span(p.Window))
		return r
	}
	r.evidence = evidenceOf(bad...)
	how := ""
	if len(auto) > 0 {
		how = " (auto-applied: " + quoteList(auto, 3) + ")"
	}
	r.reason = fmt.Sprintf("%d of %s in %s ran without waiting for a confirmation%s; turn off auto-apply for destroys", len(bad), plural(destroys, "applied destroy", "applied destroys"), span(p.Window), how)
	return r
}

// freshWorkspaceRead returns the latest read of one of the service's workspaces whose sync
// succeeded within sync.stale_after, and when that was; nil when there is none. A fresh read
// that found no recent run shows there was none; the silence of notifications shows nothing.
func (x *facts) freshWorkspaceRead() (*releaseops.Fact, time.Time) {
	ws := x.of(releaseops.FactTerraformWorkspace)
	for i := len(ws) - 1; i >= 0; i-- {
		f := ws[i]
		last := readTime(f)
		if c := x.coverage(f.Evidence.Source, f.Workspace.Organization+"/"+f.Workspace.Workspace); c != nil && !c.LastSuccess.IsZero() {
			last = c.LastSuccess
		}
		if !last.Before(x.now.Add(-x.syncStale)) {
			return f, last
		}
	}
	return nil, time.Time{}
}

func evalModuleRollback(x *facts, p Params) result {
	mods := x.svc.TerraformModules
	if len(mods) == 0 {
		return noData("no terraform_modules declared in the catalog; list each module with its rollback_path")
	}
	var missing []string
	for _, m := range mods {
		if strings.TrimSpace(m.RollbackPath) == "" {
			missing = append(missing, m.Name)
		}
	}
	share := float64(len(mods)-len(missing)) / float64(len(mods))
	r := result{score: gradeAtLeast(share, p.Target), value: metric(share)}
	if len(missing) == 0 {
		r.reason = fmt.Sprintf("all %s have a documented rollback path", plural(len(mods), "module", "modules"))
	} else {
		r.reason = fmt.Sprintf("%d of %s lack a rollback_path: %s", len(missing), plural(len(mods), "module", "modules"), quoteList(missing, 3))
	}
	return r
}

// Infrastructure drift.

// drift is one detection of drift in a workspace and its triage, if any.
type drift struct {
	workspace string
	detected  *releaseops.Fact
	triaged   *releaseops.Fact
}

// drifts pairs each drift detection with the first later clean assessment or successful apply
// of the same workspace.
func (x *facts) drifts() (ds []*drift, seen bool) {
	fs := mergeFacts(x.of(releaseops.FactAssessment), x.of(releaseops.FactTerraformRun))
	open := map[string]*drift{}
	for _, f := range fs {
		switch {
		case f.Assessment != nil:
			seen = true
			a := f.Assessment
			ws := wsKey(a.Organization, a.Workspace)
			switch {
			case a.Drifted || a.ResourcesDrifted > 0 || a.Trigger == "assessment:drifted":
				if open[ws] == nil {
					d := &drift{workspace: a.Workspace, detected: f}
					open[ws] = d
					ds = append(ds, d)
				}
			case a.Succeeded && open[ws] != nil:
				open[ws].triaged = f
				delete(open, ws)
			}
		case f.TerraformRun != nil:
			t := f.TerraformRun
			ws := wsKey(t.Organization, t.Workspace)
			if d := open[ws]; d != nil && strings.EqualFold(t.Status, "applied") {
				d.triaged = f
				delete(open, ws)
			}
		}
	}
	return ds, seen
}

func evalDriftTriaged(x *facts, p Params) result {
	ds, seen := x.drifts()
	if !seen {
		return noData(x.noAssessment("so drift can be seen and its triage timed"))
	}
	var credit float64
	var judged, late, pending int
	var ev []*releaseops.Fact
	for _, d := range ds {
		if !x.since(d.detected.At, p.Window) {
			continue
		}
		var took time.Duration
		switch {
		case d.triaged != nil:
			took = d.triaged.At.Sub(d.detected.At)
		case x.now.Sub(d.detected.At) <= p.Within:
			pending++
			continue
		default:
			took = x.now.Sub(d.detected.At)
		}
		judged++
		c := gradeAge(took, p.Within)
		credit += c
		if c < 1 {
			late++
			ev = append(ev, d.detected, d.triaged)
		}
	}
	if judged == 0 {
		if pending > 0 {
			return result{score: 1, value: 0, reason: fmt.Sprintf("%s detected within the last %s, still inside the triage target", plural(pending, "drift", "drifts"), span(p.Within))}
		}
		return result{score: 1, value: 0, reason: fmt.Sprintf("no drift detected in the last %s", span(p.Window))}
	}
	r := result{score: credit / float64(judged), value: late, evidence: evidenceOf(ev...)}
	if late == 0 {
		r.reason = fmt.Sprintf("all %s in %s triaged within %s", plural(judged, "drift", "drifts"), span(p.Window), span(p.Within))
	} else {
		r.reason = fmt.Sprintf("%d of %s in %s not triaged within %s; reconcile drift with an apply or accept it in code promptly", late, plural(judged, "drift", "drifts"), span(p.Window), span(p.Within))
	}
	return r
}

func evalNoOpenDrift(x *facts, p Params) result {
	ds, seen := x.drifts()
	if !seen {
		return noData(x.noAssessment(""))
	}
	var oldest *drift
	var open int
	for _, d := range ds {
		if d.triaged == nil && x.since(d.detected.At, p.Window+2*p.Within) {
			open++
			if oldest == nil {
				oldest = d
			}
		}
	}
	if oldest == nil {
		return result{score: 1, value: 0, reason: "no drift open"}
	}
	a := x.now.Sub(oldest.detected.At)
	r := result{score: gradeAge(a, p.Within), value: open, evidence: evidenceOf(oldest.detected)}
	if a <= p.Within {
		r.reason = fmt.Sprintf("%s open, the oldest (workspace %s) for %s; triage within %s", plural(open, "drift", "drifts"), oldest.workspace, age(a), span(p.Within))
	} else {
		r.reason = fmt.Sprintf("%s open, the oldest (workspace %s) for %s, past the %s target; apply or reconcile it", plural(open, "drift", "drifts"), oldest.workspace, age(a), span(p.Within))
	}
	return r
}

// Release communication.

func evalReleaseNotes(x *facts, p Params) result {
	var ds []*deployRec
	for _, d := range x.prodDeploys(p) {
		if d.succeeded() && x.now.Sub(d.end) >= p.Within {
			ds = append(ds, d)
		}
	}
	refs := map[string]bool{}
	var unref []time.Time // release notes without a ref, sorted
	for _, f := range x.of(releaseops.FactNotification) {
		if n := f.Notification; n.Kind == "release_notes" {
			if n.Ref != "" {
				refs[n.Ref] = true
			} else {
				unref = append(unref, f.At)
			}
		}
	}
	tags := map[string]bool{}
	for _, f := range x.of(releaseops.FactRelease) {
		if r := f.Release; !r.Draft && (r.Action == "published" || r.Action == "released" || r.Action == "created") {
			tags[r.Tag] = true
		}
	}
	return x.shareOf(p, ds, func(d *deployRec) bool {
		if refs[d.key] || d.version != "" && tags[d.version] {
			return true
		}
		for _, f := range d.facts {
			if refs[f.Deploy.ID] {
				return true
			}
		}
		i, _ := slices.BinarySearchFunc(unref, d.end, time.Time.Compare)
		return i < len(unref) && !unref[i].After(d.end.Add(p.Within))
	}, "had release notes", "let ReleaseOps post release notes to the service's channel, or publish a GitHub release for each version")
}

func evalStakeholderChannel(x *facts, p Params) result {
	ch := x.svc.StakeholderChannel
	if ch == "" {
		ch = x.svc.SlackChannel
	}
	var posts []*releaseops.Fact
	for _, f := range x.of(releaseops.FactNotification) {
		if x.since(f.At, p.Window) {
			posts = append(posts, f)
		}
	}
	if ch == "" {
		return result{score: 0, value: false, reason: "no stakeholder_channel or slack_channel in the catalog; name the channel that hears about releases"}
	}
	if len(posts) > 0 {
		return result{score: 1, value: true, evidence: evidenceOf(newest(posts)...),
			reason: fmt.Sprintf("channel %s set; %s delivered in %s", ch, plural(len(posts), "post", "posts"), span(p.Window))}
	}
	for _, d := range x.deploys {
		if d.production() && d.isDeploy() && d.succeeded() && x.since(d.end, p.Window) {
			return result{score: 0.5, value: true,
				reason: fmt.Sprintf("channel %s set, but no post was delivered in %s although production deploys happened; check the Slack token and the bot's membership of the channel", ch, span(p.Window))}
		}
	}
	return result{score: 1, value: true, reason: fmt.Sprintf("channel %s set; nothing to announce in %s", ch, span(p.Window))}
}

func evalStatusPage(x *facts, _ Params) result {
	return declared(x.svc.StatusPageURL != "", "status page linked: "+x.svc.StatusPageURL,
		"no status_page_url in the catalog; link the page customers check during an incident")
}
