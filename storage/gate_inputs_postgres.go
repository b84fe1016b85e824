package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/releaseops/releaseops"
)

// gateHistorySQL is History from the oldest of the deploys RecentFacts reads, less a margin,
// in one statement: ?1–?4 are recentFacts' (service, kind, before, limit), ?5 the margin in
// milliseconds. No deploy, no window: min(at) is NULL and no row matches.
const gateHistorySQL = `SELECT at, score, band, level FROM score_history
	WHERE service = ?1 AND at >= (SELECT min(at) - ?5 FROM (SELECT at FROM ` + recentFacts + `) oldest)
	ORDER BY at, id`

// gateInputsPostgres sends the gate's reads as one pipelined batch on one connection: one
// network round trip instead of six or seven. The batch runs in a read-only REPEATABLE READ
// transaction, so every statement sees one snapshot: the history window computed from the
// deploys is the window of the deploys returned, as when History was called with them.
func (db *DB) gateInputsPostgres(ctx context.Context, q GateQuery) (GateInputs, error) {
	var in GateInputs
	// Through the read pool's database/sql handle, as idHorizons: its idle connections are the
	// pgx pool's, so one taken from the pgx pool directly could wait for ever.
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return in, fmt.Errorf("gate inputs of %s: %w", q.Service, err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		err := db.sendGateBatch(ctx, c, q, &in)
		if c.PgConn().TxStatus() != 'I' {
			// A statement failed inside the snapshot: end it, or the pool drops the connection.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_, rerr := c.Exec(rctx, "ROLLBACK")
			cancel()
			err = errors.Join(err, rerr)
		}
		return err
	})
	if err != nil {
		return GateInputs{}, fmt.Errorf("gate inputs of %s: %w", q.Service, err)
	}
	return in, nil
}

func (db *DB) sendGateBatch(ctx context.Context, c *pgx.Conn, q GateQuery, in *GateInputs) error {
	sqlOf := db.d.sql
	lastEvent, lastEventArgs := lastEventSQL(q.Service, q.Exclude)
	b := &pgx.Batch{}
	b.Queue("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
	b.Queue(sqlOf(getScoreSQL), q.Service)
	b.Queue(sqlOf(lastEvent), lastEventArgs...)
	b.Queue(sqlOf(lastSyncSQL), q.Service)
	release := q.Timing && q.Release != ""
	if q.Timing {
		deploys := recentFactsArgs(q.Service, releaseops.FactDeploy, q.DeploysBefore, q.DeployLimit)
		b.Queue(sqlOf(factsForServiceSQL), factsForServiceArgs(q.Service, q.FactsSince)...)
		b.Queue(sqlOf(recentFactsSQL), deploys...)
		b.Queue(sqlOf(gateHistorySQL), append(deploys, q.HistoryMargin.Milliseconds())...)
		if release {
			b.Queue(sqlOf(releaseServicesSQL), q.Release, q.Service, q.ReleaseSince.UTC().UnixMilli())
		}
	}
	b.Queue("COMMIT")

	br := c.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	var at int64
	in.Score.Service = q.Service
	switch err := br.QueryRow().Scan(&in.Score.Score, &in.Score.Band, &in.Score.Level, &in.Score.Card, &at); {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("score: %w", err)
	default:
		in.HasScore, in.Score.UpdatedAt = true, time.UnixMilli(at).UTC()
	}
	var last sql.NullInt64
	if err := br.QueryRow().Scan(&last); err != nil {
		return fmt.Errorf("last event: %w", err)
	}
	in.LastEventAt, in.HasLastEvent = time.UnixMilli(last.Int64).UTC(), last.Valid
	var synced sql.NullInt64
	if err := br.QueryRow().Scan(&synced); err != nil {
		return fmt.Errorf("last sync: %w", err)
	}
	in.LastSyncAt, in.HasLastSync = fromMillis(synced.Int64), synced.Valid
	if q.Timing {
		var err error
		if in.Facts, err = batchRows(br, driverFacts, "facts"); err != nil {
			return err
		}
		if in.Deploys, err = batchRows(br, driverFacts, "recent deploys"); err != nil {
			return err
		}
		if in.History, err = batchRows(br, readHistory, "history"); err != nil {
			return err
		}
		if len(in.Deploys) == 0 {
			in.History = nil // History is not called without deploys
		}
		if release {
			if in.ReleaseServices, err = batchRows(br, readStrings, "release services"); err != nil {
				return err
			}
		}
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("end the snapshot: %w", err)
	}
	return br.Close()
}

// driverFacts decodes fact rows straight from pgx's buffer, as scanFacts does with RawBytes.
func driverFacts(rows rowReader) ([]StoredFact, error) {
	return readFacts[pgtype.DriverBytes](rows, "read")
}

// batchRows reads the batch's next result with read, closing its rows before the next.
func batchRows[T any](br pgx.BatchResults, read func(rowReader) (T, error), what string) (T, error) {
	rows, err := br.Query()
	if err != nil {
		var zero T
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out, err := read(rows)
	if err != nil {
		return out, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
