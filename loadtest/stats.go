package loadtest

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// Report holds what one Run measured, per endpoint label.
type Report struct {
	mu      sync.Mutex
	series  map[string]*series
	Elapsed time.Duration
}

type series struct {
	lat     []time.Duration // 2xx only: the latency of work that was done
	status  map[int]int
	errs    int
	lastErr string
}

func newReport() *Report { return &Report{series: map[string]*series{}} }

func (r *Report) get(label string) *series {
	s := r.series[label]
	if s == nil {
		s = &series{status: map[int]int{}}
		r.series[label] = s
	}
	return s
}

func (r *Report) record(label string, status int, took time.Duration, err error) {
	s := r.get(label)
	if err != nil {
		s.errs++
		s.lastErr = err.Error()
		return
	}
	s.status[status]++
	if status >= 200 && status < 300 {
		s.lat = append(s.lat, took)
	}
}

func (r *Report) merge(o *Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for label, os := range o.series {
		s := r.get(label)
		s.lat = append(s.lat, os.lat...)
		for k, v := range os.status {
			s.status[k] += v
		}
		s.errs += os.errs
		if os.lastErr != "" {
			s.lastErr = os.lastErr
		}
	}
}

// Summary is one endpoint's figures.
type Summary struct {
	Label     string        `json:"endpoint"`
	OK        int           `json:"ok"`         // 2xx answers
	PerSecond float64       `json:"per_second"` // 2xx answers per second
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
	Status    map[int]int   `json:"status"` // every answer by status code
	Errors    int           `json:"transport_errors"`
	LastError string        `json:"last_error,omitempty"`
}

// Labels returns the endpoint labels seen, sorted.
func (r *Report) Labels() []string {
	out := make([]string, 0, len(r.series))
	for k := range r.series {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Summary computes one endpoint's figures. Percentiles are exact (nearest rank) over every
// 2xx answer after the warm-up.
func (r *Report) Summary(label string) Summary {
	s := r.series[label]
	out := Summary{Label: label, Status: map[int]int{}}
	if s == nil {
		return out
	}
	lat := slices.Clone(s.lat)
	slices.Sort(lat)
	out.OK = len(lat)
	out.Status = s.status
	out.Errors = s.errs
	out.LastError = s.lastErr
	if r.Elapsed > 0 {
		out.PerSecond = float64(out.OK) / r.Elapsed.Seconds()
	}
	out.P50 = Percentile(lat, 0.50)
	out.P99 = Percentile(lat, 0.99)
	if len(lat) > 0 {
		out.Max = lat[len(lat)-1]
	}
	return out
}

// Percentile returns the nearest-rank percentile q (0..1] of sorted durations.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// NonOK returns the number of answers that were not 2xx, plus transport errors.
func (s Summary) NonOK() int {
	n := s.Errors
	for code, c := range s.Status {
		if code < 200 || code >= 300 {
			n += c
		}
	}
	return n
}
