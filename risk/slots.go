package risk

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// How a slot is scored. A slot's score is the chance a production deploy started in it
// succeeds, as far as the history says, lowered where nobody would be around to fix it:
//
//	org(all)  = (S_org + 1) / (N_org + 2)                          the organisation, every hour
//	org(w,h)  = (S_org(w,h) + K·org(all)) / (N_org(w,h) + K)        the organisation at weekday w, hour h
//	own(w,h)  = (S_svc(w,h) + K·org(w,h)) / (N_svc(w,h) + K)        the service at w, h
//	score     = own(w,h) × (1 − OnCallWeight·v_oncall) × (1 − CalendarWeight·v_time)
//
// N are production deploys and S the ones that neither failed nor were rolled back, counted
// by the weekday and hour in the business calendar's zone. Each level is a beta-binomial
// posterior mean whose prior is the level above, worth K = SlotPrior deploys: a service with
// two deploys on Tuesdays at 10 leans on the organisation's Tuesdays at 10, one with fifty
// leans on its own, and an hour nobody ever deployed in leans on the organisation's overall
// rate (Laplace's rule when there is no history at all). v_oncall and v_time are the values
// the on_call and deploy_time risk factors give (0 best, 1 worst; the config's unknown,
// off_hours, weekend, holiday and friday_afternoon), so the ranking and the risk agree on what
// a bad moment is.
const (
	// SlotPrior is K: how many deploys the level above weighs against a cell's own.
	SlotPrior = 10.0
	// OnCallWeight: nobody on call takes 15% off the score, unknown coverage half that.
	OnCallWeight = 0.15
	// CalendarWeight: a weekend or holiday (value 1) takes 20% off, off-hours (0.7) 14%.
	CalendarWeight = 0.2
	// DefaultSlotHours is how far ahead Slots looks when SlotInput.Hours is 0.
	DefaultSlotHours = 72
)

// HourHistory counts production deploys and failed ones by local weekday and hour of the
// model's business calendar. Build it with Model.CountHours; histories of several services
// add up with Merge (the organisation's is the sum of its services').
type HourHistory struct {
	Deploys [7][24]int `json:"deploys"`
	Failed  [7][24]int `json:"failed"`
}

// CountHours buckets deploys by the calendar's local weekday and hour. Bucketing by local
// time keeps "Tuesday 10:00" one hour of people's day across DST changes.
func (m *Model) CountHours(ds []Deploy) HourHistory {
	var h HourHistory
	for _, d := range ds {
		m.AddHour(&h, d.At, d.Failed)
	}
	return h
}

// AddHour counts one deploy into h.
func (m *Model) AddHour(h *HourHistory, at time.Time, failed bool) {
	lt := at.In(m.cal.loc)
	h.Deploys[lt.Weekday()][lt.Hour()]++
	if failed {
		h.Failed[lt.Weekday()][lt.Hour()]++
	}
}

// Merge adds o's counts to h.
func (h *HourHistory) Merge(o *HourHistory) {
	for d := range h.Deploys {
		for hr := range h.Deploys[d] {
			h.Deploys[d][hr] += o.Deploys[d][hr]
			h.Failed[d][hr] += o.Failed[d][hr]
		}
	}
}

// Totals are the deploys and failed deploys over every hour.
func (h *HourHistory) Totals() (deploys, failed int) {
	for d := range h.Deploys {
		for hr := range h.Deploys[d] {
			deploys += h.Deploys[d][hr]
			failed += h.Failed[d][hr]
		}
	}
	return deploys, failed
}

// SlotInput is what Slots ranks.
type SlotInput struct {
	Service     string
	Environment string
	Tier        int
	Now         time.Time
	// Hours is how many hourly slots to rank from Now rounded up to the hour (default 72).
	Hours int
	// Own is the service's production deploy history, Org the organisation's (the service's
	// included), both from CountHours.
	Own, Org HourHistory
	// OnCall is the latest on-call read for the service; nil: no on-call data.
	OnCall *OnCall
	// Windows are the release windows and blackouts; nil: none configured.
	Windows *Windows
}

// Slot is one hour in which a deploy could start.
type Slot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Local is the start in the business calendar's zone, with the zone's abbreviation, so
	// the two 02:00 of a fall-back night can be told apart.
	Local string `json:"local"`
	// Score is the expected success, 0–1; 0 for a closed slot.
	Score float64 `json:"score"`
	// Open is false in a blackout. NeedsHuman marks an open slot outside the release window.
	Open       bool     `json:"open"`
	NeedsHuman bool     `json:"needs_human,omitempty"`
	Reasons    []string `json:"reasons"`
}

// Slots ranks the next in.Hours hourly slots by expected success, best first; closed slots
// (blackouts) come last with their reason, so every hour of the span is accounted for. Ties
// go to the earliest slot. The same input gives the same slots.
func (m *Model) Slots(in SlotInput) []Slot {
	hours := in.Hours
	if hours <= 0 {
		hours = DefaultSlotHours
	}
	orgN, orgF := in.Org.Totals()
	orgAll := float64(orgN-orgF+1) / float64(orgN+2)
	start := m.nextHour(in.Now)
	out := make([]Slot, 0, hours)
	for i := 0; i < hours; i++ {
		// Absolute hours, not local wall times: a fall-back night has two 02:00 and a
		// spring-forward night none, and each real hour is one slot either way.
		s := start.Add(time.Duration(i) * time.Hour)
		out = append(out, m.slot(in, s, s.Add(time.Hour), orgAll, orgN, orgF))
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Open != b.Open {
			return a.Open
		}
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.Start.Before(b.Start)
	})
	return out
}

// nextHour rounds now up to the next whole hour of the calendar's zone (now itself if it is
// one). The zone's offset is used rather than Truncate, which rounds in UTC and would start
// slots at half past in a zone such as Asia/Kolkata.
func (m *Model) nextHour(now time.Time) time.Time {
	_, off := now.In(m.cal.loc).Zone()
	into := time.Duration((now.Unix()+int64(off))%3600)*time.Second + time.Duration(now.Nanosecond())
	if into < 0 {
		into += time.Hour
	}
	if into == 0 {
		return now.UTC()
	}
	return now.Add(time.Hour - into).UTC()
}

func (m *Model) slot(in SlotInput, s, e time.Time, orgAll float64, orgN, orgF int) Slot {
	lt := s.In(m.cal.loc)
	sl := Slot{Start: s, End: e, Local: lt.Format("Mon 2006-01-02 15:04 MST"), Open: true}
	var window string
	if in.Windows != nil {
		st := in.Windows.At(s, in.Environment, in.Service, in.Tier)
		if st.Blackout == "" {
			// A blackout that starts within the hour closes the slot as well: the deploy
			// would still be going out when it begins.
			if late := in.Windows.At(e.Add(-time.Second), in.Environment, in.Service, in.Tier); late.Blackout != "" {
				st = late
			}
		}
		switch {
		case st.Blackout != "":
			sl.Open = false
			r := "closed: " + st.Reason
			if st.Override {
				r += fmt.Sprintf(" (%d approvers may override it)", st.Quorum)
			}
			if st.NextOpenAt != nil {
				r += "; next open " + st.NextOpenAt.In(m.cal.loc).Format("Mon 2006-01-02 15:04 MST")
			}
			sl.Reasons = append(sl.Reasons, r)
			return sl
		case st.OffHours:
			sl.NeedsHuman = true
			window = "window: " + st.Reason
		case st.Reason != "":
			window = "window: " + st.Reason
		}
	}
	wd, hr := lt.Weekday(), lt.Hour()
	on, of := in.Org.Deploys[wd][hr], in.Org.Failed[wd][hr]
	sn, sf := in.Own.Deploys[wd][hr], in.Own.Failed[wd][hr]
	orgCell := (float64(on-of) + SlotPrior*orgAll) / (float64(on) + SlotPrior)
	own := (float64(sn-sf) + SlotPrior*orgCell) / (float64(sn) + SlotPrior)
	sl.Reasons = append(sl.Reasons, historyReason(in.Service, wd, hr, sn, sf, on, of, orgN, orgF, own))
	vOn, onReason := m.slotOnCall(in.OnCall, s, e)
	vTime, timeReason := m.slotTime(s)
	sl.Reasons = append(sl.Reasons, onReason, timeReason)
	if window != "" {
		sl.Reasons = append(sl.Reasons, window)
	}
	sl.Score = round(own*(1-OnCallWeight*vOn)*(1-CalendarWeight*vTime), 3)
	return sl
}

func historyReason(svc string, wd time.Weekday, hr, sn, sf, on, of, orgN, orgF int, own float64) string {
	cell := fmt.Sprintf("on %ss %02d:00-%02d:00", wd, hr, (hr+1)%24)
	var b strings.Builder
	fmt.Fprintf(&b, "history: %.0f%% expected success; ", 100*own)
	switch {
	case sn > 0:
		fmt.Fprintf(&b, "%d of %d production deploys of %s %s succeeded", sn-sf, sn, svc, cell)
	default:
		fmt.Fprintf(&b, "no production deploy of %s %s yet", svc, cell)
	}
	switch {
	case on > 0:
		fmt.Fprintf(&b, ", the organisation's %d of %d", on-of, on)
	case orgN > 0:
		fmt.Fprintf(&b, ", none in the organisation either: its overall %d of %d stands in", orgN-orgF, orgN)
	default:
		b.WriteString(", and no production deploy history in the organisation")
	}
	return b.String()
}

// slotOnCall rates coverage over [s, e) as the on_call risk factor would: 0 covered, the
// config's unknown value where the rota is not known that far ahead, 1 nobody.
func (m *Model) slotOnCall(oc *OnCall, s, e time.Time) (float64, string) {
	switch {
	case oc == nil:
		return m.cfg.Unknown, "on call: unknown, no PagerDuty on-call data for the service"
	case !oc.Covered:
		return 1, "on call: nobody was on call at the last PagerDuty read; page coverage first"
	case oc.Until.IsZero() || !oc.Until.Before(e):
		return 0, fmt.Sprintf("on call: %s covers the slot", oc.Who)
	case oc.Until.After(s):
		return m.cfg.Unknown, fmt.Sprintf("on call: %s hands over at %s, within the slot", oc.Who, oc.Until.In(m.cal.loc).Format("15:04 MST"))
	}
	return m.cfg.Unknown, fmt.Sprintf("on call: unknown, %s's shift ends %s and the next is not known yet", oc.Who, oc.Until.In(m.cal.loc).Format("Mon 15:04 MST"))
}

// slotTime rates the slot's start against the business calendar, as deploy_time does.
func (m *Model) slotTime(s time.Time) (float64, string) {
	f := m.deployTime(Input{Now: s})
	return f.Value, "calendar: " + f.Reason
}
