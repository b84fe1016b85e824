package storage

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/releaseops/releaseops/internal/pgtest"
)

// opener opens the subtest's database; called again, it opens the same one.
type opener func(opts Options) *DB

// eachDriver runs fn once per engine: SQLite always, PostgreSQL when pgtest's variable is
// set (skipped with a message otherwise). The storage suite is these same tests on both.
func eachDriver(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run(DriverSQLite, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "test.db")
		fn(t, func(opts Options) *DB {
			t.Helper()
			db, err := Open(context.Background(), path, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run(DriverPostgres, func(t *testing.T) {
		url := pgtest.URL(t)
		fn(t, func(opts Options) *DB {
			t.Helper()
			db, err := OpenPostgres(context.Background(), url, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}
