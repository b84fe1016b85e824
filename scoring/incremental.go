package scoring

import (
	"slices"

	"github.com/releaseops/releaseops"
)

// Index carries the fact index one Score built for a service to the next Score of the same
// service. The rescoring worker rescores a busy service every round with the same facts plus
// a few new ones, and building the index (sorting every fact, pairing every deploy event) was
// most of a Score for a service with a long history. ScoreIndexed extends the index when the
// new input is the previous one with facts appended in the same backing array and none later
// than Now; anything else (facts trimmed or replaced, a fact that was in the future) rebuilds
// it.
// The card is the same either way: TestScoreIndexedMatchesScore compares them step by step.
//
// An Index belongs to one service and to one goroutine at a time. The zero value is empty.
type Index struct {
	x       *facts
	deploys *deployBuilder
	base    *releaseops.Fact // &Facts[0] of the input indexed
	n       int              // how many of those facts the index covers
	skipped bool             // a fact was later than Now: the next call rebuilds
}

// facts returns the index of in.Facts, extended or rebuilt.
func (ix *Index) facts(in *Input) *facts {
	if ix.x != nil && !ix.skipped && ix.n > 0 && len(in.Facts) >= ix.n && &in.Facts[0] == ix.base && ix.extend(in) {
		ix.n = len(in.Facts)
		return ix.x
	}
	x, deploys, skipped := buildIndex(in)
	*ix = Index{x: x, deploys: deploys, n: len(in.Facts), skipped: skipped}
	if len(in.Facts) > 0 {
		ix.base = &in.Facts[0]
	}
	return x
}

// extend adds in.Facts[ix.n:] to the index, or reports false, having changed nothing, when it
// cannot: a new fact later than Now, or one that ties another in the index's order.
// New facts usually come after all the others and are appended; a late arrival is merged into
// place, and a deploy that gets an event older than its last is paired again from its events.
func (ix *Index) extend(in *Input) bool {
	x := ix.x
	if in.Now.Before(x.now) {
		return false // facts indexed under the later Now could now be in the future
	}
	var tail []*releaseops.Fact
	for i := range in.Facts[ix.n:] {
		f := &in.Facts[ix.n+i]
		if kindIndex(f) < 0 {
			continue
		}
		if f.At.After(in.Now) {
			return false
		}
		tail = append(tail, f)
	}
	slices.SortFunc(tail, factCmp)
	for i, f := range tail {
		if i > 0 && factCmp(tail[i-1], f) == 0 {
			return false
		}
		if _, found := slices.BinarySearchFunc(x.all, f, factCmp); found {
			return false
		}
	}
	// Everything derived from Now or built on first use starts afresh.
	x.now, x.svc = in.Now, &in.Service
	x.branch, x.incidents, x.prod = nil, nil, nil
	if len(tail) == 0 {
		return true
	}
	x.all = insertFacts(x.all, tail)
	var byKind [numKinds][]*releaseops.Fact
	for _, f := range tail {
		k := kindIndex(f)
		byKind[k] = append(byKind[k], f)
	}
	for k, fs := range byKind {
		if len(fs) > 0 {
			x.byKind[k] = insertFacts(x.byKind[k], fs)
		}
	}
	if fs := byKind[kindNum(releaseops.FactDeploy)]; len(fs) > 0 {
		ix.addDeploys(fs)
	}
	if len(byKind[kindNum(releaseops.FactPullRequest)]) > 0 || len(byKind[kindNum(releaseops.FactReview)]) > 0 {
		x.prs = buildPRs(x.of(releaseops.FactPullRequest), x.of(releaseops.FactReview))
	}
	return true
}

// addDeploys folds new deploy events (sorted) into the records. A record whose last event is
// later than one of its new ones is rebuilt from all its events in order, as buildIndex would.
func (ix *Index) addDeploys(fs []*releaseops.Fact) {
	redo := map[*deployRec][]*releaseops.Fact{}
	for _, f := range fs {
		r := ix.deploys.byKey[deployKey(f.Deploy)]
		if r != nil && (redo[r] != nil || len(r.facts) > 0 && factCmp(r.facts[len(r.facts)-1], f) > 0) {
			redo[r] = append(redo[r], f)
			continue
		}
		if r, isNew := ix.deploys.add(f); isNew {
			ix.x.deploys = append(ix.x.deploys, r)
		}
	}
	for r, late := range redo {
		events := mergeFacts(slices.Clone(r.facts), late)
		*r = deployRec{key: r.key, status: releaseops.DeployStarted, start: events[0].At}
		for _, f := range events {
			r.apply(f)
		}
	}
	sortDeploys(ix.x.deploys) // nearly sorted: cheap
}

// insertFacts adds add (sorted) to fs (sorted): appended in place when it all comes after,
// merged otherwise.
func insertFacts(fs, add []*releaseops.Fact) []*releaseops.Fact {
	if len(fs) == 0 || factCmp(fs[len(fs)-1], add[0]) < 0 {
		return append(fs, add...)
	}
	return mergeFacts(fs, add)
}
