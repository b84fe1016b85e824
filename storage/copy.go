package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// copyTables are the tables CopyInto copies first, parents before children (facts reference
// deliveries). Any other table both schemas have is copied after them, in name order, so that
// a table a later migration adds is not left behind (see tablesToCopy).
var copyTables = []string{"deliveries", "facts", "discovered_services", "cursors", "scores", "score_history",
	"outbox", "approvals", "audit_log", "fact_index", "delivery_index", "sync_subjects", "sync_runs"}

// skipTables are never copied. Not leases: a lease belongs to a running process and expires
// in seconds. Not schema_migrations: each engine has its own migration history.
var skipTables = map[string]bool{"leases": true, "schema_migrations": true}

const (
	sqliteTables = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	pgTables     = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
)

// CopyTables returns the tables CopyInto copies first; it copies any other table too.
func CopyTables() []string { return slices.Clone(copyTables) }

// tablesToCopy orders the tables a schema has: copyTables first, in their order, then the rest
// by name, without skipTables.
func tablesToCopy(have []string) []string {
	set := map[string]bool{}
	for _, t := range have {
		if !skipTables[t] {
			set[t] = true
		}
	}
	var out []string
	for _, t := range copyTables {
		if set[t] {
			out = append(out, t)
			delete(set, t)
		}
	}
	rest := make([]string, 0, len(set))
	for t := range set {
		rest = append(rest, t)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// sameTables fails unless both schemas have the same tables to copy: otherwise they are not at
// the same version, and the copy would drop a table or leave one empty.
func sameTables(src, dst []string) error {
	in := func(ts []string, t string) bool { return slices.Contains(ts, t) }
	for _, t := range src {
		if !in(dst, t) {
			return fmt.Errorf("the target has no table %s: the two schemas are not at the same version", t)
		}
	}
	for _, t := range dst {
		if !in(src, t) {
			return fmt.Errorf("the source has no table %s: the two schemas are not at the same version", t)
		}
	}
	return nil
}

// listTables returns the tables to copy of the schema q reads, in copy order.
func listTables[R interface {
	Next() bool
	Scan(...any) error
	Err() error
	Close()
}](ctx context.Context, q string, query func(context.Context, string) (R, error)) ([]string, error) {
	rows, err := query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return tablesToCopy(names), nil
}

// ErrTargetNotEmpty is returned by CopyInto when the target already holds rows.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// TableCount is one table's rows in the source's snapshot and the rows copied from it.
type TableCount struct {
	Table  string
	Source int64
	Copied int64
}

// CopyReport is what CopyInto did.
type CopyReport struct {
	Tables []TableCount // in copy order
	Schema string       // the target's schema (the URL's search_path)
	Took   time.Duration
}

// CopyInto copies every table (but skipTables) from the SQLite database src into the empty
// PostgreSQL database dst (opened with OpenPostgres, so at its current schema), ids as they
// are, then moves each identity past the highest id copied so that new rows do not collide.
// Both must have the same tables and columns, or the copy is refused.
//
// The source is read in one read-only transaction, so the copy is one consistent snapshot even
// if a process still writes to the file. The target is written in one transaction that locks
// every copied table first: a failure, or a target found not to be empty once they are locked,
// leaves no copied row behind, though the schema's migrations and identity sequences moved by
// setval stay (ErrTargetNotEmpty names each table that has rows).
//
// A caller that compares counts afterwards should open both databases with an IndexInterval
// longer than the whole run: the indexer would otherwise move the unindexed tail of facts and
// deliveries into the service indexes on one side and not the other.
func CopyInto(ctx context.Context, src, dst *DB) (CopyReport, error) {
	start := time.Now()
	var rep CopyReport
	if src.d != sqliteDialect || dst.pg == nil {
		return rep, fmt.Errorf("copy %s into %s: only SQLite into PostgreSQL is supported", src.path, dst.path)
	}
	stx, err := src.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return rep, fmt.Errorf("read %s: begin: %w", src.path, err)
	}
	defer stx.Rollback() //nolint:errcheck // read-only: nothing to keep
	tables, err := listTables(ctx, sqliteTables, func(ctx context.Context, q string) (sqlRows, error) {
		r, err := stx.QueryContext(ctx, q)
		return sqlRows{r}, err
	})
	if err != nil {
		return rep, fmt.Errorf("read %s: %w", src.path, err)
	}
	srcCounts, err := countIn(ctx, stx.QueryRowContext, tables)
	if err != nil {
		return rep, fmt.Errorf("count rows in %s: %w", src.path, err)
	}

	ptx, err := dst.pg.writePool.Begin(ctx)
	if err != nil {
		return rep, fmt.Errorf("write %s: begin: %w", dst.path, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		ptx.Rollback(rctx) //nolint:errcheck // no-op after commit
	}()
	if err := ptx.QueryRow(ctx, `SELECT current_schema()`).Scan(&rep.Schema); err != nil {
		return rep, fmt.Errorf("write %s: read the schema: %w", dst.path, err)
	}
	where := dst.path + " (schema " + rep.Schema + ")"
	// Held until commit: no replica's writer, and no second copy, can write these tables
	// meanwhile, so the emptiness check below still holds when the copy commits. Table locks,
	// not the writer lock: that one would also hold up the target's lease renewals (which touch
	// only leases) for the whole copy.
	dstTables, err := listTables(ctx, pgTables, func(ctx context.Context, q string) (pgx.Rows, error) { return ptx.Query(ctx, q) })
	if err != nil {
		return rep, fmt.Errorf("write %s: %w", where, err)
	}
	if err := sameTables(tables, dstTables); err != nil {
		return rep, fmt.Errorf("copy into %s: %w", where, err)
	}
	quoted := make([]string, len(tables))
	for i, t := range tables {
		quoted[i] = quoteIdent(t)
	}
	if _, err := ptx.Exec(ctx, `LOCK TABLE `+strings.Join(quoted, ", ")+` IN EXCLUSIVE MODE`); err != nil {
		return rep, fmt.Errorf("write %s: lock the tables: %w", where, err)
	}
	if err := checkEmpty(ctx, ptx, tables); err != nil {
		return rep, fmt.Errorf("copy into %s: %w", where, err)
	}
	for _, table := range tables {
		t0 := time.Now()
		n, err := copyTable(ctx, stx, ptx, table)
		if err != nil {
			return rep, fmt.Errorf("copy %s into %s: %w", table, where, err)
		}
		if n != srcCounts[table] {
			return rep, fmt.Errorf("copy %s into %s: copied %d rows of the %d the source holds", table, where, n, srcCounts[table])
		}
		if err := moveIdentities(ctx, ptx, table); err != nil {
			return rep, fmt.Errorf("copy %s into %s: %w", table, where, err)
		}
		rep.Tables = append(rep.Tables, TableCount{Table: table, Source: srcCounts[table], Copied: n})
		dst.log.Info("table copied", "table", table, "rows", n, "took", time.Since(t0).Round(time.Millisecond).String())
	}
	if err := ptx.Commit(ctx); err != nil {
		return rep, fmt.Errorf("copy into %s: commit: %w", where, err)
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// checkEmpty fails with ErrTargetNotEmpty naming every copied table that already has rows.
func checkEmpty(ctx context.Context, ptx pgx.Tx, tables []string) error {
	counts, err := countIn(ctx, func(ctx context.Context, q string, _ ...any) scanner { return ptx.QueryRow(ctx, q) }, tables)
	if err != nil {
		return fmt.Errorf("check that the target is empty: %w", err)
	}
	var full []string
	for _, t := range tables {
		if counts[t] > 0 {
			full = append(full, fmt.Sprintf("%s has %d rows", t, counts[t]))
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w (%s): copy only into a new database or schema", ErrTargetNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

type scanner interface{ Scan(...any) error }

// sqlRows gives *sql.Rows the Close that listTables wants (pgx.Rows' returns nothing).
type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() } //nolint:errcheck // read-only; Err reports a failed read

// countIn counts the rows of tables through queryRow; callers pass a snapshot transaction's,
// so the counts are of one moment.
func countIn[R scanner](ctx context.Context, queryRow func(context.Context, string, ...any) R, tables []string) (map[string]int64, error) {
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := queryRow(ctx, `SELECT count(*) FROM `+quoteIdent(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// TableCounts returns the row count of every table CopyInto copies, all read in one snapshot.
func (db *DB) TableCounts(ctx context.Context) (map[string]int64, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.pg != nil {
		opts.Isolation = sql.LevelRepeatableRead // one snapshot for every count
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("count rows in %s: begin: %w", db.path, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	q := sqliteTables
	if db.pg != nil {
		q = pgTables
	}
	tables, err := listTables(ctx, q, func(ctx context.Context, q string) (sqlRows, error) {
		r, err := tx.QueryContext(ctx, q)
		return sqlRows{r}, err
	})
	if err != nil {
		return nil, fmt.Errorf("count rows in %s: %w", db.path, err)
	}
	counts, err := countIn(ctx, tx.QueryRowContext, tables)
	if err != nil {
		return nil, fmt.Errorf("count rows in %s: %w", db.path, err)
	}
	return counts, nil
}

// pgColumn is a column of the target table.
type pgColumn struct{ name, typ string }

// copyTable streams one table from the SQLite snapshot into PostgreSQL with COPY. The column
// list is the target's; the source must have exactly the same columns, or the two schemas are
// not at the same version and the copy would drop or invent data.
func copyTable(ctx context.Context, stx *sql.Tx, ptx pgx.Tx, table string) (int64, error) {
	cols, err := targetColumns(ctx, ptx, table)
	if err != nil {
		return 0, err
	}
	if err := sameColumns(ctx, stx, table, cols); err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	conv := make([]func(any) (any, error), len(cols))
	for i, c := range cols {
		names[i], quoted[i] = c.name, quoteIdent(c.name)
		if conv[i], err = converterFor(c.typ); err != nil {
			return 0, fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+quoteIdent(table))
	if err != nil {
		return 0, fmt.Errorf("read the source: %w", err)
	}
	defer rows.Close()
	rs := newRowSource(rows, names, conv)
	n, err := ptx.CopyFrom(ctx, pgx.Identifier{table}, names, rs)
	if err != nil {
		if rs.err != nil { // the source's error, which pgx may have wrapped or replaced
			return 0, rs.err
		}
		return 0, fmt.Errorf("COPY: %w", err)
	}
	return n, nil
}

func targetColumns(ctx context.Context, ptx pgx.Tx, table string) ([]pgColumn, error) {
	rows, err := ptx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("read the target's columns: %w", err)
	}
	cols, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgColumn, error) {
		var c pgColumn
		err := r.Scan(&c.name, &c.typ)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the target's columns: %w", err)
	}
	if len(cols) == 0 {
		return nil, errors.New("the target has no such table")
	}
	return cols, nil
}

func sameColumns(ctx context.Context, stx *sql.Tx, table string, cols []pgColumn) error {
	rows, err := stx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return fmt.Errorf("read the source's columns: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("read the source's columns: %w", err)
		}
		have[name] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the source's columns: %w", err)
	}
	var missing, extra []string
	for _, c := range cols {
		if !have[c.name] {
			missing = append(missing, c.name)
		}
		delete(have, c.name)
	}
	for name := range have {
		extra = append(extra, name)
	}
	sort.Strings(extra)
	switch {
	case len(missing) > 0:
		return fmt.Errorf("the source has no column %s: the two schemas are not at the same version", strings.Join(missing, ", "))
	case len(extra) > 0:
		return fmt.Errorf("the target has no column %s: the two schemas are not at the same version", strings.Join(extra, ", "))
	}
	return nil
}

// moveIdentities sets each identity column's sequence to the highest id copied, so the next
// insert takes the id after it (copied ids were given explicitly and did not advance it).
func moveIdentities(ctx context.Context, ptx pgx.Tx, table string) error {
	rows, err := ptx.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'`, table)
	if err != nil {
		return fmt.Errorf("find identity columns: %w", err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find identity columns: %w", err)
	}
	for _, col := range cols {
		// No row: the sequence stays at its start (setval cannot go below 1).
		if _, err := ptx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), m) FROM (SELECT max(`+quoteIdent(col)+`) AS m FROM `+
			quoteIdent(table)+`) s WHERE m IS NOT NULL`, quoteIdent(table), col); err != nil {
			return fmt.Errorf("move the identity of %s past the copied ids: %w", col, err)
		}
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
