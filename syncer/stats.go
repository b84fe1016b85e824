package syncer

import (
	"context"
	"sync/atomic"
	"time"
)

// Stats counts what a run cost. Transports count into the Stats carried by the request's
// context (WithStats), so concurrent reads add up without sharing anything else.
type Stats struct {
	Requests    atomic.Int64 // API calls made, 304s included
	NotModified atomic.Int64 // 304 answers to conditional requests
	RateWaits   atomic.Int64 // times a read waited for a rate limit to reset
	WaitedNanos atomic.Int64 // total time spent waiting for rate limits
}

type statsKey struct{}

// WithStats returns ctx carrying s.
func WithStats(ctx context.Context, s *Stats) context.Context {
	return context.WithValue(ctx, statsKey{}, s)
}

// StatsFrom returns the Stats ctx carries, or nil.
func StatsFrom(ctx context.Context) *Stats {
	s, _ := ctx.Value(statsKey{}).(*Stats)
	return s
}

// CountRequest records one API call; notModified when it was answered 304.
func CountRequest(ctx context.Context, notModified bool) {
	if s := StatsFrom(ctx); s != nil {
		s.Requests.Add(1)
		if notModified {
			s.NotModified.Add(1)
		}
	}
}

// CountWait records one wait for a rate limit of length d.
func CountWait(ctx context.Context, d time.Duration) {
	if s := StatsFrom(ctx); s != nil {
		s.RateWaits.Add(1)
		s.WaitedNanos.Add(int64(d))
	}
}

// Sleep waits d, or until ctx is done (then it returns ctx's error). The sources' transports
// use it as their default wait; tests inject their own.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
