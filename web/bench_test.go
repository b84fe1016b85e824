package web

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/releaseops/releaseops/scoring"
)

// BenchmarkServicePage serves /services/checkout through the router: three SQLite reads,
// decoding a scorecard of 9 dimensions and 30 signals with evidence, the chart, the template.
func BenchmarkServicePage(b *testing.B) {
	f := newFixture(b)
	req := httptest.NewRequest(http.MethodGet, "/services/checkout", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		f.Echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkServicePageRender times the part that is this package's own work: arranging the
// view and executing the template, with the storage reads done once outside the loop.
func BenchmarkServicePageRender(b *testing.B) {
	f := newFixture(b)
	h := newHandler(f.deps())
	ctx := context.Background()
	var card scoring.Scorecard
	if _, err := h.card(ctx, "checkout", &card); err != nil {
		b.Fatal(err)
	}
	start := now.Add(-h.d.HistoryWindow)
	points, err := f.DB.History(ctx, "checkout", start)
	if err != nil {
		b.Fatal(err)
	}
	info, _ := f.Catalog.Get("checkout")
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		v := h.serviceView(&card, info, true, points, nil, start, now)
		if err := renderTo(&buf, "service", v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/page")
}
