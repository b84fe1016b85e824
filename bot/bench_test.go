package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/catalog"
	"github.com/releaseops/releaseops/storage"
)

// BenchmarkSlashCommand measures /slack/commands for one service, server-side (verify,
// parse, read the scorecard, render, encode), with 10,000 services stored. The target is a
// p99 under 50 ms; it reports p50 and p99.
//
//	go test ./bot -run '^$' -bench SlashCommand -benchtime 2000x
func BenchmarkSlashCommand(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	const services = 10_000
	names := make([]releaseops.Service, 0, services)
	card := testCard()
	ctx := context.Background()
	for i := 0; i < services; i += 500 {
		err := h.db.Writer.Do(ctx, func(tx *storage.Tx) error {
			for j := i; j < i+500; j++ {
				c := *card
				c.Service = fmt.Sprintf("svc-%05d", j)
				c.Score = float64(j%1000) / 10
				raw, _ := json.Marshal(&c)
				if err := storage.PutScore(tx, storage.ScoreRow{Service: c.Service, Score: c.Score, Band: c.Band, Level: c.Level, Card: raw, UpdatedAt: c.UpdatedAt}, true); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for j := range services {
		names = append(names, releaseops.Service{Name: fmt.Sprintf("svc-%05d", j), SlackChannel: "C0X"})
	}
	h.bot.d.Catalog = catalog.New(names)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		body := commandForm(fmt.Sprintf("svc-%05d", (i*7919)%services), "https://hooks.slack.example/commands/1")
		r := signedRequest(http.MethodPost, "/slack/commands", "application/x-www-form-urlencoded", body, time.Now(), signingSecret)
		w := httptest.NewRecorder()
		start := time.Now()
		h.echo.ServeHTTP(w, r)
		lat = append(lat, time.Since(start))
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
