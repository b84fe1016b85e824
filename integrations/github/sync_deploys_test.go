package github

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// webhookDeploy is what the deployment_status webhook parser makes of the same deployment
// and status: the sync must give the same deploy, so that the two dedupe.
func webhookDeploy(t *testing.T, deployment json.RawMessage, status *gh.DeploymentStatus) releaseops.Fact {
	t.Helper()
	st, err := json.Marshal(status)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"action": "created", "deployment": deployment, "deployment_status": json.RawMessage(st),
		"repository": map[string]any{"id": 512000101, "name": "api", "full_name": "acme/api"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set(EventHeader, "deployment_status")
	h.Set(DeliveryHeader, "d-1")
	h.Set("Content-Type", "application/json")
	p, err := New("secret", Options{}).Parse(h, body)
	if err != nil || len(p.Facts) != 1 {
		t.Fatalf("webhook parse: %v, %d facts", err, len(p.Facts))
	}
	return p.Facts[0]
}

func TestSyncDeploymentsMapLikeTheWebhook(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/api", syncer.State{})

	var deployments []json.RawMessage
	if err := json.Unmarshal(g.testdata("acme-api/deployments.json"), &deployments); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id     string
		item   int // index in deployments.json
		status int // index in its statuses file: the one that decides
		want   string
	}{
		{"1003", 0, 0, releaseops.DeployStarted},   // in_progress after queued
		{"1002", 1, 0, releaseops.DeployFailed},    // failure
		{"1001", 2, 1, releaseops.DeploySucceeded}, // success, then marked inactive by a newer deploy
	}
	for _, c := range cases {
		o := syncObservation(t, res, "deployment:"+c.id)
		if len(o.Facts) != 1 || o.Facts[0].Kind != releaseops.FactDeploy {
			t.Fatalf("deployment:%s facts = %s", c.id, syncJSON(o.Facts))
		}
		got := o.Facts[0]
		var statuses []*gh.DeploymentStatus
		if err := json.Unmarshal(g.testdata("acme-api/statuses."+c.id+".json"), &statuses); err != nil {
			t.Fatal(err)
		}
		want := webhookDeploy(t, deployments[c.item], statuses[c.status])
		if got.Deploy.Status != c.want || !reflect.DeepEqual(got.Deploy, want.Deploy) || !got.At.Equal(want.At) {
			t.Errorf("deployment:%s:\n sync    %s at %v\n webhook %s at %v", c.id, syncJSON(got.Deploy), got.At, syncJSON(want.Deploy), want.At)
		}
		if len(o.Requests) != 2 || !strings.HasSuffix(o.Requests[1].Path, "/deployments/"+c.id+"/statuses?per_page=100") {
			t.Errorf("deployment:%s requests = %v", c.id, requestPaths(o))
		}
	}

	// 1003 finishes: its updated_at moves and it has a new status. Only its statuses are
	// read again, and only it is observed.
	var d1003 map[string]any
	if err := json.Unmarshal(deployments[0], &d1003); err != nil {
		t.Fatal(err)
	}
	d1003["updated_at"] = "2026-11-30T09:12:00Z"
	changed, _ := json.Marshal(append([]any{d1003}, json.RawMessage(deployments[1]), json.RawMessage(deployments[2])))
	g.set("/repos/acme/api/deployments?per_page=30", syncRoute{status: http.StatusOK, body: changed})
	var st []map[string]any
	if err := json.Unmarshal(g.testdata("acme-api/statuses.1003.json"), &st); err != nil {
		t.Fatal(err)
	}
	done := map[string]any{}
	for k, v := range st[0] {
		done[k] = v
	}
	done["id"], done["state"], done["created_at"], done["updated_at"] = 5003003, "success", "2026-11-30T09:12:00Z", "2026-11-30T09:12:00Z"
	body, _ := json.Marshal(append([]any{done}, st[0], st[1]))
	g.set("/repos/acme/api/deployments/1003/statuses?per_page=100", syncRoute{status: http.StatusOK, body: body})
	g.Hits()
	again, _ := syncRead(t, s, "acme/api", res.State)
	var keys []string
	for _, o := range again.Observations {
		keys = append(keys, o.Key)
	}
	if !reflect.DeepEqual(keys, []string{"deployment:1003"}) {
		t.Fatalf("observations after 1003 finished = %v, want deployment:1003 only", keys)
	}
	if d := syncObservation(t, again, "deployment:1003").Facts[0].Deploy; d.Status != releaseops.DeploySucceeded || d.FinishedAt == nil {
		t.Errorf("1003 after it finished = %s", syncJSON(d))
	}
	for _, h := range g.Hits() {
		if strings.Contains(h.Key, "/statuses") && !strings.Contains(h.Key, "/1003/") {
			t.Errorf("asked %s again; that deployment did not change", h.Key)
		}
	}
}

func TestSyncReleases(t *testing.T) {
	clock := newSyncClock()
	g := newSyncGitHub(t, clock)
	g.serveRepo("acme/api", acmeAPI)
	s := newTestSyncer(g)
	res, _ := syncRead(t, s, "acme/api", syncer.State{})
	o := syncObservation(t, res, "release:180000002")
	want := releaseops.Release{Repo: "acme/api", Action: "published", Tag: "v1.5.0", Name: "v1.5.0", URL: "https://github.com/acme/api/releases/tag/v1.5.0"}
	if f := o.Facts[0]; f.Kind != releaseops.FactRelease || !reflect.DeepEqual(*f.Release, want) || f.At.Format("2006-01-02T15:04") != "2026-11-28T16:10" {
		t.Errorf("release fact = %s at %v", syncJSON(f.Release), f.At)
	}
	syncObservation(t, res, "release:180000001")
	for _, o := range res.Observations {
		if o.Key == "release:180000003" {
			t.Error("a draft release was observed")
		}
	}
}
