package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/releaseops/releaseops"
)

// NewDelivery is a verified delivery ready to store with its facts. Call Prepare outside the
// writer (in the request's goroutine) so the single writer only copies bytes.
type NewDelivery struct {
	Source     string
	DeliveryID string
	Type       string
	Subject    releaseops.Subject
	Service    string
	Outcome    string
	ReceivedAt time.Time
	Headers    map[string]string
	Body       []byte
	Facts      []releaseops.Fact

	headersJSON []byte
	factsJSON   [][]byte
}

// Prepare encodes headers and facts. It is idempotent.
func (d *NewDelivery) Prepare() error {
	if d.headersJSON != nil {
		return nil
	}
	// goccy/go-json: the same bytes as encoding/json, in a fraction of the time, on every
	// webhook's path.
	h, err := gojson.Marshal(d.Headers)
	if err != nil {
		return fmt.Errorf("encode headers of %s delivery %s: %w", d.Source, d.DeliveryID, err)
	}
	d.factsJSON = make([][]byte, len(d.Facts))
	for i := range d.Facts {
		b, err := gojson.Marshal(&d.Facts[i])
		if err != nil {
			return fmt.Errorf("encode fact %d of %s delivery %s: %w", i, d.Source, d.DeliveryID, err)
		}
		d.factsJSON[i] = b
	}
	d.headersJSON = h
	return nil
}

// The statements that store a delivery, its facts and a discovered service: the only ones a
// PostgreSQL transaction runs under the shared writer lock (writer_lock.go).
const (
	insertDeliverySQL = `INSERT INTO deliveries (source, delivery_id, event_type, subject_kind, subject_key, service, outcome, received_at, headers, body)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id`
	insertFactSQL       = `INSERT INTO facts (delivery, service, subject_kind, subject_key, kind, at, data) VALUES (?, ?, ?, ?, ?, ?, ?)`
	recordDiscoveredSQL = `INSERT INTO discovered_services (name, subject, first_seen) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`
	// insertDeliveryPGSQL is both on PostgreSQL in one statement, the facts as arrays: one
	// round trip per delivery instead of one per row, each of which a transaction would wait
	// for while it holds the writer lock. A duplicate returns no row and inserts no fact
	// (the facts' SELECT reads the delivery's RETURNING, empty on conflict). ORDER BY keeps
	// the facts' ids in their order.
	insertDeliveryPGSQL = `WITH d AS (INSERT INTO deliveries (source, delivery_id, event_type, subject_kind, subject_key, service, outcome, received_at, headers, body)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, delivery_id) DO NOTHING RETURNING id),
		f AS (INSERT INTO facts (delivery, service, subject_kind, subject_key, kind, at, data)
			SELECT d.id, x.service, x.subject_kind, x.subject_key, x.kind, x.at, x.data
			FROM d, unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bytea[]) WITH ORDINALITY AS x(service, subject_kind, subject_key, kind, at, data, n)
			ORDER BY x.n)
		SELECT id FROM d`
)

func insertDeliveryPG(t *Tx, d *NewDelivery) (id int64, duplicate bool, err error) {
	return scanDeliveryID(t.QueryRow(insertDeliveryPGSQL, insertDeliveryPGArgs(d)...), d)
}

// insertDeliveryPGArgs are insertDeliveryPGSQL's arguments for d, which is prepared.
func insertDeliveryPGArgs(d *NewDelivery) []any {
	n := len(d.Facts)
	service, kind, key, fk := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]int64, n)
	for i := range d.Facts {
		f := &d.Facts[i]
		service[i], kind[i], key[i], fk[i], at[i] = f.Service, string(f.Subject.Kind), f.Subject.Key, string(f.Kind), f.At.UTC().UnixMilli()
	}
	return []any{d.Source, d.DeliveryID, d.Type, string(d.Subject.Kind), d.Subject.Key, d.Service, d.Outcome,
		d.ReceivedAt.UTC().UnixMilli(), string(d.headersJSON), d.Body,
		service, kind, key, fk, at, d.factsJSON}
}

// scanDeliveryID reads insertDeliveryPGSQL's row: no row is a duplicate.
func scanDeliveryID(row interface{ Scan(...any) error }, d *NewDelivery) (id int64, duplicate bool, err error) {
	err = row.Scan(&id)
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("insert %s delivery %s with %d facts: %w", d.Source, d.DeliveryID, len(d.Facts), err)
	}
	return id, false, nil
}

// InsertDelivery stores d and its facts in t. It reports duplicate=true, and writes nothing,
// when (source, delivery id) is already stored.
func InsertDelivery(t *Tx, d *NewDelivery) (id int64, duplicate bool, err error) {
	if err := d.Prepare(); err != nil {
		return 0, false, err
	}
	if t.w.d.name == DriverPostgres {
		return insertDeliveryPG(t, d)
	}
	// RETURNING, not LastInsertId: PostgreSQL has no last insert id. A duplicate inserts
	// nothing and so returns no row.
	err = t.QueryRow(insertDeliverySQL,
		d.Source, d.DeliveryID, d.Type, string(d.Subject.Kind), d.Subject.Key, d.Service, d.Outcome,
		d.ReceivedAt.UTC().UnixMilli(), string(d.headersJSON), d.Body).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("insert %s delivery %s: %w", d.Source, d.DeliveryID, err)
	}
	for i := range d.Facts {
		f := &d.Facts[i]
		if _, err := t.Exec(insertFactSQL,
			id, f.Service, string(f.Subject.Kind), f.Subject.Key, string(f.Kind), f.At.UTC().UnixMilli(), d.factsJSON[i]); err != nil {
			return 0, false, fmt.Errorf("insert fact %d of %s delivery %s: %w", i, d.Source, d.DeliveryID, err)
		}
	}
	return id, false, nil
}

// DeliveryRow is a stored delivery as listed by the events API.
type DeliveryRow struct {
	ID         int64             `json:"-"`
	Source     string            `json:"source"`
	Type       string            `json:"type"`
	DeliveryID string            `json:"delivery_id"`
	Service    string            `json:"service"`
	Subject    string            `json:"subject,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	Outcome    string            `json:"outcome"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       json.RawMessage   `json:"body,omitempty"`
}

// DeliveryFilter narrows ListDeliveries. Empty fields match everything.
type DeliveryFilter struct {
	Source, Service, Type, Outcome string
	Limit                          int
}

// ListDeliveries returns deliveries newest first, without bodies.
func (db *DB) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]DeliveryRow, error) {
	var where []string
	var args []any
	add := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	add("source", f.Source)
	if f.Service != "" {
		// The service's indexed deliveries and the tail the indexer has not reached yet.
		where = append(where, `id IN (SELECT delivery FROM delivery_index WHERE service = ?
			UNION SELECT id FROM deliveries WHERE `+inDeliveriesTail+` AND +service = ?)`)
		args = append(args, f.Service, f.Service)
	}
	add("event_type", f.Type)
	add("outcome", f.Outcome)
	q := `SELECT id, source, event_type, delivery_id, service, subject_kind, subject_key, received_at, outcome FROM deliveries`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out := []DeliveryRow{}
	for rows.Next() {
		var r DeliveryRow
		var kind, key string
		var at int64
		if err := rows.Scan(&r.ID, &r.Source, &r.Type, &r.DeliveryID, &r.Service, &kind, &key, &at, &r.Outcome); err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		if key != "" {
			r.Subject = kind + ":" + key
		}
		r.ReceivedAt = time.UnixMilli(at).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// GetDelivery returns one delivery with its headers and raw body.
func (db *DB) GetDelivery(ctx context.Context, source, deliveryID string) (DeliveryRow, error) {
	var r DeliveryRow
	var kind, key, headers string
	var at int64
	var body []byte
	err := db.queryRow(ctx, `SELECT id, source, event_type, delivery_id, service, subject_kind, subject_key, received_at, outcome, headers, body
		FROM deliveries WHERE source = ? AND delivery_id = ?`, source, deliveryID).
		Scan(&r.ID, &r.Source, &r.Type, &r.DeliveryID, &r.Service, &kind, &key, &at, &r.Outcome, &headers, &body)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("delivery %s/%s: %w", source, deliveryID, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("get delivery %s/%s: %w", source, deliveryID, err)
	}
	if key != "" {
		r.Subject = kind + ":" + key
	}
	r.ReceivedAt = time.UnixMilli(at).UTC()
	if err := json.Unmarshal([]byte(headers), &r.Headers); err != nil {
		return r, fmt.Errorf("delivery %s/%s headers: %w", source, deliveryID, err)
	}
	if json.Valid(body) {
		r.Body = body
	} else {
		// A form-encoded GitHub delivery is not JSON: return it as a JSON string.
		s, _ := json.Marshal(string(body))
		r.Body = s
	}
	return r, nil
}

// CountDeliveries returns the number of stored deliveries.
func (db *DB) CountDeliveries(ctx context.Context) (int64, error) {
	var n int64
	if err := db.queryRow(ctx, `SELECT count(*) FROM deliveries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return n, nil
}

// HasDelivery reports whether (source, delivery id) is stored.
func (db *DB) HasDelivery(ctx context.Context, source, deliveryID string) (bool, error) {
	var n int
	err := db.queryRow(ctx, `SELECT count(*) FROM deliveries WHERE source = ? AND delivery_id = ?`, source, deliveryID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up delivery %s/%s: %w", source, deliveryID, err)
	}
	return n > 0, nil
}
