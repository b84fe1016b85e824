package crashtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// replicaCheckOrder fails the test when a channel received two posts out of their queue
// order. Every post here is queued by one transaction at a time per channel (approval
// requests under the exclusive writer lock; release notes by the one sender), so a lower id
// was committed first and must be posted first, whichever replica sent it and across kills.
func replicaCheckOrder(t *testing.T, ctx context.Context, pool *pgxpool.Pool, slack *replicaSlack) (checked int) {
	t.Helper()
	type queued struct {
		id     int64
		target string
	}
	rows, err := pool.Query(ctx, `SELECT key, id, target FROM outbox WHERE kind = 'slack.post'`)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]queued{}
	for rows.Next() {
		var k string
		var q queued
		if err := rows.Scan(&k, &q.id, &q.target); err != nil {
			t.Fatal(err)
		}
		byKey[k] = q
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slack.fakeSlack.mu.Lock()
	defer slack.fakeSlack.mu.Unlock()
	for ch, msgs := range slack.byCh {
		var last int64
		lastKey := ""
		for _, m := range msgs {
			md, _ := m["metadata"].(map[string]any)
			p, _ := md["event_payload"].(map[string]any)
			key, _ := p["key"].(string)
			q, ok := byKey[key]
			if !ok || q.target != ch {
				continue
			}
			checked++
			if q.id < last {
				t.Errorf("channel %s: %s (outbox id %d) was posted after %s (id %d)", ch, key, q.id, lastKey, last)
			}
			last, lastKey = q.id, key
		}
	}
	return checked
}
