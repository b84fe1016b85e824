package initiative

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// A burn-up is served from stored points, one per initiative and past day, and today's live
// progress. The points are recorded from the stored cards once a day, just after the day
// ends; the days before the first recorded one (an initiative older than the deployment, a
// spec edited since) are replayed from the stored facts in the background. This file holds
// the pure part of that: which day to record, what a point counts, and how stored points and
// today's progress make the burn-up.

// TeamCount is one owning team's part of a day's point.
type TeamCount struct {
	Owner string `json:"owner"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
}

// TeamCounts is the report's per-team done of total, by owner: what a day's point stores.
func (r *Report) TeamCounts() []TeamCount {
	out := make([]TeamCount, len(r.Teams))
	for i, t := range r.Teams {
		out[i] = TeamCount{Owner: t.Owner, Done: t.Done, Total: t.Total}
	}
	return out
}

// Fingerprint names what the initiative's points count: its filter and target. A stored point
// of another fingerprint counted something else (the spec was edited, or the id reused) and
// is not shown; it is replayed again and replaced.
func (in *Initiative) Fingerprint() string {
	b, _ := json.Marshal(struct {
		Filter Filter `json:"filter"`
		Target Target `json:"target"`
	}{in.Filter, in.Target})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// TargetKey names what Evaluate depends on: two initiatives with one target judge a card alike.
func (in *Initiative) TargetKey() string {
	b, _ := json.Marshal(in.Target)
	return string(b)
}

// Day is t's day, as points name it (YYYY-MM-DD, UTC).
func Day(t time.Time) string { return t.UTC().Format(dateLayout) }

// EndOfDay is the last moment of t's day (UTC): the moment a past day's point judges.
func EndOfDay(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour).Add(24*time.Hour - time.Millisecond)
}

// RecordDay is the day whose point is to be recorded at now from the stored cards: the day
// that ended less than grace ago, as its end. Later than that the cards say more than that day
// knew, so the day is left to the replay. False when there is none, or the day is before the
// initiative's burn-up begins.
func (in *Initiative) RecordDay(now time.Time, grace time.Duration) (time.Time, bool) {
	end := now.UTC().Truncate(24 * time.Hour).Add(-time.Millisecond)
	if now.Sub(end) > grace || end.Before(in.firstDay(now)) {
		return time.Time{}, false
	}
	return end, true
}

// PastDays are the moments of BurnUpDays before today: the ends of the past days it draws.
func (in *Initiative) PastDays(now time.Time) []time.Time {
	d := in.BurnUpDays(now)
	return d[:len(d)-1]
}

// BurnUpOf assembles the burn-up at now: for each of PastDays, its stored point (stored is by
// day, each of this initiative's fingerprint), then today's from live. A past day with no
// stored point is left out, not guessed; missing counts them.
func (in *Initiative) BurnUpOf(now time.Time, stored map[string]Point, live Report) (points []Point, missing int) {
	past := in.PastDays(now)
	points = make([]Point, 0, len(past)+1)
	for _, t := range past {
		p, ok := stored[Day(t)]
		if !ok {
			missing++
			continue
		}
		points = append(points, p)
	}
	points = append(points, Point{Day: Day(live.At), At: live.At, Done: live.Done, Total: live.Total, Source: SourceLive})
	return points, missing
}
