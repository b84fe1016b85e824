package storage

import (
	"context"
	"fmt"
	"time"
)

// The cursors of the indexer: every fact and delivery with an id at or below them is in
// fact_index and delivery_index (if it has a service); those above are the tail.
const (
	factIndexCursor     = "index.facts"
	deliveryIndexCursor = "index.deliveries"
)

// tailFacts and tailDeliveries are the last indexed id, as SQL: readers put them in the same
// statement as the index lookup, so both see one snapshot and a row is in one or the other.
// A tail query marks its other columns with a unary + so that SQLite walks the short rowid
// range above the cursor instead of an index on those columns (the dedupe index on source
// would otherwise look attractive and scan every delivery of that source).
const (
	tailFacts      = `coalesce((SELECT value FROM cursors WHERE name = '` + factIndexCursor + `'), 0)`
	tailDeliveries = `coalesce((SELECT value FROM cursors WHERE name = '` + deliveryIndexCursor + `'), 0)`
)

// inFactsTail and inDeliveriesTail select a table's rows above its indexer cursor. The upper
// bound changes no result (every row is at or below the table's max id, read in the same
// snapshot) but PostgreSQL's plan: with the cursor a subquery, the planner estimated a
// one-sided range at 90% of the table and chose a parallel bitmap scan, starting workers for a
// tail of a few hundred rows. With 10,000 services that made the rescoring worker's
// FactsForService 17.7 ms a call (0.1 ms of it the scan); a two-sided range is estimated at
// 0.5% of the table and read in 0.1 ms.
const (
	inFactsTail      = `id > ` + tailFacts + ` AND id <= (SELECT max(id) FROM facts)`
	inDeliveriesTail = `id > ` + tailDeliveries + ` AND id <= (SELECT max(id) FROM deliveries)`
)

// indexRoundLimit bounds the rows one indexing transaction takes from each table, so that a
// long backlog (a restore, a replay) is indexed in steps that each hold the writer briefly.
const indexRoundLimit = 20000

// The indexer's statements. PostgreSQL runs them under the shared writer lock: the rows they
// move are below a horizon read before the transaction (idHorizons), and the cursors have one
// writer, the indexer's lease holder (a second one during a handover only indexes a range
// again: the inserts skip what is there).
const (
	indexFactsSQL = `INSERT INTO fact_index (service, at, fact, kind)
			SELECT service, at, id, kind FROM facts WHERE id > ?1 AND id <= ?2 AND service <> '' ON CONFLICT DO NOTHING`
	indexDeliveriesSQL = `INSERT INTO delivery_index (service, source, received_at, delivery)
			SELECT service, source, received_at, id FROM deliveries WHERE id > ?1 AND id <= ?2 AND service <> '' ON CONFLICT DO NOTHING`
	readIndexFactsSQL      = `SELECT ` + tailFacts
	readIndexDeliveriesSQL = `SELECT ` + tailDeliveries
)

// indexServices moves up to indexRoundLimit rows of each table's tail into the service
// indexes and advances the cursors, in t. It returns how many rows it looked at. hz bounds
// what it moves; nil (SQLite, whose single writer commits ids in order) is every row.
func indexServices(t *Tx, hz *idHorizons) (int64, error) {
	var n int64
	for _, step := range []struct {
		cursor, table, insert, read string
		horizon                     int64
	}{
		{factIndexCursor, "facts", indexFactsSQL, readIndexFactsSQL, -1},
		{deliveryIndexCursor, "deliveries", indexDeliveriesSQL, readIndexDeliveriesSQL, -1},
	} {
		var from, last int64
		if hz == nil {
			if err := t.QueryRow(`SELECT `+tailOf(step.cursor)+`, coalesce((SELECT max(id) FROM `+step.table+`), 0)`).Scan(&from, &last); err != nil {
				return n, fmt.Errorf("index %s: read cursor: %w", step.table, err)
			}
		} else {
			if err := t.QueryRow(step.read).Scan(&from); err != nil {
				return n, fmt.Errorf("index %s: read cursor: %w", step.table, err)
			}
			last = hz.deliveries
			if step.table == "facts" {
				last = hz.facts
			}
		}
		if last <= from {
			continue
		}
		upTo := min(last, from+indexRoundLimit)
		if _, err := t.Exec(step.insert, from, upTo); err != nil {
			return n, fmt.Errorf("index %s %d..%d: %w", step.table, from+1, upTo, err)
		}
		if err := SetCursor(t, step.cursor, upTo); err != nil {
			return n, err
		}
		n += upTo - from
	}
	return n, nil
}

func tailOf(cursor string) string {
	if cursor == factIndexCursor {
		return tailFacts
	}
	return tailDeliveries
}

// IndexNow indexes the whole tail, in as many transactions as it takes, each through the
// group-commit writer like any other write.
func (db *DB) IndexNow(ctx context.Context) error {
	for {
		var hz *idHorizons
		if db.pg != nil {
			h, err := db.idHorizons(ctx)
			if err != nil {
				return err
			}
			hz = &h
		}
		var n int64
		err := db.Writer.Do(ctx, func(t *Tx) error {
			var err error
			n, err = indexServices(t, hz)
			return err
		})
		if err != nil {
			return err
		}
		if n < indexRoundLimit {
			return nil
		}
	}
}

// indexLoop keeps the tail, which every service read scans, to about one interval of events.
// One process indexes at a time (the "indexer" lease); the others' reads cover the tail.
func (db *DB) indexLoop(interval time.Duration) {
	defer close(db.indexDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-db.stop
		cancel()
	}()
	db.RunLeased(ctx, LeaseIndexer, func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
				if err := db.IndexNow(rctx); err != nil && ctx.Err() == nil {
					db.log.Warn("index services", "err", err)
				}
				rcancel()
			}
		}
	})
}
