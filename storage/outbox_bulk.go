package storage

import "fmt"

// insertOutboxesPGSQL queues several messages in one statement on PostgreSQL, their ids in
// the given order (ORDER BY the ordinality: per-target order follows ids). A key queued before,
// or twice in the list, inserts nothing and returns no row.
const insertOutboxesPGSQL = `INSERT INTO outbox (key, kind, target, service, payload, state, created_at, next_attempt)
	SELECT x.key, x.kind, x.target, x.service, x.payload, 'pending', x.at, x.at
	FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::bigint[]) WITH ORDINALITY AS x(key, kind, target, service, payload, at, n)
	ORDER BY x.n
	ON CONFLICT (key) DO NOTHING RETURNING key`

// InsertOutboxes queues rows in t, in their order, as InsertOutbox does each: on PostgreSQL in
// one statement, where one each is one network round trip inside the transaction (a rescoring
// round's release-notes jobs waited on 50 of them in turn). inserted[i] is false when rows[i]'s
// key was queued before (or earlier in rows).
func InsertOutboxes(t *Tx, rows []OutboxRow) (inserted []bool, err error) {
	inserted = make([]bool, len(rows))
	if t.w.d.name != DriverPostgres || len(rows) < 2 {
		for i, r := range rows {
			if inserted[i], err = InsertOutbox(t, r); err != nil {
				return nil, err
			}
		}
		return inserted, nil
	}
	n := len(rows)
	key, kind, target, service, at := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	payload := make([][]byte, n)
	for i, r := range rows {
		key[i], kind[i], target[i], service[i], payload[i], at[i] = r.Key, r.Kind, r.Target, r.Service, r.Payload, r.CreatedAt.UTC().UnixMilli()
	}
	res, err := t.Query(insertOutboxesPGSQL, key, kind, target, service, payload, at)
	if err != nil {
		return nil, fmt.Errorf("queue %d messages: %w", n, err)
	}
	defer res.Close()
	got := map[string]bool{}
	for res.Next() {
		var k string
		if err := res.Scan(&k); err != nil {
			return nil, fmt.Errorf("queue %d messages: %w", n, err)
		}
		got[k] = true
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("queue %d messages: %w", n, err)
	}
	for i, r := range rows {
		if got[r.Key] {
			inserted[i], got[r.Key] = true, false // a key listed twice is inserted once: its first
		}
	}
	return inserted, nil
}
