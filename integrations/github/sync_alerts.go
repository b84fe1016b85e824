package github

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// alertsMemo is one tool's open alerts as last read.
type alertsMemo struct {
	Off bool `json:"off,omitempty"` // the feature is not enabled for the repository
	// OffAt is when GitHub said so. Its 403 or 404 has no ETag, so it is believed for
	// recheckAbsent rather than asked again on every read.
	OffAt time.Time    `json:"off_at,omitzero"`
	Pages int          `json:"pages,omitempty"`
	Open  []alertEntry `json:"open,omitempty"`
}

type alertEntry struct {
	V  releaseops.Vulnerability `json:"v"`
	At time.Time                `json:"at"`
}

// alertTool is one alert list.
type alertTool struct {
	name string // dependabot or code_scanning, as the webhook facts name the tool
	path string // under /repos/{o}/{r}
	fact func(raw json.RawMessage) (alertEntry, error)
}

// readAlerts reads the open Dependabot and code scanning alerts into one "alerts"
// observation: every open alert, and a "fixed" fact for each alert open last time and absent
// now. A tool that is off for the repository has no alerts; that is not a failure, and it
// is asked again only after recheckAbsent (alert webhooks report new alerts sooner). A tool
// switched off since the last read counts its alerts as gone too: GitHub no longer reports
// them, and kept open they would weigh on the score for ever.
func (r *repoRead) readAlerts(ctx context.Context) ([]syncer.Observation, error) {
	tools := []alertTool{
		{name: "dependabot", path: "/dependabot/alerts?per_page=100&state=open", fact: r.dependabotAlert},
		{name: "code_scanning", path: "/code-scanning/alerts?per_page=100&state=open", fact: r.codeScanningAlert},
	}
	memos := make([]*alertsMemo, len(tools))
	calls := make([][]*fetched, len(tools))
	fns := make([]func(context.Context) error, len(tools))
	for i, t := range tools {
		fns[i] = func(ctx context.Context) (err error) {
			memos[i], calls[i], err = r.readAlertTool(ctx, t)
			return err
		}
	}
	if err := runAll(ctx, fns...); err != nil {
		return nil, err
	}
	r.next.Alerts = map[string]*alertsMemo{}
	var open, was []alertEntry
	var fetchedAt time.Time
	for i, t := range tools {
		r.next.Alerts[t.name] = memos[i]
		open = append(open, memos[i].Open...)
		if m := r.old.Alerts[t.name]; m != nil {
			was = append(was, m.Open...)
		}
		for _, c := range calls[i] {
			fetchedAt = latestTime(fetchedAt, c.FetchedAt)
		}
	}
	if r.old.Alerts != nil && sameJSON(open, was) {
		return nil, nil
	}
	obs := syncer.Observation{Key: "alerts"}
	for _, cs := range calls {
		for _, c := range cs {
			obs.Requests = append(obs.Requests, c.request())
		}
	}
	now := map[string]bool{}
	for _, a := range open {
		now[alertKey(a.V)] = true
		v := a.V
		obs.Facts = append(obs.Facts, releaseops.Fact{Kind: releaseops.FactVulnerability, At: a.At, Vulnerability: &v})
	}
	for _, a := range was {
		if now[alertKey(a.V)] {
			continue
		}
		v := a.V
		v.State = "fixed"
		obs.Facts = append(obs.Facts, releaseops.Fact{Kind: releaseops.FactVulnerability, At: fetchedAt, Vulnerability: &v})
	}
	return []syncer.Observation{obs}, nil
}

// readAlertTool reads one tool's open alerts, every page.
func (r *repoRead) readAlertTool(ctx context.Context, t alertTool) (*alertsMemo, []*fetched, error) {
	old := r.old.Alerts[t.name]
	if old != nil && old.Off && !old.OffAt.IsZero() && r.now.Sub(old.OffAt) < recheckAbsent {
		return old, nil, nil // still off, as far as anyone can know without asking
	}
	// A 304 on the first page says nothing of later ones (an alert fixed on page 2 leaves
	// page 1 as it was), so only a one-page list is asked conditionally.
	cond := old != nil && !old.Off && old.Pages <= 1
	first, err := r.f.get(ctx, r.base()+t.path, getOpts{keep: true, conditional: cond, allow: []int{http.StatusForbidden, http.StatusNotFound}})
	if err != nil {
		return nil, nil, err
	}
	switch first.Status {
	case http.StatusNotModified:
		return old, []*fetched{first}, nil
	case http.StatusForbidden, http.StatusNotFound:
		if !featureOff(first.message) {
			return nil, nil, r.f.statusError(first)
		}
		return &alertsMemo{Off: true, OffAt: r.now}, []*fetched{first}, nil
	}
	m := &alertsMemo{}
	pages, err := r.f.list(ctx, first, func(page *fetched, items []json.RawMessage) (bool, error) {
		for _, raw := range items {
			e, err := t.fact(raw)
			if err != nil {
				return false, fmt.Errorf("%s: GET %s: unreadable alert: %w", r.f.subject, page.Path, err)
			}
			m.Open = append(m.Open, e)
		}
		return true, nil
	})
	if err != nil {
		return nil, nil, err
	}
	m.Pages = len(pages)
	slices.SortFunc(m.Open, func(a, b alertEntry) int { return cmp.Compare(a.V.Number, b.V.Number) })
	return m, pages, nil
}

// featureOff reports whether a 403 or 404 on an alert list means the feature is not enabled
// for the repository, rather than a permission the App lacks ("Resource not accessible by
// integration") or a repository it cannot see.
func featureOff(message string) bool {
	l := strings.ToLower(message)
	for _, s := range []string{
		"alerts are disabled",               // Dependabot alerts are disabled for this repository.
		"no analysis found",                 // code scanning never ran
		"advanced security must be enabled", // private repositories without GHAS
		"code scanning is not enabled",
		"not available for archived", // Dependabot alerts are not available for archived repositories.
	} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// dependabotAlert maps an alert as the dependabot_alert webhook parser does.
func (r *repoRead) dependabotAlert(raw json.RawMessage) (alertEntry, error) {
	var a gh.DependabotAlert
	if err := json.Unmarshal(raw, &a); err != nil {
		return alertEntry{}, err
	}
	return alertEntry{At: firstTime(a.GetUpdatedAt(), a.GetCreatedAt()), V: releaseops.Vulnerability{
		Repo:     r.fullName,
		Tool:     "dependabot",
		Number:   a.GetNumber(),
		Action:   "sync",
		State:    firstNonEmpty(a.GetState(), "open"),
		Severity: strings.ToLower(firstNonEmpty(a.GetSecurityAdvisory().GetSeverity(), a.GetSecurityVulnerability().GetSeverity())),
		Summary:  a.GetSecurityAdvisory().GetSummary(),
		URL:      a.GetHTMLURL(),
	}}, nil
}

// codeScanningAlert maps an alert as the code_scanning_alert webhook parser does.
func (r *repoRead) codeScanningAlert(raw json.RawMessage) (alertEntry, error) {
	var a gh.Alert
	if err := json.Unmarshal(raw, &a); err != nil {
		return alertEntry{}, err
	}
	return alertEntry{At: firstTime(a.GetUpdatedAt(), a.GetCreatedAt()), V: releaseops.Vulnerability{
		Repo:     r.fullName,
		Tool:     "code_scanning",
		Number:   a.GetNumber(),
		Action:   "sync",
		State:    firstNonEmpty(a.GetState(), "open"),
		Severity: strings.ToLower(firstNonEmpty(a.GetRule().GetSecuritySeverityLevel(), a.GetRule().GetSeverity())),
		Summary:  firstNonEmpty(a.GetRule().GetDescription(), a.GetRule().GetName(), a.GetRule().GetID()),
		URL:      a.GetHTMLURL(),
	}}, nil
}

func alertKey(v releaseops.Vulnerability) string { return v.Tool + ":" + strconv.Itoa(v.Number) }

func latestTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
