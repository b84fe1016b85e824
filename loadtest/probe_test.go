package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// A run usually ends by its context while a marker is in flight, through an error path: the
// lags must come back sorted then too, or the bench's percentiles and max are wrong.
func TestScoreLagSortedWhenCutShort(t *testing.T) {
	var mu sync.Mutex
	posts := 0
	var scoredAt time.Time // when the current marker's rescore becomes visible
	updated := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	delays := []time.Duration{30 * time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 1 * time.Millisecond, 10 * time.Millisecond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost {
			if posts == len(delays) {
				http.Error(w, "stopping", http.StatusServiceUnavailable) // the run ends on an error path
				return
			}
			scoredAt = time.Now().Add(delays[posts])
			posts++
			w.WriteHeader(http.StatusAccepted)
			return
		}
		at := updated
		if !scoredAt.IsZero() && time.Now().After(scoredAt) {
			updated = updated.Add(time.Second)
			at, scoredAt = updated, time.Time{}
		}
		fmt.Fprintf(w, `{"updated_at":%q}`, at.Format(time.RFC3339Nano))
	}))
	defer srv.Close()
	mix := &Mix{Secrets: Secrets{Deploy: "s"}, RunID: "t"}
	p := &ScoreLag{Client: srv.Client(), Base: srv.URL, Token: "x", Service: "marker", Mix: mix, Poll: time.Millisecond}
	lags, _, err := p.Run(context.Background(), 100, 5*time.Second)
	if err == nil {
		t.Fatal("the run did not end on the refused marker")
	}
	if len(lags) != len(delays) || !slices.IsSorted(lags) {
		t.Fatalf("lags = %v: want %d, sorted", lags, len(delays))
	}
}
