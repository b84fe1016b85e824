package storage

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// migrate applies, in order, every embedded migration of the engine not yet recorded in
// schema_migrations. Migrations are forward-only; each runs in its own transaction with its
// record (both engines' DDL is transactional), so a process killed mid-way leaves the
// database at the previous version and the next start applies the rest. lock, if set, is run
// first on the same connection and unlock after: on PostgreSQL, replicas starting together
// take turns, and the second finds nothing left to do.
func migrate(ctx context.Context, conn *sql.Conn, d *dialect, lock, unlock string) error {
	if lock != "" {
		if _, err := conn.ExecContext(ctx, lock); err != nil {
			return fmt.Errorf("take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), unlock) //nolint:errcheck // the session ends with the connection anyway
	}
	if _, err := conn.ExecContext(ctx, d.schemaMigrations); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	ms, err := migrations(d)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyMigration(ctx, conn, d, m); err != nil {
			return err
		}
	}
	return nil
}

type migration struct {
	version int
	name    string // the file's base name
	file    string // its path in migrationFS
}

func migrations(d *dialect) ([]migration, error) {
	names, err := fs.Glob(migrationFS, d.migrationsDir+"/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number: %w", base, err)
		}
		out = append(out, migration{version: version, name: base, file: name})
	}
	return out, nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, d *dialect, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	var n int
	if err := tx.QueryRowContext(ctx, d.sql(`SELECT count(*) FROM schema_migrations WHERE version = ?`), m.version).Scan(&n); err != nil {
		return fmt.Errorf("migration %s: check: %w", m.name, err)
	}
	if n > 0 {
		return nil
	}
	script, err := migrationFS.ReadFile(m.file)
	if err != nil {
		return fmt.Errorf("migration %s: read: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, string(script)); err != nil {
		return fmt.Errorf("migration %s: apply: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, d.sql(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`), m.version, m.name); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}

// SchemaVersion returns the highest applied migration, for /readyz.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := db.queryRow(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// ExpectedSchemaVersion is the highest migration embedded for this database's engine.
func (db *DB) ExpectedSchemaVersion() int { return expectedVersion(db.d) }

// ExpectedSchemaVersion is the highest migration embedded for SQLite.
func ExpectedSchemaVersion() int { return expectedVersion(sqliteDialect) }

func expectedVersion(d *dialect) int {
	ms, _ := migrations(d)
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}
