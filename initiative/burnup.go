package initiative

import (
	"slices"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/scoring"
)

// Point is one day of a burn-up: at the end of Day, Done of the Total covered services the
// target applies to met it.
type Point struct {
	Day   string    `json:"day"` // YYYY-MM-DD
	At    time.Time `json:"at"`  // the moment judged: the end of the day, or now for today
	Done  int       `json:"done"`
	Total int       `json:"total"`
	// Source says where the point comes from: "recorded" (the stored cards, judged shortly
	// after the day ended), "replayed" (the stored facts through the engine, see Replay) or
	// "live" (today's, from the stored cards now). Empty for a point BurnUp computes.
	Source string `json:"source,omitempty"`
}

// Sources of a burn-up point.
const (
	SourceRecorded = "recorded"
	SourceReplayed = "replayed"
	SourceLive     = "live"
)

// MaxPoints bounds a burn-up: beyond it, days are sampled every few days.
const MaxPoints = 90

// DefaultSpan is the burn-up's span when neither the spec nor a creation date gives a start.
const DefaultSpan = 30 * 24 * time.Hour

// BurnUpDays returns the moments a burn-up judges: the end of each day from the initiative's
// start (its start date, else its creation day, else DefaultSpan before now) to today, today
// judged at now. At most MaxPoints, keeping the first and the last day.
func (in *Initiative) BurnUpDays(now time.Time) []time.Time {
	now = now.UTC()
	today := now.Truncate(24 * time.Hour)
	begin := in.firstDay(now)
	days := int(today.Sub(begin).Hours()/24) + 1
	step := (days + MaxPoints - 1) / MaxPoints
	var out []time.Time
	for i := 0; i < days; i += step {
		out = append(out, begin.Add(time.Duration(i+1)*24*time.Hour-time.Millisecond))
	}
	if last := today.Add(24*time.Hour - time.Millisecond); out[len(out)-1] != last {
		out = append(out, last)
	}
	out[len(out)-1] = now
	return out
}

// firstDay is the burn-up's first day (00:00 UTC) at now: the start date, else the creation
// day, else DefaultSpan back; never after today.
func (in *Initiative) firstDay(now time.Time) time.Time {
	today := now.UTC().Truncate(24 * time.Hour)
	begin := in.Begin
	if begin.IsZero() && !in.CreatedAt.IsZero() {
		begin = in.CreatedAt.UTC().Truncate(24 * time.Hour)
	}
	if begin.IsZero() {
		begin = today.Add(-DefaultSpan)
	}
	if begin.After(today) {
		begin = today
	}
	return begin
}

// BurnUp counts, at each moment, the covered services that met the target. cards holds, per
// service name, the service's card at each moment (as Replay returns them; a nil card is a
// service not scored at that moment).
func (in *Initiative) BurnUp(services []releaseops.Service, at []time.Time, cards map[string][]*scoring.Scorecard) []Point {
	covered := in.Covered(services)
	out := make([]Point, len(at))
	for i, t := range at {
		p := Point{Day: t.UTC().Format(dateLayout), At: t.UTC()}
		for _, svc := range covered {
			var card *scoring.Scorecard
			if cs := cards[svc.Name]; i < len(cs) {
				card = cs[i]
			}
			switch state, _ := in.Evaluate(card); state {
			case StateNotApplicable:
			case StateDone:
				p.Done++
				p.Total++
			default:
				p.Total++
			}
		}
		out[i] = p
	}
	return out
}

// Grant is a waiver granted at run time (an exemption approved in Slack) and when it was
// granted: a replayed moment sees it only from then on, as the live cards did.
type Grant struct {
	scoring.GrantedWaiver
	From time.Time
}

// Replay scores svc at each moment of at (ascending) from its stored facts and the waivers
// granted to it, as the engine would have then: facts after a moment and waivers granted
// after it are not seen at it (the engine tells a lapsed waiver from a live one by the
// moment). A moment before the service's first fact is scored from the catalog alone, as the
// rescoring worker scores a catalogued service. The sync coverage of the past is not kept,
// so replayed cards carry none.
func Replay(e *scoring.Engine, svc releaseops.Service, facts []releaseops.Fact, grants []Grant, at []time.Time) []*scoring.Scorecard {
	fs := slices.Clone(facts)
	slices.SortStableFunc(fs, func(a, b releaseops.Fact) int { return a.At.Compare(b.At) })
	out := make([]*scoring.Scorecard, len(at))
	idx := &scoring.Index{}
	n := 0
	for i, t := range at {
		for n < len(fs) && !fs[n].At.After(t) {
			n++
		}
		var waivers []scoring.GrantedWaiver
		for _, g := range grants {
			if !g.From.After(t) {
				waivers = append(waivers, g.GrantedWaiver)
			}
		}
		card := e.ScoreIndexed(scoring.Input{Service: svc, Facts: fs[:n], Now: t, Waivers: waivers}, idx)
		out[i] = &card
	}
	return out
}
