package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/digest"
	"github.com/releaseops/releaseops/scoring"
	"github.com/releaseops/releaseops/storage"
)

// configWaivers are the waivers of scoring.waivers as digest exemptions: an exemption granted
// in the config file lapses like one granted in Slack, and the team should hear of it.
type configWaivers []scoring.Waiver

// Expiring returns the config waivers that lapse in [from, to).
func (ws configWaivers) Expiring(_ context.Context, from, to time.Time) ([]digest.Exemption, error) {
	var out []digest.Exemption
	for _, w := range ws {
		exp, err := waiverExpiry(w.Expires)
		if err != nil {
			return nil, fmt.Errorf("scoring.waivers %s/%s: %w", w.Service, w.Signal, err)
		}
		if !exp.Before(from) && exp.Before(to) {
			out = append(out, digest.Exemption{Service: w.Service, Signal: w.Signal, Expires: exp, Reason: w.Reason})
		}
	}
	return out, nil
}

// waiverExpiry reads a waiver's expires as the scoring engine does: an RFC 3339 time, or a
// date meaning the end of that day in UTC. The config was validated by the engine, so an
// error here means the two readings have drifted apart.
func waiverExpiry(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24*time.Hour - time.Nanosecond), nil
	}
	return time.Time{}, fmt.Errorf("expires %q is neither an RFC 3339 time nor a date", s)
}

// storedExemptions are the exemptions approved in Slack (storage), as digest exemptions.
type storedExemptions struct{ db *storage.DB }

// Expiring returns the approved exemptions that lapse in [from, to).
func (s storedExemptions) Expiring(ctx context.Context, from, to time.Time) ([]digest.Exemption, error) {
	rows, err := s.db.ExemptionsExpiringBetween(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]digest.Exemption, 0, len(rows))
	for _, r := range rows {
		out = append(out, digest.Exemption{Service: r.Service, Signal: r.Signal, Expires: r.ExpiresAt, Reason: r.Reason})
	}
	return out, nil
}
