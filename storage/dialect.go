package storage

import (
	"strconv"
	"strings"
	"sync"
)

// Driver names, as storage.driver spells them.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// dialect is what differs between the two engines. The queries in this package are written
// once, in the SQL both accept, with SQLite's placeholders (? and ?N); PostgreSQL's dialect
// rewrites them when they are first used. Anything that cannot be written once lives beside
// its driver (sqlite.go, postgres.go).
type dialect struct {
	name string
	// rebind turns a query into the engine's own spelling; nil leaves it as written.
	rebind func(string) string
	// batchLock, if set, is the exclusive writer lock and sharedLock its shared mode: a write
	// transaction takes one before its first statement (writer_lock.go).
	batchLock, sharedLock string
	// migrationsDir holds the embedded migrations of this engine.
	migrationsDir string
	// schemaMigrations creates the table that records applied migrations.
	schemaMigrations string
	// nowMillis is the database's clock, in unix milliseconds, as SQL: leases are timed by
	// one clock however many replicas' clocks disagree.
	nowMillis string
}

func (d *dialect) sql(q string) string {
	if d.rebind == nil {
		return q
	}
	return d.rebind(q)
}

// rebinds caches PostgreSQL spellings: the package's queries are a small fixed set, each built
// once and then only looked up.
var rebinds sync.Map // string → string

// postgresRebind rewrites SQLite placeholders to PostgreSQL's ($N) and drops SQLite's planner
// hints: a unary + before a column ("+service") stops SQLite from choosing an index on it and
// means nothing to PostgreSQL's planner (which rejects + on text). A bare ? takes the next
// number; ?N keeps its own. Text inside single quotes and double-quoted names is left alone.
func postgresRebind(q string) string {
	if v, ok := rebinds.Load(q); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	next := 1
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(q[i+1:], c)
			if j < 0 {
				b.WriteString(q[i:])
				i = len(q)
				continue
			}
			b.WriteString(q[i : i+j+2])
			i += j + 1
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
			} else {
				b.WriteString(strconv.Itoa(next))
				next++
			}
			i = j - 1
		case c == '+' && i+1 < len(q) && isIdentStart(q[i+1]) && (i == 0 || q[i-1] == ' ' || q[i-1] == '(' || q[i-1] == '\t' || q[i-1] == '\n'):
			// the hint: drop it
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	rebinds.Store(q, out)
	return out
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

var sqliteDialect = &dialect{
	name:          DriverSQLite,
	migrationsDir: "migrations/sqlite",
	schemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))`,
	nowMillis: `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`,
}

var postgresDialect = &dialect{
	name:          DriverPostgres,
	rebind:        postgresRebind,
	migrationsDir: "migrations/postgres",
	schemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))`,
	nowMillis: `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`,
}
