package storage

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/internal/pgtest"
)

// Large bodies go through TOAST compression; on PostgreSQL they use lz4 (migration 0014),
// and read back byte for byte.
func TestPostgresCompressesBodiesWithLZ4(t *testing.T) {
	db := openPG(t, pgtest.URL(t))
	d := pipeDelivery("lz4-body", "checkout")
	d.Body = []byte(`{"payload":"` + strings.Repeat("a compressible webhook body ", 400) + `"}`)
	if _, err := db.Writer.StoreDelivery(context.Background(), d, nil, t0); err != nil {
		t.Fatal(err)
	}
	var method string
	var body []byte
	err := db.queryRow(context.Background(), `SELECT coalesce(pg_column_compression(body), ''), body FROM deliveries WHERE delivery_id = 'lz4-body'`).Scan(&method, &body)
	if err != nil {
		t.Fatal(err)
	}
	if method != "lz4" {
		t.Errorf("the body is compressed with %q, want lz4", method)
	}
	if !bytes.Equal(body, d.Body) {
		t.Errorf("the body read back differs (%d bytes, stored %d)", len(body), len(d.Body))
	}
}
