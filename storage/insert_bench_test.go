package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
)

// BenchmarkInsertDelivery measures the writer's cost of one 4 KB deploy delivery with its fact
// (what the ingest path commits), against a bare 4 KB row in a one-index table (the
// verify-and-commit ceiling's insert), both in batches of 8 per transaction.
func BenchmarkInsertDelivery(b *testing.B) {
	body := []byte(`{"id":"x","service":"svc","environment":"production","status":"succeeded","note":"` + strings.Repeat("x", 3900) + `"}`)
	for _, mode := range []string{"product", "bare"} {
		b.Run(mode, func(b *testing.B) {
			db, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			db.Writer.Do(ctx, func(t *Tx) error {
				_, err := t.Exec(`CREATE TABLE bare (delivery_id TEXT PRIMARY KEY, received_at INTEGER NOT NULL, body BLOB NOT NULL)`)
				return err
			})
			at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
			b.ResetTimer()
			for i := 0; i < b.N; i += 8 {
				var ds []*NewDelivery
				for k := 0; k < 8; k++ {
					id := fmt.Sprintf("d-%d-%d", i, k)
					subj := releaseops.Subject{Kind: releaseops.SubjectService, Key: "svc"}
					d := &NewDelivery{Source: "deploy", DeliveryID: id, Type: "deploy", Subject: subj, Service: "svc", Outcome: "stored",
						ReceivedAt: at, Headers: map[string]string{"Content-Type": "application/json", "X-Releaseops-Signature": "sha256=" + strings.Repeat("a", 64)},
						Body: body, Facts: []releaseops.Fact{{Kind: releaseops.FactDeploy, Subject: subj, Service: "svc", At: at,
							Evidence: releaseops.Evidence{Source: "deploy", Event: "deploy", Delivery: id, At: at},
							Deploy:   &releaseops.Deploy{ID: id, Environment: "production", Status: "succeeded", Kind: "deploy"}}}}
					d.Prepare()
					ds = append(ds, d)
				}
				err := db.Writer.Do(ctx, func(t *Tx) error {
					for _, d := range ds {
						if mode == "bare" {
							if _, err := t.Exec(`INSERT INTO bare (delivery_id, received_at, body) VALUES (?, ?, ?)`, d.DeliveryID, 1, d.Body); err != nil {
								return err
							}
							continue
						}
						if _, _, err := InsertDelivery(t, d); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
