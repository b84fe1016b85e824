package scoring

import (
	"cmp"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
)

// facts is the input of one Score call, sorted and grouped once so that every signal reads
// the same deterministic view. Facts later than now are ignored.
type facts struct {
	now time.Time
	svc *releaseops.Service

	all    []*releaseops.Fact           // sorted by factLess
	byKind [numKinds][]*releaseops.Fact // indexed like kinds

	deploys []*deployRec // sorted by start, then key
	prs     []*prRec     // merged PRs, sorted by merge time, then repo and number

	branch    *branchView    // built on first use after x.sync is set: it reads the coverage
	incidents []*incidentRec // built on first use

	// sync is the input's sync coverage, sorted, and syncStale is sync.stale_after: set by
	// every Score call, since neither is part of the fact index.
	sync      []releaseops.SyncCoverage
	syncStale time.Duration

	// prod memoises prodDeploys per window: seven signals ask for the same list.
	prod map[time.Duration][]*deployRec
}

func newFacts(in *Input) *facts {
	x, _, _ := buildIndex(in)
	return x
}

// buildIndex indexes in's facts from scratch. It also returns the deploy builder, for Index
// to extend, and whether a fact was left out for being later than in.Now.
func buildIndex(in *Input) (x *facts, deploys *deployBuilder, skipped bool) {
	x = &facts{now: in.Now, svc: &in.Service}
	n := len(in.Facts)
	// One sequential pass over the input: kind, time key and position of each usable fact.
	kindOf := make([]int8, n)
	keys := make([]uint64, 0, n)
	idx := make([]int32, 0, n)
	var counts [numKinds]int
	for i := range in.Facts {
		f := &in.Facts[i]
		k := kindIndex(f)
		kindOf[i] = int8(k)
		if k < 0 {
			continue
		}
		if f.At.After(in.Now) {
			skipped = true
			continue
		}
		counts[k]++
		keys = append(keys, timeKey(f.At))
		idx = append(idx, int32(i))
	}
	radixSort(keys, idx)
	// Facts at the same instant take the full order.
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(idx[i:j], func(a, b int32) int { return factCmp(&in.Facts[a], &in.Facts[b]) })
		}
		i = j
	}
	x.all = make([]*releaseops.Fact, len(idx))
	// One backing array for every kind, cut to the exact counts.
	backing := make([]*releaseops.Fact, len(idx))
	for k, c := range counts {
		x.byKind[k], backing = backing[:0:c], backing[c:]
	}
	for i, j := range idx {
		f := &in.Facts[j]
		x.all[i] = f
		k := kindOf[j]
		x.byKind[k] = append(x.byKind[k], f)
	}
	deployFacts := x.of(releaseops.FactDeploy)
	deploys = newDeployBuilder(len(deployFacts))
	for _, f := range deployFacts { // in time order
		if r, isNew := deploys.add(f); isNew {
			x.deploys = append(x.deploys, r)
		}
	}
	sortDeploys(x.deploys)
	x.prs = buildPRs(x.of(releaseops.FactPullRequest), x.of(releaseops.FactReview))
	return x, deploys, skipped
}

// timeKey maps a time to an unsigned key with the same order (times before 1678 all map to 0;
// factCmp orders them).
func timeKey(t time.Time) uint64 {
	if !t.After(minKeyTime) {
		return 0
	}
	return uint64(t.UnixNano()) ^ 1<<63
}

var minKeyTime = time.Unix(0, math.MinInt64)

// radixSort sorts keys ascending, carrying idx along: linear time and stable, which matters
// at 10,000 facts.
func radixSort(keys []uint64, idx []int32) {
	n := len(keys)
	if n < 2 {
		return
	}
	tmpK, tmpI := make([]uint64, n), make([]int32, n)
	src, srcI := keys, idx
	for shift := 0; shift < 64; shift += 8 {
		var count [257]int
		for _, k := range src {
			count[(k>>shift)&0xff+1]++
		}
		if count[(src[0]>>shift)&0xff+1] == n {
			continue // every key has the same digit here
		}
		for i := 1; i < len(count); i++ {
			count[i] += count[i-1]
		}
		for i, k := range src {
			d := (k >> shift) & 0xff
			tmpK[count[d]], tmpI[count[d]] = k, srcI[i]
			count[d]++
		}
		src, tmpK = tmpK, src
		srcI, tmpI = tmpI, srcI
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
		copy(idx, srcI)
	}
}

// kinds are the fact kinds scoring reads, numbered by their position.
var kinds = [...]releaseops.FactKind{
	releaseops.FactDeploy, releaseops.FactPullRequest, releaseops.FactReview, releaseops.FactBranchProtection,
	releaseops.FactRuleset, releaseops.FactPush, releaseops.FactCIRun, releaseops.FactRelease,
	releaseops.FactVulnerability, releaseops.FactIncident, releaseops.FactPagerDutyService, releaseops.FactTerraformRun,
	releaseops.FactAssessment, releaseops.FactProtectionRule, releaseops.FactGateDecision, releaseops.FactNotification,
	releaseops.FactRepoState, releaseops.FactTerraformWorkspace, releaseops.FactOnCall,
}

const numKinds = len(kinds)

// kindNum is the position of a kind in kinds, or -1.
func kindNum(k releaseops.FactKind) int {
	for i, kk := range kinds {
		if kk == k {
			return i
		}
	}
	return -1
}

// kindIndex numbers the fact's kind for grouping, or -1 when the kind is unknown or its typed
// payload (the one Kind names) is missing.
func kindIndex(f *releaseops.Fact) int {
	var ok bool
	var i int
	switch f.Kind {
	case releaseops.FactDeploy:
		ok, i = f.Deploy != nil, 0
	case releaseops.FactPullRequest:
		ok, i = f.PullRequest != nil, 1
	case releaseops.FactReview:
		ok, i = f.Review != nil, 2
	case releaseops.FactBranchProtection:
		ok, i = f.BranchProtection != nil, 3
	case releaseops.FactRuleset:
		ok, i = f.Ruleset != nil, 4
	case releaseops.FactPush:
		ok, i = f.Push != nil, 5
	case releaseops.FactCIRun:
		ok, i = f.CIRun != nil, 6
	case releaseops.FactRelease:
		ok, i = f.Release != nil, 7
	case releaseops.FactVulnerability:
		ok, i = f.Vulnerability != nil, 8
	case releaseops.FactIncident:
		ok, i = f.Incident != nil, 9
	case releaseops.FactPagerDutyService:
		ok, i = f.PagerDutyService != nil, 10
	case releaseops.FactTerraformRun:
		ok, i = f.TerraformRun != nil, 11
	case releaseops.FactAssessment:
		ok, i = f.Assessment != nil, 12
	case releaseops.FactProtectionRule:
		ok, i = f.ProtectionRule != nil, 13
	case releaseops.FactGateDecision:
		ok, i = f.GateDecision != nil, 14
	case releaseops.FactNotification:
		ok, i = f.Notification != nil, 15
	case releaseops.FactRepoState:
		ok, i = f.RepoState != nil, 16
	case releaseops.FactTerraformWorkspace:
		ok, i = f.Workspace != nil, 17
	case releaseops.FactOnCall:
		ok, i = f.OnCall != nil, 18
	}
	if !ok {
		return -1
	}
	return i // the position of f.Kind in kinds (TestKindIndex checks)
}

// of returns the facts of one kind, oldest first.
func (x *facts) of(kind releaseops.FactKind) []*releaseops.Fact {
	if k := kindNum(kind); k >= 0 {
		return x.byKind[k]
	}
	return nil
}

// factCmp is a total order on facts so that the input order never shows in the output:
// time, then the delivery that carried the fact, then the fact's own identity.
func factCmp(a, b *releaseops.Fact) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Evidence.Source, b.Evidence.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Evidence.Delivery, b.Evidence.Delivery); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return cmp.Compare(factKey(a), factKey(b))
}

// factKey identifies a fact within its kind, for ordering facts that share a delivery.
func factKey(f *releaseops.Fact) string {
	switch f.Kind {
	case releaseops.FactDeploy:
		return f.Deploy.ID + "\x00" + f.Deploy.Status + "\x00" + f.Deploy.Environment
	case releaseops.FactPullRequest:
		return f.PullRequest.Repo + "#" + strconv.Itoa(f.PullRequest.Number)
	case releaseops.FactReview:
		return f.Review.Repo + "#" + strconv.Itoa(f.Review.PRNumber) + "\x00" + f.Review.Reviewer + "\x00" + f.Review.State
	case releaseops.FactBranchProtection:
		return f.BranchProtection.Repo + "\x00" + f.BranchProtection.Pattern
	case releaseops.FactRuleset:
		return f.Ruleset.Repo + "\x00" + strconv.FormatInt(f.Ruleset.ID, 10)
	case releaseops.FactPush:
		return f.Push.Repo + "\x00" + f.Push.Ref + "\x00" + f.Push.After
	case releaseops.FactCIRun:
		return f.CIRun.Repo + "\x00" + f.CIRun.Name + "\x00" + f.CIRun.HeadSHA + "\x00" + f.CIRun.Status + "\x00" + f.CIRun.Conclusion
	case releaseops.FactIncident:
		return f.Incident.ID + "\x00" + f.Incident.Status
	case releaseops.FactTerraformRun:
		return f.TerraformRun.RunID + "\x00" + f.TerraformRun.Trigger
	case releaseops.FactAssessment:
		return f.Assessment.Workspace + "\x00" + f.Assessment.Trigger
	case releaseops.FactNotification:
		return f.Notification.Kind + "\x00" + f.Notification.Channel + "\x00" + f.Notification.Ref
	case releaseops.FactGateDecision:
		return f.GateDecision.Environment + "\x00" + f.GateDecision.Version + "\x00" + f.GateDecision.CommitSHA
	case releaseops.FactPagerDutyService:
		return f.PagerDutyService.ID + "\x00" + f.PagerDutyService.EventType
	case releaseops.FactRelease:
		return f.Release.Repo + "\x00" + f.Release.Tag + "\x00" + f.Release.Action
	case releaseops.FactVulnerability:
		return f.Vulnerability.Repo + "\x00" + f.Vulnerability.Tool + "\x00" + strconv.Itoa(f.Vulnerability.Number)
	case releaseops.FactProtectionRule:
		return f.ProtectionRule.Repo + "\x00" + strconv.FormatInt(f.ProtectionRule.DeploymentID, 10)
	case releaseops.FactRepoState:
		// One snapshot per repository is the latest state; GitHub names are case-insensitive.
		return lowerASCII(f.RepoState.Repo)
	}
	return ""
}

// since reports whether t is within the window ending at now, boundary included.
func (x *facts) since(t time.Time, window time.Duration) bool {
	return !t.Before(x.now.Add(-window)) && !t.After(x.now)
}

// repoMatches reports whether a repository named in a fact is the service's (when the catalog
// names one; facts were already mapped to the service, so a catalog without a repo accepts all).
func (x *facts) repoMatches(repo string) bool {
	return x.svc.Repo == "" || repo == "" || strings.EqualFold(repo, x.svc.Repo)
}

// isProduction reports whether an environment name is production.
func isProduction(env string) bool {
	return strings.EqualFold(env, "production") || strings.EqualFold(env, "prod")
}

// matchBranch reports whether a GitHub branch pattern (fnmatch style) names the branch.
func matchBranch(pattern, branch string) bool {
	if pattern == branch {
		return true
	}
	ok, err := path.Match(pattern, branch)
	return err == nil && ok
}

// rulesetCovers reports whether a ruleset's include list covers the default branch.
func rulesetCovers(includes []string, branch string) bool {
	for _, inc := range includes {
		switch inc {
		case "~DEFAULT_BRANCH", "~ALL":
			return true
		}
		if matchBranch(strings.TrimPrefix(inc, "refs/heads/"), branch) {
			return true
		}
	}
	return false
}

// evidenceOf collects the evidence of facts: newest first, deduplicated, at most maxEvidence.
func evidenceOf(fs ...*releaseops.Fact) []releaseops.Evidence {
	out := make([]releaseops.Evidence, 0, min(len(fs), maxEvidence))
	for _, f := range fs {
		if f == nil {
			continue
		}
		out = append(out, f.Evidence)
	}
	return tidyEvidence(out)
}

// newest keeps the tail of facts collected in time order, enough to pick the evidence from
// (two per item, for signals that cite pairs such as a deploy and the incident after it).
func newest(fs []*releaseops.Fact) []*releaseops.Fact {
	return fs[max(0, len(fs)-2*maxEvidence):]
}

// maxEvidence bounds the evidence listed per signal; the reason carries the counts.
const maxEvidence = 5

func tidyEvidence(ev []releaseops.Evidence) []releaseops.Evidence {
	slices.SortFunc(ev, func(a, b releaseops.Evidence) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Source, b.Source); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Event, b.Event); c != 0 {
			return c
		}
		return cmp.Compare(a.Delivery, b.Delivery)
	})
	ev = slices.CompactFunc(ev, func(a, b releaseops.Evidence) bool {
		return a.Source == b.Source && a.Event == b.Event && a.Delivery == b.Delivery && a.At.Equal(b.At)
	})
	if len(ev) > maxEvidence {
		ev = ev[:maxEvidence]
	}
	if ev == nil {
		ev = []releaseops.Evidence{}
	}
	return ev
}
