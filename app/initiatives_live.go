package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// liveJudge keeps, per replica, each service's judgement against each target with the stamp
// (scores.updated_at) of the card it judged, and each initiative's last progress. Today's
// progress then costs a short read of the stamps that moved, the decoding of those cards only,
// and, when neither a judgement nor the covered services changed, no recount at all.
type liveJudge struct {
	mu sync.Mutex
	// judged is by target (Initiative.TargetKey), then service; gen counts each target's
	// changes of judgement.
	judged map[string]map[string]judgement
	gen    map[string]uint64
	// last is each initiative's last progress, by id.
	last map[string]lastProgress
	// stamps is every scored service's stamp as last read; high the highest of them, seen
	// first at highAt; full when they were last read in full (a.Now).
	stamps map[string]int64
	high   int64
	highAt time.Time
	full   time.Time
}

type judgement struct {
	stamp int64
	state string
	steps []initiative.Step
}

type lastProgress struct {
	spec    string // the initiative's spec as JSON: a renamed one is counted again
	gen     uint64 // its target's generation
	covered uint64 // a hash of the covered services' names and owners
	rep     initiative.Report
}

const (
	// stampSlack is how long cards stamped just below the highest stamp seen are read again:
	// a card stamped earlier may commit later (two writers, the group commit).
	stampSlack = 5 * time.Second
	// stampsFull is how often every stamp is read again: a replica whose clock is behind may
	// stamp a card below the range.
	stampsFull = time.Minute
	// maxTargets bounds the kept targets: initiatives come and go; when the set grows past
	// it, the judgements are dropped and made again.
	maxTargets = 64
)

func newLiveJudge() *liveJudge {
	return &liveJudge{judged: map[string]map[string]judgement{}, gen: map[string]uint64{}, last: map[string]lastProgress{}}
}

// refresh brings the stamps up to date: the cards written since the highest stamp seen (and
// just below it while it is recent), and every stamp once a minute.
func (j *liveJudge) refresh(ctx context.Context, a *App) error {
	now := a.Now()
	since := j.high + 1
	if now.Sub(j.highAt) < stampSlack {
		since = j.high - stampSlack.Milliseconds()
	}
	if j.stamps == nil || now.Sub(j.full) >= stampsFull || now.Before(j.full) {
		since = 0
	}
	got, err := a.DB.ScoreStamps(ctx, since)
	if err != nil {
		return err
	}
	if since == 0 {
		j.stamps, j.full = got, now
	}
	for s, at := range got {
		j.stamps[s] = at
		if at > j.high {
			j.high, j.highAt = at, now
		}
	}
	return nil
}

// progress is each initiative's progress now, from the stored cards.
func (j *liveJudge) progress(ctx context.Context, a *App, ins []*initiative.Initiative, services []releaseops.Service) ([]initiative.Report, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.refresh(ctx, a); err != nil {
		return nil, err
	}
	if len(j.judged) > maxTargets {
		j.judged, j.last = map[string]map[string]judgement{}, map[string]lastProgress{}
	}
	// First the cards to read: those of covered services whose stamp moved for any target.
	stale := map[string][]*initiative.Initiative{}
	covered := make([][]releaseops.Service, len(ins))
	sigs := make([]uint64, len(ins))
	for i, in := range ins {
		covered[i] = in.Covered(services)
		key := in.TargetKey()
		byService := j.judged[key]
		if byService == nil {
			byService = map[string]judgement{}
			j.judged[key] = byService
			j.gen[key]++
		}
		h := fnv.New64a()
		for _, s := range covered[i] {
			h.Write([]byte(s.Name))
			h.Write([]byte{0})
			h.Write([]byte(s.Owner))
			h.Write([]byte{0})
			stamp, scored := j.stamps[s.Name]
			if !scored {
				if _, had := byService[s.Name]; had {
					delete(byService, s.Name)
					j.gen[key]++
				}
				continue
			}
			if jd, ok := byService[s.Name]; !ok || jd.stamp != stamp {
				stale[s.Name] = append(stale[s.Name], in)
			}
		}
		sigs[i] = h.Sum64()
	}
	for name, targets := range stale {
		card, stamp, err := a.storedCard(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, in := range targets {
			key := in.TargetKey()
			j.gen[key]++
			if card == nil {
				delete(j.judged[key], name)
				continue
			}
			state, steps := in.Evaluate(card)
			j.judged[key][name] = judgement{stamp: stamp, state: state, steps: steps}
		}
	}
	now := a.Now()
	out := make([]initiative.Report, len(ins))
	for i, in := range ins {
		key := in.TargetKey()
		spec, _ := json.Marshal(in.Spec)
		if l, ok := j.last[in.ID]; ok && l.spec == string(spec) && l.gen == j.gen[key] && l.covered == sigs[i] {
			out[i] = l.rep.AsOf(in, now)
			continue
		}
		byService := j.judged[key]
		rep := in.ProgressOf(covered[i], func(name string) (string, []initiative.Step) {
			if jd, ok := byService[name]; ok {
				return jd.state, jd.steps
			}
			return in.Evaluate(nil)
		}, now)
		j.last[in.ID] = lastProgress{spec: string(spec), gen: j.gen[key], covered: sigs[i], rep: rep}
		out[i] = rep
	}
	return out, nil
}

// storedCard reads and decodes a service's latest card with its stamp; nil when it has none
// (it was removed between the scan and the read).
func (a *App) storedCard(ctx context.Context, name string) (*scoring.Scorecard, int64, error) {
	row, err := a.DB.GetScore(ctx, name)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var card scoring.Scorecard
	if err := json.Unmarshal(row.Card, &card); err != nil {
		return nil, 0, fmt.Errorf("decode scorecard of %s: %w", name, err)
	}
	return &card, row.UpdatedAt.UnixMilli(), nil
}
