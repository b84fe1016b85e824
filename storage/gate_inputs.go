package storage

import (
	"context"
	"errors"
	"time"

	"github.com/releaseops/releaseops"
)

// GateQuery says what one gate request reads: the score and freshness of the service always;
// with Timing, the facts, recent deploys and score history the release-timing model needs;
// with Release, the other services seen shipping under it.
type GateQuery struct {
	Service string
	// Exclude is a delivery row left out of the freshness check (0: none): the GitHub
	// protection rule request being decided.
	Exclude int64

	Timing bool
	// FactsSince: the facts at or after it, plus every state fact (FactsForService).
	FactsSince time.Time
	// DeploysBefore and DeployLimit: the newest deploy facts before it (RecentFacts).
	DeploysBefore time.Time
	DeployLimit   int
	// HistoryMargin: the score history from this long before the oldest deploy read; none
	// when no deploy was.
	HistoryMargin time.Duration

	// Release, if not empty (and Timing): the services other than Service seen under it at or
	// after ReleaseSince (ReleaseServices).
	Release      string
	ReleaseSince time.Time
}

// GateInputs is what GateInputs read, each field as the step-by-step function returns it.
type GateInputs struct {
	Score    ScoreRow
	HasScore bool // false: ErrNotFound from GetScore

	LastEventAt  time.Time
	HasLastEvent bool
	LastSyncAt   time.Time
	HasLastSync  bool

	Facts           []StoredFact   // FactsForService
	Deploys         []StoredFact   // RecentFacts of deploys, newest first
	History         []HistoryPoint // History, nil when no deploy was read
	ReleaseServices []string       // ReleaseServices
}

// GateInputs reads everything a gate decision needs. The result is what GetScore,
// LastEventAt, LastSyncSuccess, FactsForService, RecentFacts, History and ReleaseServices
// return called one after another. On PostgreSQL it is one round trip (a pipelined batch in
// one read-only snapshot, gate_inputs_postgres.go): each of those is a network round trip
// there, and under load each one waits for the server to be scheduled. On SQLite the reads
// are local and stay those calls.
func (db *DB) GateInputs(ctx context.Context, q GateQuery) (GateInputs, error) {
	if db.pg != nil {
		return db.gateInputsPostgres(ctx, q)
	}
	return db.gateInputsOneByOne(ctx, q)
}

// gateInputsOneByOne is GateInputs as the calls it stands for, one after another: SQLite's
// path, and the reference the PostgreSQL batch is tested against.
func (db *DB) gateInputsOneByOne(ctx context.Context, q GateQuery) (GateInputs, error) {
	var in GateInputs
	var err error
	in.Score, err = db.GetScore(ctx, q.Service)
	switch {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return in, err
	default:
		in.HasScore = true
	}
	if in.LastEventAt, in.HasLastEvent, err = db.LastEventAt(ctx, q.Service, q.Exclude); err != nil {
		return in, err
	}
	if in.LastSyncAt, in.HasLastSync, err = db.LastSyncSuccess(ctx, q.Service); err != nil {
		return in, err
	}
	if !q.Timing {
		return in, nil
	}
	if in.Facts, err = db.FactsForService(ctx, q.Service, q.FactsSince); err != nil {
		return in, err
	}
	if in.Deploys, err = db.RecentFacts(ctx, q.Service, releaseops.FactDeploy, q.DeploysBefore, q.DeployLimit); err != nil {
		return in, err
	}
	if len(in.Deploys) > 0 {
		if in.History, err = db.History(ctx, q.Service, in.Deploys[len(in.Deploys)-1].At.Add(-q.HistoryMargin)); err != nil {
			return in, err
		}
	}
	if q.Release != "" {
		if in.ReleaseServices, err = db.ReleaseServices(ctx, q.Release, q.Service, q.ReleaseSince); err != nil {
			return in, err
		}
	}
	return in, nil
}
