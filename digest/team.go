package digest

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Horizons: how far ahead of the slot a digest looks. An initiative deadline is worth hearing
// about for a few weeks before it; an exemption that lapses is worth two digests' notice.
const (
	DeadlineHorizon = 28 * 24 * time.Hour
	ExpiryHorizon   = 14 * 24 * time.Hour
)

// Point is a service's score and band at one moment.
type Point struct {
	Score float64 `json:"score"`
	Band  string  `json:"band"`
}

// ServiceWeek is one service's score at the start and the end of the week: Before is nil when
// it had no score yet, After when it has none at all.
type ServiceWeek struct {
	Service string `json:"service"`
	Before  *Point `json:"before,omitempty"`
	After   *Point `json:"after,omitempty"`
}

// Regression is a drop recorded during the week (the rescoring worker's regression event).
type Regression struct {
	Service  string    `json:"service"`
	At       time.Time `json:"at"`
	From     float64   `json:"from"`
	To       float64   `json:"to"`
	FromBand string    `json:"from_band"`
	ToBand   string    `json:"to_band"`
}

// Deadline is an initiative's deadline with the team's services that still fall short of it.
type Deadline struct {
	Initiative string `json:"initiative"`
	ID         string `json:"id"`
	// Deadline is when the initiative becomes overdue; Day, if set, is the deadline as its
	// author wrote it (2026-12-10), which is what people are shown.
	Deadline  time.Time `json:"deadline"`
	Day       string    `json:"day,omitempty"`
	Remaining []string  `json:"remaining"`
}

// Exemption is a granted exemption (a waiver) and when it lapses.
type Exemption struct {
	Service string    `json:"service"`
	Signal  string    `json:"signal"`
	Expires time.Time `json:"expires"`
	Reason  string    `json:"reason,omitempty"`
}

// TeamInput is everything a team digest is made from. Deadlines and Exemptions are nil when
// the feature that provides them is not part of this installation: their section is left out
// rather than shown empty.
type TeamInput struct {
	Owner       string
	Channel     string
	Slot        Slot
	Services    []ServiceWeek
	Regressions []Regression
	Deadlines   []Deadline
	Exemptions  []Exemption
}

// Change is a service's week: where it started and ended, and by how much it moved.
type Change struct {
	Service string  `json:"service"`
	Before  *Point  `json:"before,omitempty"`
	After   *Point  `json:"after,omitempty"`
	Delta   float64 `json:"delta"`
}

// BandChanged reports whether the service ended the week in another band.
func (c Change) BandChanged() bool {
	return c.Before != nil && c.After != nil && c.Before.Band != c.After.Band
}

// Moved reports whether anything about the service changed over the week.
func (c Change) Moved() bool {
	return c.Delta != 0 || c.BandChanged() || (c.Before == nil) != (c.After == nil)
}

// Team is a team's digest.
type Team struct {
	Owner   string `json:"owner"`
	Channel string `json:"channel"`
	Slot    Slot   `json:"slot"`
	// Moved are the services whose score or band changed (or that got a first score), the
	// biggest fall first; Steady the others, by name; Unscored have no score at all.
	Moved       []Change     `json:"moved"`
	Steady      []Change     `json:"steady"`
	Unscored    []string     `json:"unscored"`
	MeanBefore  *float64     `json:"mean_before,omitempty"`
	MeanAfter   *float64     `json:"mean_after,omitempty"`
	Regressions []Regression `json:"regressions"`
	// Deadlines within DeadlineHorizon of the slot where the team still has work, soonest
	// first; nil when initiatives are not available.
	Deadlines []Deadline `json:"deadlines"`
	// Exemptions lapsing within ExpiryHorizon of the slot, soonest first; nil when
	// exemptions are not available.
	Exemptions []Exemption `json:"exemptions"`
}

// ComposeTeam makes a team's digest. ok is false when the team has no services: there is
// nothing to tell it, and no channel should get an empty digest.
func ComposeTeam(in TeamInput) (Team, bool) {
	if len(in.Services) == 0 {
		return Team{}, false
	}
	d := Team{Owner: in.Owner, Channel: in.Channel, Slot: in.Slot, Regressions: []Regression{}, Moved: []Change{}, Steady: []Change{}, Unscored: []string{}}
	changes := changesOf(in.Services)
	for _, c := range changes {
		switch {
		case c.Before == nil && c.After == nil:
			d.Unscored = append(d.Unscored, c.Service)
		case c.Moved():
			d.Moved = append(d.Moved, c)
		default:
			d.Steady = append(d.Steady, c)
		}
	}
	slices.SortStableFunc(d.Moved, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Delta, b.Delta), cmp.Compare(a.Service, b.Service))
	})
	d.MeanBefore, d.MeanAfter = means(changes)
	for _, r := range in.Regressions {
		if !r.At.Before(in.Slot.From) && r.At.Before(in.Slot.At) {
			d.Regressions = append(d.Regressions, r)
		}
	}
	slices.SortStableFunc(d.Regressions, func(a, b Regression) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Service, b.Service))
	})
	if in.Deadlines != nil {
		d.Deadlines = []Deadline{}
		for _, dl := range in.Deadlines {
			if len(dl.Remaining) > 0 && !dl.Deadline.Before(in.Slot.At) && dl.Deadline.Sub(in.Slot.At) <= DeadlineHorizon {
				dl.Remaining = slices.Sorted(slices.Values(dl.Remaining))
				d.Deadlines = append(d.Deadlines, dl)
			}
		}
		slices.SortStableFunc(d.Deadlines, func(a, b Deadline) int {
			return cmp.Or(a.Deadline.Compare(b.Deadline), cmp.Compare(a.Initiative, b.Initiative))
		})
	}
	if in.Exemptions != nil {
		d.Exemptions = []Exemption{}
		for _, e := range in.Exemptions {
			if !e.Expires.Before(in.Slot.At) && e.Expires.Sub(in.Slot.At) <= ExpiryHorizon {
				d.Exemptions = append(d.Exemptions, e)
			}
		}
		slices.SortStableFunc(d.Exemptions, func(a, b Exemption) int {
			return cmp.Or(a.Expires.Compare(b.Expires), cmp.Compare(a.Service, b.Service), cmp.Compare(a.Signal, b.Signal))
		})
	}
	return d, true
}

// changesOf turns the services' weeks into changes, by name.
func changesOf(ws []ServiceWeek) []Change {
	out := make([]Change, 0, len(ws))
	for _, w := range ws {
		c := Change{Service: w.Service, Before: w.Before, After: w.After}
		if w.Before != nil && w.After != nil {
			c.Delta = round1(w.After.Score - w.Before.Score)
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Compare(a.Service, b.Service) })
	return out
}

// means are the mean scores at the start and the end of the week over the services scored
// then; nil when none was.
func means(cs []Change) (before, after *float64) {
	var sb, sa float64
	var nb, na int
	for _, c := range cs {
		if c.Before != nil {
			sb += c.Before.Score
			nb++
		}
		if c.After != nil {
			sa += c.After.Score
			na++
		}
	}
	if nb > 0 {
		v := round1(sb / float64(nb))
		before = &v
	}
	if na > 0 {
		v := round1(sa / float64(na))
		after = &v
	}
	return before, after
}

// round1 rounds to the tenth shown everywhere, so a move of 0.04 is no move at all.
func round1(v float64) float64 {
	r := math.Round(v*10) / 10
	if r == 0 {
		return 0 // no -0
	}
	return r
}
