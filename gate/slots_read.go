package gate

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
	"github.com/releaseops/releaseops/storage"
)

const (
	// SlotHistoryDays is how far back the slot ranking looks at production deploys: half a
	// year holds some 26 of each weekday and hour, enough for the hours people deploy in.
	SlotHistoryDays = 180
	// slotDeployLimit caps the deploy facts read per service, so that one service deploying
	// every few minutes does not make every ranking read its whole history.
	slotDeployLimit = 5000
	// orgHoursReaders read services' histories in parallel when the organisation's is rebuilt.
	orgHoursReaders = 8
)

// OrgHours is the organisation's production deploy history by weekday and hour, the prior
// every service's own history is blended with. It is rebuilt from every service's deploys at
// most once per TTL, not per request: it moves slowly, and reading it costs one query per
// service.
type OrgHours struct {
	DB     *storage.DB
	Policy *TimingPolicy
	// Services lists the services whose deploys make up the organisation.
	Services func(ctx context.Context) ([]string, error)
	// TTL is how long a built history is reused (default 10 minutes).
	TTL time.Duration

	mu    sync.Mutex
	built time.Time
	hist  risk.HourHistory
}

// Get returns the organisation's history as of now, rebuilding it when it is older than TTL.
func (o *OrgHours) Get(ctx context.Context, now time.Time) (risk.HourHistory, error) {
	// One rebuild at a time: a burst of requests after the TTL waits for it instead of each
	// reading every service.
	o.mu.Lock()
	defer o.mu.Unlock()
	ttl := o.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	if !o.built.IsZero() && now.Sub(o.built) < ttl && !now.Before(o.built) {
		return o.hist, nil
	}
	names, err := o.Services(ctx)
	if err != nil {
		return risk.HourHistory{}, fmt.Errorf("organisation deploy history: list services: %w", err)
	}
	hist, err := o.read(ctx, names, now)
	if err != nil {
		return risk.HourHistory{}, err
	}
	o.hist, o.built = hist, now
	return hist, nil
}

func (o *OrgHours) read(ctx context.Context, names []string, now time.Time) (risk.HourHistory, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan string)
	type result struct {
		h   risk.HourHistory
		err error
	}
	results := make(chan result)
	var wg sync.WaitGroup
	for i := 0; i < min(orgHoursReaders, max(1, len(names))); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range jobs {
				h, err := ServiceHours(ctx, o.DB, o.Policy, name, now)
				select {
				case results <- result{h, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, n := range names {
			select {
			case jobs <- n:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()
	var total risk.HourHistory
	var first error
	for r := range results {
		if r.err != nil && first == nil {
			first = r.err
			cancel()
		}
		total.Merge(&r.h)
	}
	if first != nil {
		return risk.HourHistory{}, fmt.Errorf("organisation deploy history: %w", first)
	}
	return total, nil
}

// ServiceHours counts the service's production deploys of the last SlotHistoryDays before
// now by weekday and hour. Rehearsals and "started" events are no outcome, and are left out.
func ServiceHours(ctx context.Context, db *storage.DB, p *TimingPolicy, service string, now time.Time) (risk.HourHistory, error) {
	facts, err := db.RecentFacts(ctx, service, releaseops.FactDeploy, now.Add(time.Second), slotDeployLimit)
	if err != nil {
		return risk.HourHistory{}, fmt.Errorf("deploy history of %s: %w", service, err)
	}
	since := now.AddDate(0, 0, -SlotHistoryDays)
	var h risk.HourHistory
	for _, f := range facts {
		if f.At.Before(since) {
			break // newest first
		}
		if failed, ok := p.outcome(f.Deploy); ok {
			p.Model.AddHour(&h, f.At, failed)
		}
	}
	return h, nil
}

// outcome says whether d is a finished production deploy, and whether it failed or was
// rolled back — the same reading the gate's change failure rate makes.
func (p *TimingPolicy) outcome(d *releaseops.Deploy) (failed, ok bool) {
	if d == nil || !p.production(d.Environment) || d.Kind == releaseops.KindRehearsal || d.Status == releaseops.DeployStarted {
		return false, false
	}
	return d.Status == releaseops.DeployFailed || d.Status == releaseops.DeployRolledBack || d.Kind == releaseops.KindRollback, true
}

// SlotsRequest asks for the deploy slots of one service.
type SlotsRequest struct {
	Service     releaseops.Service
	Environment string // default "production"
	Now         time.Time
	Hours       int
}

// ReadSlots ranks the service's next hours from its stored history, the organisation's, its
// latest on-call read and the configured windows and blackouts.
func ReadSlots(ctx context.Context, db *storage.DB, p *TimingPolicy, org *OrgHours, req SlotsRequest) ([]risk.Slot, error) {
	if p == nil || p.Model == nil {
		return nil, releaseops.Errorf(releaseops.EUNAVAILABLE, "release risk is off: the risk config did not compile (see the log)")
	}
	env := req.Environment
	if env == "" {
		env = "production"
	}
	own, err := ServiceHours(ctx, db, p, req.Service.Name, req.Now)
	if err != nil {
		return nil, err
	}
	orgHist, err := org.Get(ctx, req.Now)
	if err != nil {
		return nil, err
	}
	oc, err := LatestOnCall(ctx, db, req.Service.Name, req.Now)
	if err != nil {
		return nil, err
	}
	return p.Model.Slots(risk.SlotInput{Service: req.Service.Name, Environment: env, Tier: req.Service.Tier, Now: req.Now, Hours: req.Hours,
		Own: own, Org: orgHist, OnCall: oc, Windows: p.Windows}), nil
}

// LatestOnCall is the service's last on-call read at or before now, as of now; nil when
// there is none.
func LatestOnCall(ctx context.Context, db *storage.DB, service string, now time.Time) (*risk.OnCall, error) {
	// Since now: only the state facts come back, every on-call read among them.
	facts, err := db.FactsForService(ctx, service, now.Add(time.Second))
	if err != nil {
		return nil, fmt.Errorf("on-call of %s: %w", service, err)
	}
	var last *releaseops.Fact
	for i := range facts {
		f := &facts[i].Fact
		if f.Kind == releaseops.FactOnCall && f.OnCall != nil && !f.At.After(now) && (last == nil || !f.At.Before(last.At)) {
			last = f
		}
	}
	if last == nil {
		return nil, nil
	}
	return onCallOf(*last, now), nil
}
