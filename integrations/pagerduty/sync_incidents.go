package pagerduty

import (
	"context"
	"net/url"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

type apiIncident struct {
	ID                 string  `json:"id"`
	Number             int     `json:"incident_number"`
	Title              string  `json:"title"`
	Status             string  `json:"status"`
	Urgency            string  `json:"urgency"`
	CreatedAt          string  `json:"created_at"`
	LastStatusChangeAt string  `json:"last_status_change_at"`
	ResolvedAt         *string `json:"resolved_at"`
	HTMLURL            string  `json:"html_url"`
	Service            *apiRef `json:"service"`
	EscalationPolicy   *apiRef `json:"escalation_policy"`
	Priority           *apiRef `json:"priority"`
}

type apiLogEntry struct {
	Type      string `json:"type"`
	CreatedAt string `json:"created_at"`
}

// incidentItem is one incident of the list with the page it came in and its raw item.
type incidentItem struct {
	api  apiIncident
	raw  []byte
	page *fetched
	// log holds the log-entry pages read for its first acknowledgement (none when memory
	// or the incident itself answered).
	log []*fetched
	ack *time.Time
}

// readIncidents reads the incidents of the window (GET /incidents, by creation, oldest
// first, so that pages do not shift as new incidents arrive) and returns one "incident:ID"
// observation each. The first acknowledgement is asked of the log entries only for
// incidents new or changed since the last read: PagerDuty's incident does not keep it.
func (r *serviceRead) readIncidents(ctx context.Context) ([]syncer.Observation, error) {
	q := url.Values{
		"service_ids[]": {r.id},
		"since":         {r.now.Add(-r.s.window).Format(time.RFC3339)},
		"until":         {r.now.Format(time.RFC3339)},
		"statuses[]":    {"triggered", "acknowledged", "resolved"},
		"time_zone":     {"UTC"},
		"sort_by":       {"created_at:asc"},
	}
	_, raws, err := r.f.list(ctx, "/incidents", q, "incidents", what{object: "incidents", scope: "incidents.read"})
	if err != nil {
		return nil, err
	}
	byID := map[string]int{}
	var items []*incidentItem
	for i, raw := range raws {
		it := &incidentItem{raw: raw.raw, page: raw.page}
		if err := r.f.decode(it.page, raw.raw, &it.api); err != nil {
			return nil, err
		}
		if it.api.ID == "" || (it.api.Service != nil && it.api.Service.ID != "" && it.api.Service.ID != r.id) {
			r.s.log.Debug("pagerduty sync: incident of another service in the list; skipped", "service", r.id, "item", i)
			continue
		}
		if j, ok := byID[it.api.ID]; ok { // listed twice across pages: the later answer wins
			items[j] = it
			continue
		}
		byID[it.api.ID] = len(items)
		items = append(items, it)
	}

	r.next = make(map[string]incidentMem, len(items))
	var asks []func(context.Context) error
	for _, it := range items {
		a := it.api
		mem, known := r.old.Incidents[a.ID]
		switch {
		case known && mem.Status == a.Status && mem.Changed == a.LastStatusChangeAt:
			it.ack = mem.Ack
		case a.Status == "triggered" && a.LastStatusChangeAt == a.CreatedAt:
			// Never changed status since it was triggered: never acknowledged either.
		default:
			asks = append(asks, func(ctx context.Context) error { return r.readFirstAck(ctx, it) })
		}
	}
	if err := runAll(ctx, asks...); err != nil {
		return nil, err
	}

	obs := make([]syncer.Observation, 0, len(items))
	for _, it := range items {
		f, err := r.incidentFact(it)
		if err != nil {
			return nil, err
		}
		o := syncer.Observation{Key: "incident:" + it.api.ID, Requests: []syncer.Request{it.page.request(it.raw)}, Facts: []releaseops.Fact{f}}
		for _, p := range it.log {
			o.Requests = append(o.Requests, p.request(nil))
		}
		obs = append(obs, o)
		r.next[it.api.ID] = incidentMem{Status: it.api.Status, Changed: it.api.LastStatusChangeAt, Ack: it.ack}
	}
	return obs, nil
}

// readFirstAck reads the incident's overview log entries for its first acknowledgement.
func (r *serviceRead) readFirstAck(ctx context.Context, it *incidentItem) error {
	q := url.Values{"is_overview": {"true"}, "time_zone": {"UTC"}}
	pages, entries, err := r.f.list(ctx, "/incidents/"+url.PathEscape(it.api.ID)+"/log_entries", q, "log_entries",
		what{object: "the log entries of incident " + it.api.ID, scope: "incidents.read"})
	if err != nil {
		return err
	}
	it.log = pages
	for _, raw := range entries {
		var e apiLogEntry
		if err := r.f.decode(raw.page, raw.raw, &e); err != nil {
			return err
		}
		if e.Type != "acknowledge_log_entry" {
			continue
		}
		at, err := parseTime(e.CreatedAt)
		if err != nil || at.IsZero() {
			return r.f.unreadable(raw.page, errOrMissing(err, "log entry created_at"))
		}
		if it.ack == nil || at.Before(*it.ack) {
			it.ack = &at
		}
	}
	return nil
}

// incidentFact is the incident as sync knows it: its whole life so far in one fact, at its
// creation time.
func (r *serviceRead) incidentFact(it *incidentItem) (releaseops.Fact, error) {
	a := it.api
	created, err := parseTime(a.CreatedAt)
	if err != nil || created.IsZero() {
		return releaseops.Fact{}, r.f.unreadable(it.page, errOrMissing(err, "incident "+a.ID+" created_at"))
	}
	in := &releaseops.Incident{ID: a.ID, Number: a.Number, EventType: releaseops.EventSync, Status: a.Status, Title: a.Title,
		Urgency: a.Urgency, ServiceID: r.id, CreatedAt: created, URL: a.HTMLURL, AcknowledgedAt: it.ack}
	if a.Priority != nil {
		in.Priority = a.Priority.Summary
	}
	if a.EscalationPolicy != nil {
		in.EscalationPolicyID = a.EscalationPolicy.ID
	}
	if a.Status == "resolved" {
		// resolved_at where PagerDuty sends it; else the last status change of a resolved
		// incident is its resolution.
		s := a.LastStatusChangeAt
		if a.ResolvedAt != nil && *a.ResolvedAt != "" {
			s = *a.ResolvedAt
		}
		at, err := parseTime(s)
		if err != nil || at.IsZero() {
			return releaseops.Fact{}, r.f.unreadable(it.page, errOrMissing(err, "incident "+a.ID+" last_status_change_at"))
		}
		in.ResolvedAt = &at
	}
	return releaseops.Fact{Kind: releaseops.FactIncident, At: created, Incident: in}, nil
}
