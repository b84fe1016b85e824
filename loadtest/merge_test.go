package loadtest

import (
	"errors"
	"testing"
	"time"
)

// Merged runs count every answer of each over the sum of their measured times, and their
// percentiles are over all the latencies together.
func TestMergeSumsAnswersAndTimes(t *testing.T) {
	a, b := newReport(), newReport()
	for i := 1; i <= 99; i++ {
		a.record("x", 202, time.Duration(i)*time.Millisecond, nil)
	}
	a.Elapsed = 2 * time.Second
	b.record("x", 202, time.Second, nil)
	b.record("x", 503, time.Millisecond, nil)
	b.record("x", 0, 0, errors.New("reset"))
	b.Elapsed = 3 * time.Second
	s := Merge(a, nil, b).Summary("x")
	if s.OK != 100 || s.PerSecond != 20 || s.Status[503] != 1 || s.Errors != 1 || s.Max != time.Second || s.P99 != 99*time.Millisecond {
		t.Fatalf("merged = %+v", s)
	}
}
