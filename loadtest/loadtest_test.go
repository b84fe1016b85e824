package loadtest

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/releaseops/releaseops/integrations/deploy"
)

func TestDeployBodiesAreValidSignedEventsOfTheRequestedSize(t *testing.T) {
	m, _, err := NewMix([]string{"a", "b"}, Secrets{Deploy: "k"}, 4096, "", "testrun1")
	if err != nil {
		t.Fatal(err)
	}
	src := deploy.New("k")
	w := &Worker{Rand: rand.New(rand.NewPCG(1, 2))}
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		r := m.Deploy("d", "/webhooks/deploy", w)
		if err := src.Verify(r.Header, r.Body); err != nil {
			t.Fatalf("signature: %v", err)
		}
		p, err := src.Parse(r.Header, r.Body)
		if err != nil {
			t.Fatalf("parse %s: %v", r.Body, err)
		}
		if p.DeliveryID != r.Header.Get(DeliveryHeader) || seen[p.DeliveryID] {
			t.Fatalf("id %q: header %q, seen before %v", p.DeliveryID, r.Header.Get(DeliveryHeader), seen[p.DeliveryID])
		}
		seen[p.DeliveryID] = true
		// Stamped when sent, as a pipeline reporting a deploy that just finished would.
		if d := p.Facts[0].Deploy; d.FinishedAt == nil || time.Since(*d.FinishedAt) > time.Minute || d.StartedAt == nil ||
			d.FinishedAt.Sub(*d.StartedAt) != deployDuration {
			t.Fatalf("deploy times %v .. %v, want a %s deploy that just finished", d.StartedAt, d.FinishedAt, deployDuration)
		}
		if n := len(r.Body); n < 3900 || n > 4200 {
			t.Fatalf("body of %d bytes, want about 4096", n)
		}
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for q, want := range map[float64]time.Duration{0.5: 50, 0.99: 99, 1: 100, 0.001: 1} {
		if got := Percentile(d, q); got != want {
			t.Errorf("p%v = %v, want %v", q, got, want)
		}
	}
	if Percentile(nil, 0.5) != 0 {
		t.Error("empty input")
	}
}

func TestRunCountsAnswersByStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/busy" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	ok := Load{Workers: 2, Next: func(w *Worker) Request { return Request{Label: "ok", Path: "/ok", Body: []byte("x")} }}
	busy := Load{Workers: 1, Pace: time.Millisecond, Next: func(w *Worker) Request { return Request{Label: "busy", Path: "/busy"} }}
	rep := Run(context.Background(), NewClient(4), srv.URL, 10*time.Millisecond, 200*time.Millisecond, ok, busy)
	if s := rep.Summary("ok"); s.OK == 0 || s.NonOK() != 0 || s.Status[http.StatusAccepted] != s.OK || s.P50 <= 0 || s.Max < s.P99 {
		t.Fatalf("ok: %+v", s)
	}
	if s := rep.Summary("busy"); s.OK != 0 || s.NonOK() == 0 || s.Status[http.StatusServiceUnavailable] != s.NonOK() {
		t.Fatalf("busy: %+v", s)
	}
}
