package risk

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

func (m *Model) unknown(id, reason string) Factor {
	return Factor{ID: id, Value: m.cfg.Unknown, Unknown: true, Reason: reason}
}

func (m *Model) changeSize(in Input) Factor {
	c := in.Change
	if c == nil {
		why := in.ChangeUnknownWhy
		if why == "" {
			why = "the change is not known"
		}
		return m.unknown(FactorChangeSize, "change size unknown: "+why+"; send commit_sha, and let the GitHub compare answer, to rate it")
	}
	lines := c.Additions + c.Deletions
	v := math.Max(ramp(float64(lines), float64(m.cfg.LinesLow), float64(m.cfg.LinesHigh)),
		ramp(float64(c.Files), float64(m.cfg.FilesLow), float64(m.cfg.FilesHigh)))
	f := Factor{ID: FactorChangeSize, Value: v}
	f.Reason = fmt.Sprintf("%d lines in %d files (%d commits) since the last production deploy", lines, c.Files, c.Commits)
	if v >= 0.5 {
		f.Reason += "; split the change or ship it behind a flag to lower the risk"
	}
	if c.URL != "" {
		f.Evidence = []string{c.URL}
	}
	return f
}

func (m *Model) releaseSize(in Input) Factor {
	n := len(in.ReleaseServices)
	f := Factor{ID: FactorReleaseSize, Value: ramp(float64(n), 0, float64(m.cfg.ReleaseServicesHigh))}
	switch {
	case in.Release == "":
		f.Reason = "no release id: shipped on its own"
	case n == 0:
		f.Reason = fmt.Sprintf("release %s: no other service in it", in.Release)
	default:
		others := append([]string(nil), in.ReleaseServices...)
		sort.Strings(others)
		f.Reason = fmt.Sprintf("release %s also ships %s: a failure is harder to pin on one of them", in.Release, strings.Join(others, ", "))
		f.Evidence = others
	}
	return f
}

func (m *Model) deployTime(in Input) Factor {
	mo := m.cal.At(in.Now)
	f := Factor{ID: FactorDeployTime}
	switch {
	case mo.Holiday != "":
		f.Value, f.Reason = m.cfg.Holiday, fmt.Sprintf("%s is %s: few people are around to watch it", mo.Local, mo.Holiday)
	case mo.Weekend:
		f.Value, f.Reason = m.cfg.Weekend, fmt.Sprintf("%s is outside the business week: few people are around to watch it", mo.Local)
	case !mo.Business:
		f.Value, f.Reason = m.cfg.OffHours, fmt.Sprintf("%s is outside business hours (%s-%s)", mo.Local, clock(m.cal.hours.Start), clock(m.cal.hours.End))
	case mo.FridayAfternoon:
		f.Value, f.Reason = m.cfg.FridayAfternoon, fmt.Sprintf("%s is the last afternoon before the weekend: what breaks waits for it", mo.Local)
	default:
		f.Reason = fmt.Sprintf("%s is within business hours", mo.Local)
	}
	return f
}

func (m *Model) onCall(in Input) Factor {
	oc := in.OnCall
	if oc == nil {
		return m.unknown(FactorOnCall, "on-call coverage unknown: no PagerDuty on-call data for this service (set pagerduty_service_id and the PagerDuty sync)")
	}
	f := Factor{ID: FactorOnCall}
	if oc.Source != "" {
		f.Evidence = []string{oc.Source}
	}
	horizon := m.cfg.OnCallHorizon.Std()
	switch {
	case !oc.Covered:
		f.Value, f.Reason = 1, "nobody is on call for the service now: page coverage before deploying"
	case !oc.Until.IsZero() && !oc.Until.After(in.Now):
		f.Value = 1
		f.Reason = fmt.Sprintf("%s's on-call coverage ended at %s and nobody is known to have taken over: page coverage before deploying", oc.Who, oc.Until.UTC().Format(time.RFC3339))
	case !oc.Until.IsZero() && oc.Until.Before(in.Now.Add(horizon)):
		f.Value = 0.5
		f.Reason = fmt.Sprintf("%s is on call until %s, less than %s from now: check who takes over", oc.Who, oc.Until.UTC().Format(time.RFC3339), horizon)
	default:
		f.Reason = fmt.Sprintf("%s is on call for the next %s", oc.Who, horizon)
	}
	return f
}

func (m *Model) incidents(in Input) Factor {
	f := Factor{ID: FactorIncidents}
	if len(in.Incidents) == 0 {
		f.Reason = "no open incident on the service"
		return f
	}
	f.Value = 1
	inc := in.Incidents[0]
	f.Reason = fmt.Sprintf("%d open incident(s), e.g. %s (%s): a deploy now mixes its effects with the incident's", len(in.Incidents), inc.ID, inc.Title)
	for _, i := range in.Incidents {
		if i.URL != "" {
			f.Evidence = append(f.Evidence, i.URL)
		}
	}
	return f
}

func (m *Model) failureRate(in Input) Factor {
	since := in.Now.Add(-time.Duration(m.cfg.FailureRateDays) * 24 * time.Hour)
	total, failed := 0, 0
	for _, d := range in.Deploys {
		if d.At.Before(since) || d.At.After(in.Now) {
			continue
		}
		total++
		if d.Failed {
			failed++
		}
	}
	if total < m.cfg.FailureRateMinDeploys {
		return m.unknown(FactorFailureRate, fmt.Sprintf("change failure rate unknown: %d production deploys in %d days, fewer than %d", total, m.cfg.FailureRateDays, m.cfg.FailureRateMinDeploys))
	}
	rate := float64(failed) / float64(total)
	f := Factor{ID: FactorFailureRate, Value: ramp(rate, 0, m.cfg.FailureRateHigh)}
	f.Reason = fmt.Sprintf("%d of %d production deploys in %d days failed or were rolled back (%.0f%%)", failed, total, m.cfg.FailureRateDays, 100*rate)
	return f
}

func (m *Model) batchAge(in Input) Factor {
	if in.LastProductionDeploy.IsZero() {
		return m.unknown(FactorBatchAge, "no earlier production deploy: everything ships at once for the first time")
	}
	age := in.Now.Sub(in.LastProductionDeploy)
	f := Factor{ID: FactorBatchAge, Value: ramp(age.Hours(), m.cfg.BatchAgeLow.Std().Hours(), m.cfg.BatchAgeHigh.Std().Hours())}
	f.Reason = fmt.Sprintf("last production deploy %s ago", humanAge(age))
	if f.Value > 0 {
		f.Reason += ": the batch waiting is big; ship smaller and more often"
	}
	return f
}

func (m *Model) band(in Input) Factor {
	if in.Band == "" {
		return m.unknown(FactorReadinessBand, "readiness band unknown: the service has no score yet")
	}
	v, ok := m.cfg.Bands[in.Band]
	if !ok {
		return m.unknown(FactorReadinessBand, "readiness band "+in.Band+" has no value in risk.bands")
	}
	return Factor{ID: FactorReadinessBand, Value: v, Reason: "readiness band " + in.Band}
}

func humanAge(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes()))
}
