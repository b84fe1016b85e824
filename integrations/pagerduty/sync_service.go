package pagerduty

import (
	"cmp"
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// The answers are decoded into the few fields sync uses rather than go-pagerduty's full
// types: those type every field of the object, and one PagerDuty adds or shapes differently
// (event_details, say) must not fail a read that does not need it.

type apiRef struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
	HTMLURL string `json:"html_url"`
}

type apiService struct {
	ID               string  `json:"id"`
	Name             string  `json:"name"`
	Summary          string  `json:"summary"`
	Status           string  `json:"status"`
	HTMLURL          string  `json:"html_url"`
	EscalationPolicy *apiRef `json:"escalation_policy"`
}

type apiPolicy struct {
	ID              string            `json:"id"`
	EscalationRules []json.RawMessage `json:"escalation_rules"`
}

type apiOnCall struct {
	EscalationLevel int `json:"escalation_level"`
	User            *struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Summary string `json:"summary"`
		Email   string `json:"email"`
	} `json:"user"`
	End *string `json:"end"`
}

// service is what the other reads need of the service.
type service struct {
	policyID string
	fact     releaseops.PagerDutyService
}

// readService reads GET /services/{id}.
func (r *serviceRead) readService(ctx context.Context) (service, *fetched, error) {
	call, err := r.f.get(ctx, "/services/"+url.PathEscape(r.id), what{object: "service " + r.id, scope: "services.read"})
	if err != nil {
		return service{}, nil, err
	}
	var body struct {
		Service apiService `json:"service"`
	}
	if err := r.f.decode(call, call.Body, &body); err != nil {
		return service{}, nil, err
	}
	a := body.Service
	out := service{fact: releaseops.PagerDutyService{ID: r.id, EventType: releaseops.EventSync, Name: a.Name,
		Status: enabledStatus(a.Status), URL: a.HTMLURL}}
	if out.fact.Name == "" {
		out.fact.Name = a.Summary
	}
	if a.EscalationPolicy != nil {
		out.policyID = a.EscalationPolicy.ID
		out.fact.EscalationPolicyID = a.EscalationPolicy.ID
	}
	return out, call, nil
}

// enabledStatus keeps what the service's status says of whether it pages. PagerDuty's
// status also moves with its open incidents (critical while one is triggered, warning while
// acknowledged), which the incident facts already say: kept as is, every incident would
// write a new service fact twice.
func enabledStatus(s string) string {
	switch s {
	case "disabled", "maintenance":
		return s
	case "":
		return ""
	}
	return "active"
}

// readPolicy reads the service's escalation policy and returns the "service" observation:
// the service, its policy and how many levels the policy has.
func (r *serviceRead) readPolicy(ctx context.Context, svc service, svcCall *fetched) ([]syncer.Observation, error) {
	obs := syncer.Observation{Key: "service", Requests: []syncer.Request{svcCall.request(nil)}}
	if svc.policyID != "" {
		call, err := r.f.get(ctx, "/escalation_policies/"+url.PathEscape(svc.policyID),
			what{object: "escalation policy " + svc.policyID, scope: "escalation_policies.read"})
		if err != nil {
			return nil, err
		}
		var body struct {
			Policy apiPolicy `json:"escalation_policy"`
		}
		if err := r.f.decode(call, call.Body, &body); err != nil {
			return nil, err
		}
		svc.fact.EscalationLevels = len(body.Policy.EscalationRules)
		obs.Requests = append(obs.Requests, call.request(nil))
	}
	fact := svc.fact
	obs.Facts = []releaseops.Fact{{Kind: releaseops.FactPagerDutyService, PagerDutyService: &fact}}
	return []syncer.Observation{obs}, nil
}

// readOnCalls reads who is on call now for the service's escalation policy (GET /oncalls
// without since and until means now) and returns the "oncall" observation.
func (r *serviceRead) readOnCalls(ctx context.Context, svc service) ([]syncer.Observation, error) {
	if svc.policyID == "" {
		return nil, nil
	}
	q := url.Values{"escalation_policy_ids[]": {svc.policyID}, "include[]": {"users"}, "time_zone": {"UTC"}}
	pages, items, err := r.f.list(ctx, "/oncalls", q, "oncalls", what{object: "on-calls", scope: "oncalls.read"})
	if err != nil {
		return nil, err
	}
	// One person can be on call at a level through several schedules: they are listed once,
	// until the latest of their shifts ends.
	type key struct {
		level int
		user  string
	}
	byUser := map[key]int{}
	var levels []releaseops.OnCallLevel
	for _, raw := range items {
		var oc apiOnCall
		if err := r.f.decode(raw.page, raw.raw, &oc); err != nil {
			return nil, err
		}
		if oc.User == nil {
			continue
		}
		l := releaseops.OnCallLevel{Level: oc.EscalationLevel, User: cmp.Or(oc.User.Name, oc.User.Summary, oc.User.ID), Email: oc.User.Email}
		if oc.End != nil && *oc.End != "" {
			until, err := parseTime(*oc.End)
			if err != nil {
				return nil, r.f.unreadable(raw.page, err)
			}
			l.Until = until
		}
		k := key{l.Level, cmp.Or(oc.User.ID, l.User)}
		if i, ok := byUser[k]; ok {
			if old := levels[i].Until; !old.IsZero() && (l.Until.IsZero() || l.Until.After(old)) {
				levels[i].Until = l.Until
			}
			continue
		}
		byUser[k] = len(levels)
		levels = append(levels, l)
	}
	slices.SortFunc(levels, func(a, b releaseops.OnCallLevel) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), strings.Compare(a.User, b.User), strings.Compare(a.Email, b.Email), a.Until.Compare(b.Until))
	})
	if levels == nil {
		levels = []releaseops.OnCallLevel{} // "nobody is on call" is a state, not a missing one
	}
	oc := releaseops.OnCall{ServiceID: r.id, EscalationPolicyID: svc.policyID, Levels: levels}
	obs := syncer.Observation{Key: "oncall", Facts: []releaseops.Fact{{Kind: releaseops.FactOnCall, OnCall: &oc}}}
	for _, p := range pages {
		obs.Requests = append(obs.Requests, p.request(nil))
	}
	return []syncer.Observation{obs}, nil
}
