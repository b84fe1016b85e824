package digest

import (
	"cmp"
	"slices"
	"time"
)

// TopMovers is how many services the organisation digest lists each way.
const TopMovers = 5

// Bands are listed in this order, worst first; any other band a history holds is listed after.
var Bands = []string{"blocked", "watch", "healthy", "mature"}

// Progress is an initiative's standing at the slot: how many of its services meet the target.
type Progress struct {
	Initiative string    `json:"initiative"`
	ID         string    `json:"id"`
	Deadline   time.Time `json:"deadline"` // when it becomes overdue; zero: none
	Day        string    `json:"day,omitempty"`
	Done       int       `json:"done"`
	Total      int       `json:"total"`
	// DoneWeekAgo is Done at the start of the week, -1 when unknown.
	DoneWeekAgo int `json:"done_week_ago"`
}

// OrgInput is everything the organisation digest is made from. Initiatives is nil when
// initiatives are not part of this installation.
type OrgInput struct {
	Channel     string
	Slot        Slot
	Services    []ServiceWeek
	Initiatives []Progress
}

// BandCount is how many services were in a band at the start and the end of the week.
type BandCount struct {
	Band   string `json:"band"`
	Before int    `json:"before"`
	After  int    `json:"after"`
}

// Org is the organisation digest.
type Org struct {
	Channel    string      `json:"channel"`
	Slot       Slot        `json:"slot"`
	Services   int         `json:"services"`
	Unscored   int         `json:"unscored"`
	MeanBefore *float64    `json:"mean_before,omitempty"`
	MeanAfter  *float64    `json:"mean_after,omitempty"`
	Bands      []BandCount `json:"bands"`
	// Up and Down are the biggest movers each way (at most TopMovers), biggest first;
	// services first scored this week are not movers.
	Up   []Change `json:"up"`
	Down []Change `json:"down"`
	// Initiatives by deadline; nil when initiatives are not available.
	Initiatives []Progress `json:"initiatives"`
}

// ComposeOrg makes the organisation digest; ok is false when there are no services at all.
func ComposeOrg(in OrgInput) (Org, bool) {
	if len(in.Services) == 0 {
		return Org{}, false
	}
	changes := changesOf(in.Services)
	d := Org{Channel: in.Channel, Slot: in.Slot, Services: len(changes), Up: []Change{}, Down: []Change{}}
	d.MeanBefore, d.MeanAfter = means(changes)
	counts := map[string]*BandCount{}
	band := func(name string) *BandCount {
		if counts[name] == nil {
			counts[name] = &BandCount{Band: name}
		}
		return counts[name]
	}
	for _, b := range Bands {
		band(b)
	}
	for _, c := range changes {
		if c.Before != nil {
			band(c.Before.Band).Before++
		}
		if c.After != nil {
			band(c.After.Band).After++
		} else {
			d.Unscored++
		}
		if c.Before != nil && c.After != nil && c.Delta > 0 {
			d.Up = append(d.Up, c)
		}
		if c.Before != nil && c.After != nil && c.Delta < 0 {
			d.Down = append(d.Down, c)
		}
	}
	for _, b := range Bands {
		d.Bands = append(d.Bands, *counts[b])
	}
	var others []string
	for name := range counts {
		if !slices.Contains(Bands, name) {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	for _, name := range others {
		d.Bands = append(d.Bands, *counts[name])
	}
	slices.SortStableFunc(d.Up, func(a, b Change) int { return cmp.Or(cmp.Compare(b.Delta, a.Delta), cmp.Compare(a.Service, b.Service)) })
	slices.SortStableFunc(d.Down, func(a, b Change) int { return cmp.Or(cmp.Compare(a.Delta, b.Delta), cmp.Compare(a.Service, b.Service)) })
	d.Up = d.Up[:min(len(d.Up), TopMovers)]
	d.Down = d.Down[:min(len(d.Down), TopMovers)]
	if in.Initiatives != nil {
		d.Initiatives = slices.Clone(in.Initiatives)
		slices.SortStableFunc(d.Initiatives, func(a, b Progress) int {
			return cmp.Or(a.Deadline.Compare(b.Deadline), cmp.Compare(a.Initiative, b.Initiative))
		})
	}
	return d, true
}
