package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/releaseops/releaseops"
)

// RecentKind is one kind of fact RecentFactsOfKinds reads, and how many.
type RecentKind struct {
	Kind  releaseops.FactKind
	Limit int
}

// RecentFactsOfKinds returns, for each of kinds, what RecentFacts returns for it (the
// service's newest facts of that kind before before). On PostgreSQL the reads are pipelined
// in one round trip; on SQLite they are the calls one after another.
func (db *DB) RecentFactsOfKinds(ctx context.Context, service string, before time.Time, kinds ...RecentKind) ([][]StoredFact, error) {
	out := make([][]StoredFact, len(kinds))
	if db.pg == nil || len(kinds) < 2 {
		for i, k := range kinds {
			var err error
			if out[i], err = db.RecentFacts(ctx, service, k.Kind, before, k.Limit); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	// Through the read pool's database/sql handle, as idHorizons.
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("recent facts of %s: %w", service, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		b := &pgx.Batch{}
		for _, k := range kinds {
			b.Queue(db.d.sql(recentFactsSQL), recentFactsArgs(service, k.Kind, before, k.Limit)...)
		}
		br := dc.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		defer br.Close()
		for i, k := range kinds {
			var err error
			if out[i], err = batchRows(br, driverFacts, "recent "+string(k.Kind)+" facts"); err != nil {
				return err
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("recent facts of %s: %w", service, err)
	}
	return out, nil
}
