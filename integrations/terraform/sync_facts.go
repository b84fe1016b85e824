package terraform

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"time"

	tfe "github.com/hashicorp/go-tfe"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// TriggerSync marks facts read by sync (TerraformRun.Trigger, TerraformAssessment.Trigger),
// where a notification would carry its trigger (run:completed, assessment:drifted).
const TriggerSync = "sync"

// workspaceObservation is the workspace's settings. Its time is left to the framework (the
// fetch): it is a state, true from when it was read.
func (r *wsRead) workspaceObservation(ws *tfe.Workspace, c call) syncer.Observation {
	return syncer.Observation{Key: "workspace", Requests: []syncer.Request{c.request()}, Facts: []releaseops.Fact{{
		Kind: releaseops.FactTerraformWorkspace,
		Workspace: &releaseops.TerraformWorkspace{
			ID:                 ws.ID,
			Workspace:          r.wsName,
			Organization:       r.orgName,
			AssessmentsEnabled: ws.AssessmentsEnabled,
			AutoApply:          ws.AutoApply,
			URL:                r.workspaceWebsite,
		},
	}}}
}

// assessmentDoc is an assessment result as GET /workspaces/{id}/current-assessment-result
// answers it. The counts are those the assessment notification carries.
type assessmentDoc struct {
	ID   string `json:"id"` // the API reference's sample puts it here
	Data struct {
		ID         string `json:"id"`
		Attributes struct {
			Drifted            bool    `json:"drifted"`
			Succeeded          bool    `json:"succeeded"`
			ErrorMsg           *string `json:"error-msg"`
			CreatedAt          string  `json:"created-at"`
			AllChecksSucceeded *bool   `json:"all-checks-succeeded"`
			ResourcesDrifted   int     `json:"resources-drifted"`
			ChecksFailed       int     `json:"checks-failed"`
			ChecksErrored      int     `json:"checks-errored"`
		} `json:"attributes"`
	} `json:"data"`
}

// assessmentFact turns an assessment result into the fact a notification would give, at the
// assessment's own time, so its age and its order against drift notifications are true.
// The URL names the result (as the notification's does): a new assessment with the same
// outcome is a new fact, and keeps the recency current.
func (r *wsRead) assessmentFact(body []byte) (releaseops.Fact, string, error) {
	var doc assessmentDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return releaseops.Fact{}, "", err
	}
	id := doc.Data.ID
	if id == "" {
		id = doc.ID
	}
	if id == "" {
		return releaseops.Fact{}, "", errors.New("no id")
	}
	a := doc.Data.Attributes
	at, err := parseTime(a.CreatedAt)
	if err != nil {
		return releaseops.Fact{}, "", errors.New("created-at " + err.Error())
	}
	if at.IsZero() {
		return releaseops.Fact{}, "", errors.New("no created-at")
	}
	return releaseops.Fact{
		Kind: releaseops.FactAssessment,
		At:   at,
		Assessment: &releaseops.TerraformAssessment{
			Workspace:        r.wsName,
			Organization:     r.orgName,
			Trigger:          TriggerSync,
			Succeeded:        a.Succeeded,
			Drifted:          a.Drifted,
			ResourcesDrifted: a.ResourcesDrifted,
			ChecksFailed:     a.ChecksFailed + a.ChecksErrored,
			URL:              r.s.address + "/api/v2/assessment-results/" + url.PathEscape(id),
		},
	}, id, nil
}

// runFact turns a run into the fact its notifications would give, with what only the API
// says: whether an apply waited for a person (confirmed-by) or went ahead by itself
// (auto-apply).
func (r *wsRead) runFact(run *tfe.Run) releaseops.Fact {
	t := &releaseops.TerraformRun{
		RunID:        run.ID,
		Workspace:    r.wsName,
		Organization: r.orgName,
		Trigger:      TriggerSync,
		Status:       string(run.Status),
		Message:      strings.TrimSpace(run.Message),
		IsDestroy:    run.IsDestroy,
		URL:          r.workspaceWebsite + "/runs/" + url.PathEscape(run.ID),
	}
	if u := run.CreatedBy; u != nil {
		t.CreatedBy = u.Username // the list includes every run's creator
		if t.CreatedBy == "" {
			t.CreatedBy = u.ID
		}
	}
	if u := run.ConfirmedBy; u != nil && u.ID != "" {
		// The API cannot include confirmers, so the name is known only when the confirmer
		// created the run. Another run's creator on the same page would name them too, but
		// then the fact would change as that run leaves the page: the id is what stays.
		t.ConfirmedBy = u.ID
		if c := run.CreatedBy; c != nil && c.ID == u.ID && c.Username != "" {
			t.ConfirmedBy = c.Username
		}
	}
	// A run with auto-apply goes from plan to apply without anyone confirming it; one that
	// someone confirmed names them.
	t.AutoApplied = run.AutoApply && t.ConfirmedBy == "" && runApplied(run)
	return releaseops.Fact{Kind: releaseops.FactTerraformRun, At: runTime(run), TerraformRun: t}
}

// runApplied reports whether the run's apply started (it may have errored since).
func runApplied(run *tfe.Run) bool {
	switch run.Status {
	case tfe.RunApplied, tfe.RunApplying, tfe.RunPostApplyRunning, tfe.RunPostApplyCompleted:
		return true
	}
	ts := run.StatusTimestamps
	return ts != nil && (!ts.ApplyingAt.IsZero() || !ts.AppliedAt.IsZero())
}

// runTime is when the run reached its current state: the latest of its status timestamps
// (created-at when it has none), so a synced apply orders against drift like its notification.
func runTime(run *tfe.Run) time.Time {
	t := run.CreatedAt
	if ts := run.StatusTimestamps; ts != nil {
		for _, v := range []time.Time{ts.AppliedAt, ts.ApplyingAt, ts.ApplyQueuedAt, ts.CanceledAt, ts.ConfirmedAt,
			ts.CostEstimatedAt, ts.CostEstimatingAt, ts.DiscardedAt, ts.ErroredAt, ts.FetchedAt, ts.FetchingAt,
			ts.ForceCanceledAt, ts.PlannedAndFinishedAt, ts.PlannedAndSavedAt, ts.PlannedAt, ts.PlanningAt,
			ts.PlanQueueableAt, ts.PlanQueuedAt, ts.PolicyCheckedAt, ts.PolicySoftFailedAt, ts.PostPlanCompletedAt,
			ts.PostPlanRunningAt, ts.PrePlanCompletedAt, ts.PrePlanRunningAt, ts.QueuingAt} {
			if v.After(t) {
				t = v
			}
		}
	}
	return t.UTC()
}
