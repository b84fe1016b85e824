package loadtest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRoundRobinSpreadsRequestsEvenlyOverTheReplicas(t *testing.T) {
	var hits [3]atomic.Int64
	var hosts []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			hits[i].Add(1)
			w.WriteHeader(http.StatusAccepted)
		}))
		defer srv.Close()
		hosts = append(hosts, strings.TrimPrefix(srv.URL, "http://"))
	}
	client := NewClient(8)
	client.Transport = &RoundRobin{Next: client.Transport, Hosts: hosts}
	load := Load{Workers: 4, Next: func(w *Worker) Request { return Request{Label: "x", Path: "/x", Body: []byte("b")} }}
	rep := Run(context.Background(), client, "http://"+hosts[0], 0, 150*time.Millisecond, load)
	if s := rep.Summary("x"); s.OK == 0 || s.NonOK() != 0 {
		t.Fatalf("summary %+v", s)
	}
	lo, hi := hits[0].Load(), hits[0].Load()
	for i := range hits {
		lo, hi = min(lo, hits[i].Load()), max(hi, hits[i].Load())
	}
	if lo == 0 || hi-lo > 8 { // each request to the next replica; at most the in-flight ones apart
		t.Fatalf("requests per replica %d %d %d, want even", hits[0].Load(), hits[1].Load(), hits[2].Load())
	}
}

func TestWithSearchPathSetsTheSchemaOfAURLOrADSN(t *testing.T) {
	if got := WithSearchPath("postgres://u@h:5432/db?sslmode=disable", "s1"); got != "postgres://u@h:5432/db?search_path=s1&sslmode=disable" {
		t.Errorf("URL: %s", got)
	}
	if got := WithSearchPath("host=h dbname=db", "s1"); got != "host=h dbname=db search_path=s1" {
		t.Errorf("DSN: %s", got)
	}
}

func TestCPUSampleCountsThisProcess(t *testing.T) {
	g := CPUGroups{Pids: map[string][]int{"self": {1 << 30}}}
	s0 := g.Sample()
	if s0.Groups["self"] != 0 {
		t.Fatalf("a process that does not exist used %v s", s0.Groups["self"])
	}
	use := g.Sample().CoresSince(CPUSample{At: s0.At.Add(-time.Second), Groups: map[string]float64{}})
	if len(use) == 0 || use[0].Cores < 0 {
		t.Fatalf("use %+v", use)
	}
}

// ByHost counts each host's requests and those answered after SlowOver, then starts afresh.
func TestRoundRobinCountsSlowAnswersByHost(t *testing.T) {
	var hosts []string
	for i := 0; i < 2; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i == 1 {
				time.Sleep(30 * time.Millisecond) // always over SlowOver: a lower bound, not a race
			}
			w.WriteHeader(http.StatusAccepted)
		}))
		defer srv.Close()
		hosts = append(hosts, strings.TrimPrefix(srv.URL, "http://"))
	}
	rr := &RoundRobin{Next: http.DefaultTransport, Hosts: hosts, SlowOver: 10 * time.Millisecond}
	client := &http.Client{Transport: rr}
	for i := 0; i < 6; i++ {
		resp, err := client.Get("http://" + hosts[0] + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	got := rr.ByHost()
	if len(got) != 2 || got[0].Requests != 3 || got[1].Requests != 3 || got[1].Slow != 3 || got[0].Host != hosts[0] {
		t.Fatalf("by host %+v, want 3 requests each and host 1's 3 slow", got)
	}
	if again := rr.ByHost(); again[0].Requests != 0 || again[1].Slow != 0 {
		t.Fatalf("after ByHost the counts did not start afresh: %+v", again)
	}
}
