package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// liveJudge keeps, per replica, each service's judgement against each target with the stamp
// (scores.updated_at) of the card it judged. Today's progress of an initiative then costs one
// narrow scan of the stamps and the decoding of the cards that changed since the last look,
// instead of decoding every covered service's card on every request.
type liveJudge struct {
	mu sync.Mutex
	// by target (Initiative.TargetKey), then service.
	judged map[string]map[string]judgement
}

type judgement struct {
	stamp int64
	state string
	steps []initiative.Step
}

// maxTargets bounds the kept targets: initiatives come and go; a replaced target's judgements
// are dropped when the set grows past it.
const maxTargets = 64

func newLiveJudge() *liveJudge { return &liveJudge{judged: map[string]map[string]judgement{}} }

// progress is each initiative's progress now, from the stored cards.
func (j *liveJudge) progress(ctx context.Context, a *App, ins []*initiative.Initiative, services []releaseops.Service) ([]initiative.Report, error) {
	stamps, err := a.DB.ScoreStamps(ctx)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.judged) > maxTargets {
		j.judged = map[string]map[string]judgement{}
	}
	// First the cards to read: those of covered services whose stamp moved for any target.
	stale := map[string][]*initiative.Initiative{}
	covered := make([][]releaseops.Service, len(ins))
	for i, in := range ins {
		covered[i] = in.Covered(services)
		byService := j.judged[in.TargetKey()]
		if byService == nil {
			byService = map[string]judgement{}
			j.judged[in.TargetKey()] = byService
		}
		for _, s := range covered[i] {
			stamp, scored := stamps[s.Name]
			if !scored {
				delete(byService, s.Name)
				continue
			}
			if jd, ok := byService[s.Name]; !ok || jd.stamp != stamp {
				stale[s.Name] = append(stale[s.Name], in)
			}
		}
	}
	for name, targets := range stale {
		card, stamp, err := a.storedCard(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, in := range targets {
			state, steps := in.Evaluate(card)
			if card == nil {
				delete(j.judged[in.TargetKey()], name)
				continue
			}
			j.judged[in.TargetKey()][name] = judgement{stamp: stamp, state: state, steps: steps}
		}
	}
	now := a.Now()
	out := make([]initiative.Report, len(ins))
	for i, in := range ins {
		byService := j.judged[in.TargetKey()]
		out[i] = in.ProgressOf(covered[i], func(name string) (string, []initiative.Step) {
			if jd, ok := byService[name]; ok {
				return jd.state, jd.steps
			}
			return in.Evaluate(nil)
		}, now)
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
