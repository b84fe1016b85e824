package gate

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/releaseops/releaseops/storage"
)

// reportIndex is what the gate report needs of each observe-mode decision, held in memory
// and brought up to date at each report with the rows stored since its last read (by seq,
// storage.ObservationsAfter). Reading and decoding every row of the window on every call cost
// seconds at 100,000 observations, and so did aggregating them in the database on the shared
// machine: its cost grows with the rows either way (BENCHMARKS.md). Here a report reads one
// index entry when nothing is new, then sums the window's entries, a few bytes each.
//
// Each observation is decoded once, with reasonLabel as the report always did, so rows stored
// before the index existed need nothing. Observations older than ReportDaysMax days (and a day)
// are dropped; a window reaching further back, which only a clock set back can ask for, loads
// again from the database. Rows are never updated or deleted, so what is held stays true.
type reportIndex struct {
	mu      sync.Mutex
	loaded  bool
	cursor  int64         // the highest seq read
	horizon int64         // unix ms: observations before it are not held
	entries []reportEntry // by at
	pending []reportEntry // read by the refresh under way, merged into entries at its end

	sds       []sdKey // a service and what enforcement would have answered, by id
	sdOf      map[sdKey]int32
	sdReasons [][]int32 // the reason groups of each sd
	groups    []groupKey
	groupOf   map[groupKey]int32
	reasons   []reasonGroup
	reasonOf  map[reasonKey]int32
	sets      [][]int32 // the reason groups of one observation, interned: most repeat
	setOf     map[string]int32
}

// reportEntry is one observation: when, its group, and its reasons (an index into sets).
type reportEntry struct {
	at    int64
	group int32
	set   int32
}

type sdKey struct{ service, decision string }

// groupKey is the finest grouping the report shows: counts, first and last seen are summed
// per service and decision, environments and mode_from are collected per service.
type groupKey struct {
	sd                 int32
	environment, modes string
}

type reasonKey struct {
	sd    int32
	label string
}

// reasonGroup is a reason of a service's decision, with its newest wording: the first reason
// with the label in the newest observation, in the order rows were read before (at, then
// origin key). Newest over everything held is newest in any window that has the label, as
// every window runs to now.
type reasonGroup struct {
	label   string
	seen    bool // an example was taken
	at      int64
	origin  string
	example string
}

// loadMargin is how much further back than ReportDaysMax the index holds, so that the clock
// moving on does not make the longest window reload.
const loadMargin = 24 * time.Hour

// reset forgets everything held (not the mutex, which the caller holds).
func (x *reportIndex) reset() {
	x.loaded, x.cursor, x.horizon, x.entries, x.pending = false, 0, 0, nil, nil
	x.sds, x.sdReasons, x.groups, x.reasons, x.sets = nil, nil, nil, nil, nil
	x.sdOf, x.groupOf, x.reasonOf, x.setOf = map[sdKey]int32{}, map[groupKey]int32{}, map[reasonKey]int32{}, map[string]int32{}
}

// report brings the index up to date and sums the window since..now.
func (x *reportIndex) report(ctx context.Context, db *storage.DB, days int, since, until time.Time) (Report, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	sinceMs := since.UnixMilli()
	if !x.loaded || sinceMs < x.horizon {
		x.reset()
		x.horizon = min(sinceMs, until.Add(-ReportDaysMax*24*time.Hour-loadMargin).UnixMilli())
	}
	if err := x.refresh(ctx, db); err != nil {
		// What was read of this batch is half applied: start again at the next report.
		x.loaded = false
		return Report{}, err
	}
	x.loaded = true
	x.drop(until.Add(-ReportDaysMax*24*time.Hour - loadMargin).UnixMilli())
	return x.sum(days, since, until), nil
}

func (x *reportIndex) refresh(ctx context.Context, db *storage.DB) error {
	last, err := db.ObservationsAfter(ctx, x.cursor, time.UnixMilli(x.horizon), x.add)
	if err != nil {
		return err
	}
	x.cursor = last
	x.merge()
	return nil
}

// merge moves the entries just read into entries, keeping them by at: new ones usually all
// come after the last (they come in commit order, nearly that of at); otherwise one merge.
func (x *reportIndex) merge() {
	p := x.pending
	x.pending = x.pending[:0]
	if len(p) == 0 {
		return
	}
	slices.SortStableFunc(p, func(a, b reportEntry) int { return cmp.Compare(a.at, b.at) })
	if len(x.entries) == 0 || x.entries[len(x.entries)-1].at <= p[0].at {
		x.entries = append(x.entries, p...)
		return
	}
	out := make([]reportEntry, 0, len(x.entries)+len(p))
	i, j := 0, 0
	for i < len(x.entries) && j < len(p) {
		if p[j].at < x.entries[i].at {
			out = append(out, p[j])
			j++
		} else {
			out = append(out, x.entries[i])
			i++
		}
	}
	out = append(append(out, x.entries[i:]...), p[j:]...)
	x.entries = out
}

// observedReason is what the index reads of a stored gate.Reason.
type observedReason struct {
	Kind      string `json:"kind"`
	Text      string `json:"text"`
	Dimension string `json:"dimension"`
	Name      string `json:"name"`
}

// add takes in one observation read from the database.
func (x *reportIndex) add(o *storage.Observation) error {
	var rs []observedReason
	// goccy/go-json: the same result as encoding/json, in a fraction of the time, for the
	// first report's whole window.
	if err := gojson.Unmarshal(o.Reasons, &rs); err != nil {
		return fmt.Errorf("decode observed reasons of %s: %w", o.OriginKey, err)
	}
	at := o.At.UnixMilli()
	sd := x.sdID(sdKey{o.Service, o.WouldDecision})
	g := x.groupID(groupKey{sd, o.Environment, o.ModeFrom})
	var ids []int32
	for _, r := range rs {
		label := reasonLabel(Reason{Kind: r.Kind, Text: r.Text, Dimension: r.Dimension, Name: r.Name})
		if label == "" {
			continue
		}
		id := x.reasonID(sd, label)
		if containsID(ids, id) { // one request counts once per reason, with its first wording
			continue
		}
		ids = append(ids, id)
		rg := &x.reasons[id]
		if !rg.seen || at > rg.at || at == rg.at && o.OriginKey > rg.origin {
			rg.seen, rg.at, rg.origin, rg.example = true, at, o.OriginKey, r.Text
		}
	}
	x.pending = append(x.pending, reportEntry{at: at, group: g, set: x.setID(ids)})
	return nil
}

func containsID(ids []int32, id int32) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

func (x *reportIndex) sdID(k sdKey) int32 {
	id, ok := x.sdOf[k]
	if !ok {
		id = int32(len(x.sds))
		x.sds = append(x.sds, k)
		x.sdReasons = append(x.sdReasons, nil)
		x.sdOf[k] = id
	}
	return id
}

func (x *reportIndex) groupID(k groupKey) int32 {
	id, ok := x.groupOf[k]
	if !ok {
		id = int32(len(x.groups))
		x.groups = append(x.groups, k)
		x.groupOf[k] = id
	}
	return id
}

func (x *reportIndex) reasonID(sd int32, label string) int32 {
	k := reasonKey{sd, label}
	id, ok := x.reasonOf[k]
	if !ok {
		id = int32(len(x.reasons))
		x.reasons = append(x.reasons, reasonGroup{label: label})
		x.sdReasons[sd] = append(x.sdReasons[sd], id)
		x.reasonOf[k] = id
	}
	return id
}

func (x *reportIndex) setID(ids []int32) int32 {
	key := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		key = append(key, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
	}
	id, ok := x.setOf[string(key)]
	if !ok {
		id = int32(len(x.sets))
		x.sets = append(x.sets, ids)
		x.setOf[string(key)] = id
	}
	return id
}

// drop lets go of the entries before cutoff once they are an eighth of the slice, so that the
// copy is paid rarely; until then the window's lower bound skips them.
func (x *reportIndex) drop(cutoff int64) {
	if cutoff <= x.horizon {
		return
	}
	n := sort.Search(len(x.entries), func(i int) bool { return x.entries[i].at >= cutoff })
	if n == 0 || n < len(x.entries)/8 {
		return
	}
	x.entries = append([]reportEntry(nil), x.entries[n:]...)
	x.horizon = cutoff
}
