package scoring

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// policy is the protection the default branch gets from every rule that covers it at one
// moment: the strongest setting of each kind across branch protection rules and active
// rulesets.
type policy struct {
	protected   bool
	reviews     int
	codeOwners  bool
	linear      bool
	signed      bool
	noForcePush bool
	checks      []string           // required status checks (branch protection rules only)
	sources     []*releaseops.Fact // the rule states that make up the policy
	// by is, per setting, the rule state that gave it its value (nil while no rule sets it),
	// so a reason can say when that value is an API read.
	by [numSettings]*releaseops.Fact
	// superseded are the webhook observations of the same rules that an API read among the
	// sources replaced: shown beside it, since the two may disagree.
	superseded []*releaseops.Fact
}

// setting names the settings a policy tracks the origin of.
type setting int

const (
	setReviews setting = iota
	setCodeOwners
	setLinear
	setSigned
	numSettings
)

// evidence is every fact behind the policy: its sources and what they superseded.
func (p policy) evidence() []*releaseops.Fact {
	return append(slices.Clip(p.sources), p.superseded...)
}

// synced is the newest API read among the policy's sources, or nil.
func (p policy) synced() *releaseops.Fact {
	var out *releaseops.Fact
	for _, f := range p.sources {
		if f.Evidence.Synced() && (out == nil || factCmp(f, out) > 0) {
			out = f
		}
	}
	return out
}

// weakerThan reports whether p lacks anything q has.
func (p policy) weakerThan(q policy) bool {
	return (q.protected && !p.protected) || p.reviews < q.reviews ||
		(q.codeOwners && !p.codeOwners) || (q.linear && !p.linear) ||
		(q.signed && !p.signed) || (q.noForcePush && !p.noForcePush)
}

// same reports whether p and q protect the branch alike.
func (p policy) same(q policy) bool {
	return !p.weakerThan(q) && !q.weakerThan(p) && slices.Equal(p.checks, q.checks)
}

// weakening names what p lacks compared to q, for reasons.
func (p policy) weakening(q policy) string {
	switch {
	case q.protected && !p.protected:
		return "protection removed"
	case p.reviews < q.reviews:
		return "required reviews lowered from " + strconv.Itoa(q.reviews) + " to " + strconv.Itoa(p.reviews)
	case q.codeOwners && !p.codeOwners:
		return "code-owner review switched off"
	case q.linear && !p.linear:
		return "linear history switched off"
	case q.signed && !p.signed:
		return "signed commits switched off"
	case q.noForcePush && !p.noForcePush:
		return "force pushes allowed"
	}
	return "protection weakened"
}

// lapse is a span during which the default branch's protection was weaker than just before
// it, with the pushes to the default branch that landed meanwhile.
type lapse struct {
	start, end time.Time // end is zero while not restored
	what       string
	opened     *releaseops.Fact
	restored   *releaseops.Fact
	pushes     []*releaseops.Fact
}

// branchView is what the branch governance signals read.
type branchView struct {
	name    string // the default branch
	known   bool   // at least one protection rule, ruleset or repo_state was seen for the repo
	current policy
	lapses  []lapse
	// rest is the newest governance fact when it is an API read (a repo_state): the current
	// state then rests on sync, and is trusted only while the sync is fresh. A re-confirmation
	// that agrees with webhooks newer than its read is passed over: it says they were right, so
	// the state keeps resting on them.
	rest *releaseops.Fact
	// snapshot is the latest repo_state (its re-confirmation, when there is one), nil when none.
	snapshot *releaseops.Fact
	// confirmed maps each re-confirmation placed in the timeline to the read it repeats.
	confirmed map[*releaseops.Fact]*releaseops.Fact
}

type ruleState struct {
	bp *releaseops.BranchProtection
	rs *releaseops.Ruleset
	f  *releaseops.Fact
	// synced marks a rule from a repo_state; branch is the branch it was read for. Sync lists
	// the rulesets that apply to that branch, so they cover it whatever their conditions say.
	synced bool
	branch string
	// was is the latest webhook observation of the same rule before the API read replaced it.
	was *releaseops.Fact
}

func (x *facts) branchGov() *branchView {
	if x.branch != nil {
		return x.branch
	}
	var rules, rulesets, snaps []*releaseops.Fact
	for _, f := range x.of(releaseops.FactBranchProtection) {
		if x.repoMatches(f.BranchProtection.Repo) {
			rules = append(rules, f)
		}
	}
	for _, f := range x.of(releaseops.FactRuleset) {
		if x.repoMatches(f.Ruleset.Repo) {
			rulesets = append(rulesets, f)
		}
	}
	for _, f := range x.of(releaseops.FactRepoState) {
		if x.repoMatches(f.RepoState.Repo) {
			snaps = append(snaps, f)
		}
	}
	hooks := mergeFacts(rules, rulesets)
	reads, confirmed := x.reconfirm(snaps, hooks)
	timeline := mergeFacts(hooks, reads)

	v := &branchView{name: x.defaultBranch(timeline, snaps), known: len(timeline) > 0, confirmed: confirmed}
	if len(reads) > 0 {
		v.snapshot = reads[len(reads)-1]
	}
	t := ruleTable{state: map[string]ruleState{}, listed: map[string]bool{}, read: map[string]bool{}}
	var open *lapse
	var baseline policy
	var newest *releaseops.Fact // the newest fact the state rests on
	for _, f := range timeline {
		var before policy
		if f.RepoState != nil {
			before = t.effective(v.name)
			t.replace(f, v.name)
		} else {
			k, rs := ruleKey(f)
			_, seen := t.state[k]
			t.list(k)
			// A webhook rule that covers the branch is a newer observation than the API
			// read's classic protection: it takes the read's place.
			sk := syncKey(f)
			_, readClassic := t.state[sk]
			readClassic = readClassic && f.BranchProtection != nil && matchBranch(f.BranchProtection.Pattern, v.name)
			if !seen && !readClassic && rs.deleted() && !t.read[repoKey(f)] {
				// A rule first seen being deleted existed before: its last settings ride on
				// the deleted event, so the deletion counts as a weakening. After a read of the
				// repository, the read said what existed.
				t.state[k] = ruleState{bp: rs.bp, rs: rs.rs, f: f}.undeleted()
			}
			before = t.effective(v.name)
			if readClassic {
				delete(t.state, sk)
			}
			t.state[k] = rs
		}
		after := t.effective(v.name)
		// A re-confirmation that finds what webhooks since the read said is no news: the
		// state keeps resting on them, and a sync that fails afterwards does not stale it.
		if confirmed[f] == nil || newest == nil || newest.RepoState != nil || !after.same(before) {
			newest = f
		}
		switch {
		case open == nil && after.weakerThan(before):
			open = &lapse{start: f.At, what: after.weakening(before), opened: f}
			baseline = before
		case open != nil && !after.weakerThan(baseline):
			open.end, open.restored = f.At, f
			v.lapses = append(v.lapses, *open)
			open = nil
		}
	}
	if open != nil {
		v.lapses = append(v.lapses, *open)
	}
	v.current = t.effective(v.name)
	if newest != nil && newest.RepoState != nil {
		v.rest = newest
	}

	if len(v.lapses) > 0 {
		for _, p := range x.of(releaseops.FactPush) {
			if !x.isDefaultBranchPush(p.Push, v.name) {
				continue
			}
			for i := range v.lapses {
				l := &v.lapses[i]
				if !p.At.Before(l.start) && (l.end.IsZero() || p.At.Before(l.end)) {
					l.pushes = append(l.pushes, p)
				}
			}
		}
	}
	x.branch = v
	return v
}

// reconfirm returns the repository reads in time order with, for each repository, its latest
// read placed once more at the coverage's last success when that is later, not after now, and
// a rule or ruleset event (hooks, sorted) came in between. Sync records a repo_state only when
// the read differs from the last one recorded, and commits it with the coverage record, so a
// successful read that recorded nothing saw exactly the latest repo_state again. Without this,
// a webhook between the two reads would stand for ever though the second read contradicted it
// (protection created, then deleted while the deletion event was lost). With no event in
// between, the read is still the newest word and repeating it would change nothing but the
// words; the coverage dates it for staleness anyway. The copy keeps the read's evidence; the
// map leads from each copy to the read it repeats.
func (x *facts) reconfirm(snaps, hooks []*releaseops.Fact) ([]*releaseops.Fact, map[*releaseops.Fact]*releaseops.Fact) {
	latest := map[string]*releaseops.Fact{}
	var repos []string // first-seen order, for a deterministic list of copies
	for _, f := range snaps {
		k := repoKey(f)
		if _, ok := latest[k]; !ok {
			repos = append(repos, k)
		}
		latest[k] = f
	}
	var copies []*releaseops.Fact
	var confirmed map[*releaseops.Fact]*releaseops.Fact
	for _, k := range repos {
		f := latest[k]
		cov := x.readCoverage(f)
		if cov == nil || !cov.LastSuccess.After(f.At) || cov.LastSuccess.After(x.now) {
			continue
		}
		i, _ := slices.BinarySearchFunc(hooks, f, factCmp)
		if i == len(hooks) || hooks[i].At.After(cov.LastSuccess) {
			continue
		}
		c := *f
		c.At = cov.LastSuccess
		if confirmed == nil {
			confirmed = map[*releaseops.Fact]*releaseops.Fact{}
		}
		copies = append(copies, &c)
		confirmed[&c] = f
	}
	if len(copies) == 0 {
		return snaps, nil
	}
	slices.SortFunc(copies, factCmp)
	return mergeFacts(snaps, copies), confirmed
}

// readAt words an API read of the branch as readAt does, adding when a re-confirmation
// confirmed it.
func (v *branchView) readAt(f *releaseops.Fact) string {
	if orig := v.confirmed[f]; orig != nil {
		return readAt(orig) + ", confirmed unchanged at " + stamp(f.At)
	}
	return readAt(f)
}

// apiNote is apiNote with the branch view's words for a read.
func (v *branchView) apiNote(f *releaseops.Fact) string {
	if f == nil || !f.Evidence.Synced() {
		return ""
	}
	return " (" + v.readAt(f) + ")"
}

// apiAside is apiAside with the branch view's words for a read.
func (v *branchView) apiAside(f *releaseops.Fact) string {
	if f == nil || !f.Evidence.Synced() {
		return ""
	}
	return "; " + v.readAt(f)
}

// ruleTable is the state of every rule of the timeline so far.
type ruleTable struct {
	state  map[string]ruleState
	keys   []string // first-listed order, so the policy's sources are deterministic
	listed map[string]bool
	read   map[string]bool // repositories (lowercase) a repo_state was applied for
}

func (t *ruleTable) list(k string) {
	if !t.listed[k] {
		t.listed[k] = true
		t.keys = append(t.keys, k)
	}
}

func (t *ruleTable) effective(branch string) policy { return effective(t.state, t.keys, branch) }

// replace applies a repo_state: the whole truth of the branch at its time, so every rule of
// the repository seen before goes, and the read's classic protection and rulesets stand in.
// Rulesets keep the webhook key, so that a later repository_ruleset event for the id replaces
// them as it would a webhook's.
func (t *ruleTable) replace(f *releaseops.Fact, branch string) {
	st := f.RepoState
	repo := repoKey(f)
	t.read[repo] = true
	bpPrefix, rsPrefix, sk := "bp\x00"+repo+"\x00", "rs\x00"+repo+"\x00", "sync-bp\x00"+repo
	var classicWas *releaseops.Fact
	rsWas := map[string]*releaseops.Fact{}
	for _, k := range t.keys {
		s, ok := t.state[k]
		if !ok {
			continue
		}
		was := s.was
		if !s.synced {
			was = s.f
		}
		switch {
		case k == sk:
			classicWas = later(classicWas, was)
		case strings.HasPrefix(k, bpPrefix):
			if s.bp != nil && matchBranch(s.bp.Pattern, branch) {
				classicWas = later(classicWas, was)
			}
		case strings.HasPrefix(k, rsPrefix):
			rsWas[k] = was
		default:
			continue
		}
		delete(t.state, k)
	}
	read := st.DefaultBranch
	if read == "" {
		read = branch
	}
	if st.Classic != nil {
		bp := *st.Classic
		bp.Repo, bp.Deleted = st.Repo, false
		if bp.Pattern == "" {
			bp.Pattern = read
		}
		t.list(sk)
		t.state[sk] = ruleState{bp: &bp, f: f, synced: true, branch: read, was: classicWas}
	}
	for i := range st.Rulesets {
		rs := st.Rulesets[i]
		if rs.Repo == "" {
			rs.Repo = st.Repo
		}
		k := rsPrefix + strconv.FormatInt(rs.ID, 10)
		t.list(k)
		t.state[k] = ruleState{rs: &rs, f: f, synced: true, branch: read, was: rsWas[k]}
	}
}

// repoKey is the repository a governance fact is about, lowercase as in rule keys.
func repoKey(f *releaseops.Fact) string {
	switch {
	case f.RepoState != nil:
		return strings.ToLower(f.RepoState.Repo)
	case f.BranchProtection != nil:
		return strings.ToLower(f.BranchProtection.Repo)
	case f.Ruleset != nil:
		return strings.ToLower(f.Ruleset.Repo)
	}
	return ""
}

// syncKey is the key of the classic protection an API read found for the fact's repository.
func syncKey(f *releaseops.Fact) string { return "sync-bp\x00" + repoKey(f) }

// later returns the later of two facts in the total order; nil counts as earliest.
func later(a, b *releaseops.Fact) *releaseops.Fact {
	if a == nil || (b != nil && factCmp(b, a) > 0) {
		return b
	}
	return a
}

func (s ruleState) deleted() bool {
	return (s.bp != nil && s.bp.Deleted) || (s.rs != nil && s.rs.Deleted)
}

// undeleted returns the state with the deleted mark cleared: the rule as it stood.
func (s ruleState) undeleted() ruleState {
	if s.bp != nil {
		bp := *s.bp
		bp.Deleted = false
		s.bp = &bp
	}
	if s.rs != nil {
		rs := *s.rs
		rs.Deleted = false
		s.rs = &rs
	}
	return s
}

func ruleKey(f *releaseops.Fact) (string, ruleState) {
	if f.BranchProtection != nil {
		bp := f.BranchProtection
		return "bp\x00" + strings.ToLower(bp.Repo) + "\x00" + bp.Pattern, ruleState{bp: bp, f: f}
	}
	rs := f.Ruleset
	return "rs\x00" + strings.ToLower(rs.Repo) + "\x00" + strconv.FormatInt(rs.ID, 10), ruleState{rs: rs, f: f}
}

// effective merges every live rule that covers the branch.
func effective(state map[string]ruleState, keys []string, branch string) policy {
	var p policy
	decide := func(set setting, on bool, s ruleState) {
		if on && p.by[set] == nil {
			p.by[set] = s.f
		}
	}
	for _, k := range keys {
		s, ok := state[k]
		if !ok || s.deleted() {
			continue
		}
		switch {
		case s.bp != nil:
			bp := s.bp
			if !matchBranch(bp.Pattern, branch) {
				continue
			}
			p.protected = true
			if bp.RequiredApprovingReviews > p.reviews {
				p.reviews, p.by[setReviews] = bp.RequiredApprovingReviews, s.f
			}
			decide(setCodeOwners, bp.RequireCodeOwnerReview, s)
			decide(setLinear, bp.LinearHistory, s)
			decide(setSigned, bp.SignedCommits, s)
			p.codeOwners = p.codeOwners || bp.RequireCodeOwnerReview
			p.linear = p.linear || bp.LinearHistory
			p.signed = p.signed || bp.SignedCommits
			p.noForcePush = p.noForcePush || !bp.AllowForcePushes
			p.checks = append(p.checks, bp.RequiredStatusChecks...)
		case s.rs != nil:
			rs := s.rs
			if !s.covers(branch) {
				continue
			}
			p.protected = true
			if rs.RequiredApprovingReviews > p.reviews {
				p.reviews, p.by[setReviews] = rs.RequiredApprovingReviews, s.f
			}
			decide(setCodeOwners, rs.RequireCodeOwnerReview, s)
			decide(setLinear, rs.LinearHistory, s)
			decide(setSigned, rs.SignedCommits, s)
			p.codeOwners = p.codeOwners || rs.RequireCodeOwnerReview
			p.linear = p.linear || rs.LinearHistory
			p.signed = p.signed || rs.SignedCommits
			p.noForcePush = p.noForcePush || rs.BlocksForcePush
		}
		p.sources = append(p.sources, s.f)
		if s.was != nil {
			p.superseded = append(p.superseded, s.was)
		}
	}
	slices.Sort(p.checks)
	p.checks = slices.Compact(p.checks)
	return p
}

// covers reports whether a ruleset state applies to the branch. The API lists only the active
// rulesets that apply to the branch it was asked about, without their conditions, so a read
// ruleset covers that branch by construction.
func (s ruleState) covers(branch string) bool {
	rs := s.rs
	active := strings.EqualFold(rs.Enforcement, "active") || (s.synced && rs.Enforcement == "")
	if !active || (rs.Target != "" && rs.Target != "branch") {
		return false
	}
	if s.synced && (s.branch == branch || (s.branch == "" && len(rs.Includes) == 0)) {
		return true
	}
	return rulesetCovers(rs.Includes, branch)
}

// defaultBranch is the catalog's default branch; else the one the latest repo_state read;
// else the one the latest default-branch push names; else main, or master when only master is
// covered by a rule.
func (x *facts) defaultBranch(timeline, snaps []*releaseops.Fact) string {
	if b := x.svc.DefaultBranch; b != "" {
		return b
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		if b := snaps[i].RepoState.DefaultBranch; b != "" {
			return b
		}
	}
	pushes := x.of(releaseops.FactPush)
	for i := len(pushes) - 1; i >= 0; i-- {
		p := pushes[i].Push
		if p.DefaultBranch && strings.HasPrefix(p.Ref, "refs/heads/") && x.repoMatches(p.Repo) {
			return strings.TrimPrefix(p.Ref, "refs/heads/")
		}
	}
	covers := func(branch string) bool {
		for _, f := range timeline {
			if bp := f.BranchProtection; bp != nil && matchBranch(bp.Pattern, branch) {
				return true
			}
			if rs := f.Ruleset; rs != nil && rulesetCovers(rs.Includes, branch) {
				return true
			}
		}
		return false
	}
	if !covers("main") && covers("master") {
		return "master"
	}
	return "main"
}

func (x *facts) isDefaultBranchPush(p *releaseops.Push, branch string) bool {
	if p.Deleted || !x.repoMatches(p.Repo) {
		return false
	}
	return p.DefaultBranch || p.Ref == "refs/heads/"+branch
}

// mergeFacts merges two lists sorted by factCmp into one.
func mergeFacts(a, b []*releaseops.Fact) []*releaseops.Fact {
	out := make([]*releaseops.Fact, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if factCmp(a[0], b[0]) <= 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// sortFactsDesc orders facts newest first (for picking evidence).
func sortFactsDesc(fs []*releaseops.Fact) {
	slices.SortStableFunc(fs, func(a, b *releaseops.Fact) int { return cmp.Compare(0, factCmp(a, b)) })
}
