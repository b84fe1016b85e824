package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PeakRSS returns the process's peak resident set size (VmHWM) in bytes, or 0 where
// /proc/self/status is unavailable.
func PeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// ScoreLag measures the time from a deploy event's 2xx to the API serving a scorecard that
// was recomputed after it. It posts marker events for a service that receives no other
// traffic, so a newer updated_at can only come from the marker's rescore.
type ScoreLag struct {
	Client  *http.Client
	Base    string
	Token   string
	Service string
	Mix     *Mix
	// Poll is the pause between two reads of the scorecard; it bounds the resolution.
	Poll time.Duration
}

// Run posts a marker, waits for its effect, and repeats until ctx ends or max samples. A
// marker whose effect is not seen within timeout counts as a failure.
func (s *ScoreLag) Run(ctx context.Context, max int, timeout time.Duration) (lags []time.Duration, failures int, err error) {
	// Sorted however Run ends: the callers take percentiles, and a run cut short by its context
	// (the usual end of a phase) returns through the error paths.
	defer func() { slices.Sort(lags) }()
	r := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	for len(lags)+failures < max && ctx.Err() == nil {
		before, err := s.updatedAt(ctx)
		if err != nil {
			return lags, failures, err
		}
		req := SignedDeploy("marker", "/webhooks/deploy", s.Mix.Secrets.Deploy, s.Mix.NextID("marker"), s.Service, 1024, r, time.Now())
		status, err := send(ctx, s.Client, s.Base, req)
		if err != nil {
			return lags, failures, err
		}
		if status != http.StatusAccepted {
			return lags, failures, fmt.Errorf("marker event answered %d", status)
		}
		acked := time.Now()
		seen := false
		for time.Since(acked) < timeout && ctx.Err() == nil {
			at, err := s.updatedAt(ctx)
			if err != nil {
				return lags, failures, err
			}
			if at.After(before) {
				lags = append(lags, time.Since(acked))
				seen = true
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(s.Poll):
			}
		}
		if !seen && ctx.Err() == nil {
			failures++
		}
	}
	return lags, failures, nil
}

func (s *ScoreLag) updatedAt(ctx context.Context) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base+"/api/v1/services/"+s.Service, nil)
	if err != nil {
		return time.Time{}, fmt.Errorf("build score request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Token)
	resp, err := s.Client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("read score of %s: %w", s.Service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		_, _ = io.Copy(io.Discard, resp.Body)
		return time.Time{}, nil // not scored yet
	}
	var card struct {
		UpdatedAt time.Time `json:"updated_at"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&card); err != nil {
		return time.Time{}, fmt.Errorf("decode score of %s (status %d): %w", s.Service, resp.StatusCode, err)
	}
	return card.UpdatedAt, nil
}
