package scoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/integrations/pagerduty"
)

func pdService() releaseops.Service {
	svc := baseService()
	svc.PagerDutyServiceID = "PCHK123"
	return svc
}

func tm(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func tp(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := tm(s)
	return &t
}

// hook adds a webhook incident event the way the PagerDuty source parses one.
func (b *fb) hook(id, event, at, created string) {
	status := strings.TrimPrefix(event, "incident.")
	if status == "reopened" {
		status = "triggered"
	}
	b.add(releaseops.FactIncident, "pagerduty", event, tm(at), func(f *releaseops.Fact) {
		f.Incident = &releaseops.Incident{ID: id, EventType: event, Status: status, ServiceID: "PCHK123", CreatedAt: tm(created)}
	})
}

// read adds a sync observation of an incident the way the PagerDuty syncer makes one: at its
// creation time, with the times it learnt, and the read's own time as the evidence's.
func (b *fb) read(id, status, created, ack, resolved, readAt string) {
	f := b.add(releaseops.FactIncident, "pagerduty", "sync", tm(created), func(f *releaseops.Fact) {
		f.Incident = &releaseops.Incident{ID: id, EventType: "sync", Status: status, ServiceID: "PCHK123", CreatedAt: tm(created),
			AcknowledgedAt: tp(ack), ResolvedAt: tp(resolved)}
	})
	f.Evidence = releaseops.Evidence{Source: "pagerduty", Event: "sync", At: tm(readAt), Path: "/incidents?service_ids[]=PCHK123",
		Delivery: fmt.Sprintf("sync:PCHK123:incident:%s:%d", id, tm(readAt).UnixMilli())}
}

// pdHistory is the hand-computed history of TestSyncedIncidentsMTTRAndChangeFailureRate.
func pdHistory() []releaseops.Fact {
	var b fb
	b.deploy("d1", tm("2026-11-10T10:00:00Z"), 10*time.Minute, releaseops.DeploySucceeded, nil)
	b.deploy("d2", tm("2026-11-10T10:20:00Z"), 10*time.Minute, releaseops.DeploySucceeded, nil)
	// A: by webhook and by sync. Triggered 10:40, 30 min after both d1 and d2 ended.
	b.hook("A", "incident.triggered", "2026-11-10T10:40:00Z", "2026-11-10T10:40:00Z")
	b.hook("A", "incident.acknowledged", "2026-11-10T10:45:00Z", "2026-11-10T10:40:00Z")
	b.hook("A", "incident.resolved", "2026-11-10T11:40:00Z", "2026-11-10T10:40:00Z")
	b.read("A", "resolved", "2026-11-10T10:40:00Z", "2026-11-10T10:45:00Z", "2026-11-10T11:40:00Z", "2026-11-19T06:00:00Z")
	// B: by sync only, 1 h 50 min after d3: no change failure.
	b.deploy("d3", tm("2026-11-12T14:00:00Z"), 10*time.Minute, releaseops.DeploySucceeded, nil)
	b.read("B", "resolved", "2026-11-12T16:00:00Z", "2026-11-12T16:05:00Z", "2026-11-12T18:30:00Z", "2026-11-19T06:00:00Z")
	b.deploy("d4", tm("2026-11-14T09:00:00Z"), 15*time.Minute, releaseops.DeployFailed, nil)
	// C: by webhook only, 20 min after d5.
	b.deploy("d5", tm("2026-11-15T12:00:00Z"), 10*time.Minute, releaseops.DeploySucceeded, nil)
	b.hook("C", "incident.triggered", "2026-11-15T12:30:00Z", "2026-11-15T12:30:00Z")
	b.hook("C", "incident.resolved", "2026-11-15T13:00:00Z", "2026-11-15T12:30:00Z")
	// D: the webhook saw the trigger, the resolve webhook was lost; sync read it resolved.
	b.hook("D", "incident.triggered", "2026-11-16T08:00:00Z", "2026-11-16T08:00:00Z")
	b.read("D", "resolved", "2026-11-16T08:00:00Z", "", "2026-11-16T09:00:00Z", "2026-11-19T06:00:00Z")
	// E: the webhook saw it resolved; it was reopened since (the webhook lost), as a later
	// read says: open.
	b.hook("E", "incident.triggered", "2026-11-17T09:00:00Z", "2026-11-17T09:00:00Z")
	b.hook("E", "incident.resolved", "2026-11-17T10:00:00Z", "2026-11-17T09:00:00Z")
	b.read("E", "triggered", "2026-11-17T09:00:00Z", "", "", "2026-11-19T06:00:00Z")
	// F: read while open, then the webhook resolved it after the read: the webhook is newer.
	b.read("F", "acknowledged", "2026-11-19T05:00:00Z", "2026-11-19T05:10:00Z", "", "2026-11-19T06:00:00Z")
	b.hook("F", "incident.resolved", "2026-11-19T07:00:00Z", "2026-11-19T05:00:00Z")
	return b.facts
}

// The hand computation, at now = 2026-11-20 12:00 UTC (30-day windows):
//
// Change failure rate. Five finished production deploys: d1, d2, d3, d4, d5.
//   - d2 (ended 10:30) is the latest deploy before incident A (10:40, within 1 h): a failure.
//     d1 (ended 10:10) is also within the hour of A, but A counts once, against d2.
//   - d3 (ended 14:10): B came at 16:00, 1 h 50 min later: not a failure.
//   - d4 failed: a failure.
//   - d5 (ended 12:10): C at 12:30: a failure.
//     3 failures of 5 deploys = 0.6.
//
// MTTR, incidents resolved in the window, triggered → resolved:
//   - A 10:40 → 11:40 = 1 h (one incident, though seen by four facts)
//   - B 16:00 → 18:30 = 2.5 h (sync only)
//   - C 12:30 → 13:00 = 0.5 h (webhook only)
//   - D 08:00 → 09:00 = 1 h (resolve time from the read)
//   - E open (the read after the resolve webhook says triggered)
//   - F 05:00 → 07:00 = 2 h (the resolve webhook after the read)
//     (1 + 2.5 + 0.5 + 1 + 2) / 5 = 7 / 5 = 1.4 h over 5 samples.
func TestSyncedIncidentsMTTRAndChangeFailureRate(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	card := e.Score(Input{Service: pdService(), Facts: pdHistory(), Now: now})
	d := card.DORA
	if d.Deploys != 5 || d.ChangeFailures != 3 || d.ChangeFailureRate == nil || !approx(*d.ChangeFailureRate, 0.6) {
		t.Errorf("change failures %d of %d (rate %v), want 3 of 5 (0.6)", d.ChangeFailures, d.Deploys, fmtPtr(d.ChangeFailureRate))
	}
	if d.MTTRSamples != 5 || d.MTTRHours == nil || !approx(*d.MTTRHours, 1.4) {
		t.Errorf("MTTR %v h over %d samples, want 1.4 h over 5", fmtPtr(d.MTTRHours), d.MTTRSamples)
	}
	s := signal(t, card, "change_failure_rate")
	if !strings.Contains(s.Reason, "3 of 5 production deploys") {
		t.Errorf("change_failure_rate reason: %s", s.Reason)
	}

	recs := newFacts(&Input{Service: pdService(), Facts: pdHistory(), Now: now}).incidentRecs()
	var ids []string
	for _, r := range recs {
		state := "open"
		if r.resolvedBy != nil {
			state = r.resolved.Format("15:04")
		}
		ids = append(ids, r.id+" "+state)
	}
	if got, want := strings.Join(ids, ", "), "A 11:40, B 18:30, C 13:00, D 09:00, E open, F 07:00"; got != want {
		t.Errorf("incidents: %s, want %s", got, want)
	}
}

func fmtPtr(p *float64) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// The same facts in any order give the same card, and so does the incremental index fed
// them as they would arrive (webhooks as they happen, reads when they are made, late).
func TestSyncedIncidentsCardIsDeterministic(t *testing.T) {
	e := goldenEngine(t)
	svc := pdService()
	facts := pdHistory()
	var b fb
	b.n = 1000
	oc := b.add(releaseops.FactOnCall, "pagerduty", "sync", tm("2026-11-19T06:00:00Z"), func(f *releaseops.Fact) {
		f.OnCall = &releaseops.OnCall{ServiceID: "PCHK123", EscalationPolicyID: "PEP2",
			Levels: []releaseops.OnCallLevel{{Level: 1, User: "Alice Martin", Until: tm("2026-11-20T18:00:00Z")}}}
	})
	oc.Evidence.Event = "sync"
	facts = append(facts, b.facts...)
	want := marshal(t, e.Score(Input{Service: svc, Facts: slices.Clone(facts), Now: now}))
	r := rand.New(rand.NewPCG(11, 12))
	for range 20 {
		shuffled := slices.Clone(facts)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if got := marshal(t, e.Score(Input{Service: svc, Facts: shuffled, Now: now})); !bytes.Equal(got, want) {
			t.Fatalf("the card depends on the facts' order:\n%s", firstDiff(want, got))
		}
	}

	arrival := slices.Clone(facts)
	slices.SortStableFunc(arrival, func(a, b releaseops.Fact) int { return readTime(&a).Compare(readTime(&b)) })
	var idx Index
	buf := make([]releaseops.Fact, 0, len(arrival))
	for i, f := range arrival {
		buf = append(buf, f)
		at := readTime(&f)
		if at.Before(tm("2026-11-10T00:00:00Z")) {
			at = tm("2026-11-10T00:00:00Z")
		}
		got := marshal(t, e.ScoreIndexed(Input{Service: svc, Facts: buf, Now: at}, &idx))
		fresh := marshal(t, e.Score(Input{Service: svc, Facts: slices.Clone(buf), Now: at}))
		if !bytes.Equal(got, fresh) {
			t.Fatalf("step %d (%s %s): the indexed card differs:\n%s", i, f.Kind, f.Evidence.Delivery, firstDiff(fresh, got))
		}
	}
	if got := marshal(t, e.ScoreIndexed(Input{Service: svc, Facts: buf, Now: now}, &idx)); !bytes.Equal(got, want) {
		t.Fatalf("the indexed card at the end differs:\n%s", firstDiff(want, got))
	}
	if n := len(idx.x.of(releaseops.FactOnCall)); n != 1 {
		t.Errorf("%d oncall facts indexed, want 1", n)
	}
}

// A card of the past does not know what a later read learnt: at 2026-11-17 12:00 the reads
// of the 19th are not made yet, so B is unknown, D still open and E resolved.
func TestSyncReadAfterNowIsNotKnown(t *testing.T) {
	e := mustCompile(t, DefaultConfig())
	card := e.Score(Input{Service: pdService(), Facts: pdHistory(), Now: tm("2026-11-17T12:00:00Z")})
	// A 1 h (webhooks), C 0.5 h, E 1 h (its resolve webhook; the reopening read is later).
	if d := card.DORA; d.MTTRSamples != 3 || d.MTTRHours == nil || !approx(*d.MTTRHours, metric(2.5/3)) {
		t.Errorf("MTTR %v over %d samples, want %v over 3", fmtPtr(d.MTTRHours), d.MTTRSamples, metric(2.5/3))
	}
}

// The recorded PagerDuty webhooks of ../shared and a sync read of the same incident count as
// one incident, resolved when the read says when the resolve webhook never came.
func TestWebhookFixtureAndSyncCountOnce(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "pagerduty", "incident.priority_updated.json"))
	if err != nil {
		t.Skipf("the shared PagerDuty fixtures are not here (../shared/fixtures/pagerduty): %v", err)
	}
	src := pagerduty.New([]string{"secret"})
	var facts []releaseops.Fact
	// The fixture as sent (incident PGR0VU2 of PF9KMXH, priority updated 2020-10-02 18:45),
	// and as its triggered event would have been.
	for _, ev := range []struct{ eventType, occurred string }{
		{"incident.triggered", "2020-04-09T15:16:27Z"},
		{"incident.priority_updated", ""},
	} {
		body := raw
		if ev.occurred != "" {
			var env map[string]map[string]any
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatal(err)
			}
			env["event"]["event_type"], env["event"]["occurred_at"], env["event"]["id"] = ev.eventType, ev.occurred, "trigger-"+ev.occurred
			body, _ = json.Marshal(env)
		}
		p, err := src.Parse(nil, body)
		if err != nil || len(p.Facts) != 1 {
			t.Fatalf("parse %s: %v %v", ev.eventType, p.Facts, err)
		}
		f := p.Facts[0]
		f.Service, f.Evidence = "api", releaseops.Evidence{Source: "pagerduty", Event: p.Type, Delivery: p.DeliveryID, At: p.OccurredAt}
		facts = append(facts, f)
	}
	in := facts[0].Incident
	read := releaseops.Fact{Kind: releaseops.FactIncident, Subject: facts[0].Subject, Service: "api", At: in.CreatedAt,
		Evidence: releaseops.Evidence{Source: "pagerduty", Event: "sync", Delivery: "sync:PF9KMXH:incident:PGR0VU2:1", At: tm("2020-10-03T08:00:00Z")},
		Incident: &releaseops.Incident{ID: in.ID, Number: in.Number, EventType: "sync", Status: "resolved", ServiceID: in.ServiceID,
			CreatedAt: in.CreatedAt, ResolvedAt: tp("2020-10-02T20:15:22Z")}}
	facts = append(facts, read)

	svc := releaseops.Service{Name: "api", PagerDutyServiceID: "PF9KMXH"}
	x := newFacts(&Input{Service: svc, Facts: facts, Now: tm("2020-10-05T00:00:00Z")})
	recs := x.incidentRecs()
	if len(recs) != 1 || recs[0].resolvedBy != &facts[2] || !recs[0].resolved.Equal(tm("2020-10-02T20:15:22Z")) ||
		!recs[0].triggered.Equal(tm("2020-04-09T15:16:27Z")) {
		t.Fatalf("incidents %+v, want PGR0VU2 once, triggered 2020-04-09 15:16:27, resolved by the read at 2020-10-02 20:15:22", recs)
	}
	card := mustCompile(t, DefaultConfig()).Score(Input{Service: svc, Facts: facts, Now: tm("2020-10-05T00:00:00Z")})
	want := tm("2020-10-02T20:15:22Z").Sub(tm("2020-04-09T15:16:27Z")).Hours()
	if d := card.DORA; d.MTTRSamples != 1 || d.MTTRHours == nil || !approx(*d.MTTRHours, metric(want)) {
		t.Errorf("MTTR %v over %d samples, want %v over 1", fmtPtr(d.MTTRHours), d.MTTRSamples, metric(want))
	}
}

func pdServiceFact(b *fb, at time.Time, synced bool, svc releaseops.PagerDutyService) {
	event := "service.updated"
	if synced {
		event = "sync"
		svc.EventType = "sync"
	}
	f := b.add(releaseops.FactPagerDutyService, "pagerduty", event, at, func(f *releaseops.Fact) { f.PagerDutyService = &svc })
	if synced {
		f.Evidence.Path = "/services/PCHK123"
	}
}

func TestAlertingWiredReadsTheSyncedService(t *testing.T) {
	mapped := func(s *releaseops.Service) { s.PagerDutyServiceID = "PCHK123" }
	enabled := releaseops.PagerDutyService{ID: "PCHK123", Status: "active", EscalationPolicyID: "PEP2", EscalationLevels: 3}
	disabled := enabled
	disabled.Status = "disabled"
	runSignalCases(t, "alerting_wired", []signalCase{
		{name: "read enabled", svc: mapped, facts: func(b *fb) { pdServiceFact(b, ago_(time.Hour), true, enabled) }, score: 1, outcome: OutcomePass,
			reason: "PagerDuty service PCHK123 is mapped and enabled (read from the PagerDuty API at 2026-11-20 11:00 UTC)"},
		{name: "read disabled", svc: mapped, facts: func(b *fb) {
			b.hook("I1", "incident.triggered", ago_(3*day).Format(time.RFC3339), ago_(3*day).Format(time.RFC3339))
			pdServiceFact(b, ago_(time.Hour), true, disabled)
		}, score: 0, outcome: OutcomeFail,
			reason: "PagerDuty service PCHK123 is disabled (read from the PagerDuty API at 2026-11-20 11:00 UTC): it opens no incident"},
		{name: "disabled, then a service webhook without a status", svc: mapped, facts: func(b *fb) {
			pdServiceFact(b, ago_(2*time.Hour), true, disabled)
			pdServiceFact(b, ago_(time.Hour), false, releaseops.PagerDutyService{ID: "PCHK123", Name: "checkout"})
		}, score: 0, outcome: OutcomeFail, reason: "is disabled"},
		{name: "disabled, then an incident", svc: mapped, facts: func(b *fb) {
			pdServiceFact(b, ago_(2*time.Hour), true, disabled)
			b.hook("I1", "incident.triggered", ago_(time.Hour).Format(time.RFC3339), ago_(time.Hour).Format(time.RFC3339))
		}, score: 1, outcome: OutcomePass, reason: "sending events"},
		{name: "re-enabled", svc: mapped, facts: func(b *fb) {
			pdServiceFact(b, ago_(2*time.Hour), true, disabled)
			pdServiceFact(b, ago_(time.Hour), true, enabled)
		}, score: 1, outcome: OutcomePass, reason: "mapped and enabled"},
	})
}

func TestEscalationPrefersTheSyncedPolicy(t *testing.T) {
	mapped := func(s *releaseops.Service) { s.PagerDutyServiceID = "PCHK123" }
	runSignalCases(t, "escalation_levels", []signalCase{
		{name: "a newer webhook with a depth does not override the read", svc: mapped, facts: func(b *fb) {
			pdServiceFact(b, ago_(2*day), true, releaseops.PagerDutyService{ID: "PCHK123", Status: "active", EscalationLevels: 3})
			pdServiceFact(b, ago_(day), false, releaseops.PagerDutyService{ID: "PCHK123", EscalationLevels: 1})
		}, score: 1, outcome: OutcomePass, reason: "escalation policy has 3 levels (synced from PagerDuty; read from the PagerDuty API at 2026-11-18 12:00 UTC)"},
		{name: "the latest read wins", svc: mapped, facts: func(b *fb) {
			pdServiceFact(b, ago_(2*day), true, releaseops.PagerDutyService{ID: "PCHK123", Status: "active", EscalationLevels: 3})
			pdServiceFact(b, ago_(day), true, releaseops.PagerDutyService{ID: "PCHK123", Status: "active", EscalationLevels: 1})
		}, score: 0.5, outcome: OutcomePartial, reason: "escalation policy has 1 level (synced from PagerDuty; read from the PagerDuty API at 2026-11-19 12:00 UTC)"},
	})
}

// A PagerDuty read older than sync.stale_after (72h by default) no longer passes: the sync
// that would confirm it stopped.
func TestStalePagerDutyReadsStopPassing(t *testing.T) {
	mapped := func(s *releaseops.Service) { s.PagerDutyServiceID = "PCHK123" }
	enabled := releaseops.PagerDutyService{ID: "PCHK123", Status: "active", EscalationLevels: 3}
	runSignalCases(t, "alerting_wired", []signalCase{
		{name: "read 4 days ago, no coverage", svc: mapped, facts: func(b *fb) { pdServiceFact(b, ago_(4*day), true, enabled) },
			score: 0, outcome: OutcomeNoData, reason: "PagerDuty service PCHK123 is mapped and enabled, last read from the PagerDuty API at 2026-11-16 12:00 UTC, more than sync.stale_after (72h) ago: no sync of PCHK123 is recorded"},
	})
	runSignalCases(t, "escalation_levels", []signalCase{
		{name: "read 4 days ago", svc: mapped, facts: func(b *fb) { pdServiceFact(b, ago_(4*day), true, enabled) },
			score: 0, outcome: OutcomeNoData, reason: "escalation policy has 3 levels, last read from the PagerDuty API"},
		{name: "read a day ago", svc: mapped, facts: func(b *fb) { pdServiceFact(b, ago_(day), true, enabled) },
			score: 1, outcome: OutcomePass, reason: "escalation policy has 3 levels"},
	})
}
