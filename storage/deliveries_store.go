package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/releaseops/releaseops"
)

// StoreDelivery commits d with its facts and the services its arrival discovered, in one
// write: on PostgreSQL a piped one (writer_pipe.go), so that a batch of deliveries costs one
// round trip. It reports duplicate=true, having written nothing, when (source, delivery id) is
// stored already.
func (w *Writer) StoreDelivery(ctx context.Context, d *NewDelivery, discovered map[string]releaseops.Subject, at time.Time) (duplicate bool, err error) {
	if err := d.Prepare(); err != nil {
		return false, err
	}
	fn := func(t *Tx) error {
		var err error
		if _, duplicate, err = InsertDelivery(t, d); err != nil || duplicate {
			return err
		}
		for name, subj := range discovered {
			if err := RecordDiscovered(t, name, subj, at); err != nil {
				return err
			}
		}
		return nil
	}
	stmts := []pipeStmt{{query: insertDeliveryPGSQL, args: insertDeliveryPGArgs(d), scan: func(row pgx.Row) error {
		var err error
		_, duplicate, err = scanDeliveryID(row, d)
		return err
	}}}
	// A duplicate's discovered services were recorded with the delivery it repeats: running
	// their inserts anyway (they do nothing on conflict) writes the same as fn, which skips them.
	for name, subj := range discovered {
		stmts = append(stmts, pipeStmt{query: recordDiscoveredSQL, args: []any{name, string(subj.Kind) + ":" + subj.Key, at.UTC().UnixMilli()}})
	}
	err = w.doPiped(ctx, false, fn, stmts...)
	return duplicate, err
}
