package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/risk"
)

func TestWindowsEndpoint(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Services = append(c.Services, releaseops.Service{Name: "search", Owner: "team-search"})
		c.Gate.Blackouts = []risk.BlackoutConfig{{Name: "lb-migration", Reason: "the load balancers move", From: "2026-11-21T12:00", To: "2026-11-21T18:00"}}
	})
	ctx := context.Background()
	deploy := func(svc, id, status string, at time.Time) {
		b, _ := json.Marshal(map[string]any{"id": id, "service": svc, "environment": "production", "status": status, "finished_at": at})
		if _, err := e.app.ReplayPipeline().Receive(ctx, "deploy", http.Header{}, b, false); err != nil {
			t.Fatal(err)
		}
	}
	now := e.clock.Now() // Friday 2026-11-20 10:00 UTC
	for w := 1; w <= 4; w++ {
		fri := now.AddDate(0, 0, -7*w)
		// checkout fails on Fridays at 11:00; the organisation (search) does well at 10:00-13:00.
		deploy("checkout", fmt.Sprintf("co-%d", w), "failed", fri.Add(time.Hour))
		deploy("checkout", fmt.Sprintf("co-ok-%d", w), "succeeded", fri.Add(2*time.Hour))
		for h := 0; h < 3; h++ {
			deploy("search", fmt.Sprintf("se-%d-%d", w, h), "succeeded", fri.Add(time.Duration(h)*time.Hour))
		}
	}

	code, body := e.get("/api/v1/services/checkout/windows?hours=48", readToken)
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	raw, _ := json.Marshal(body)
	var resp WindowsResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Service != "checkout" || resp.Environment != "production" || !resp.GeneratedAt.Equal(now) || resp.Hours != 48 || len(resp.Slots) != 48 {
		t.Fatalf("response %s %s %v %d, %d slots", resp.Service, resp.Environment, resp.GeneratedAt, resp.Hours, len(resp.Slots))
	}
	byStart := map[time.Time]risk.Slot{}
	for _, s := range resp.Slots {
		byStart[s.Start] = s
	}
	at := func(h int) risk.Slot { return byStart[now.Add(time.Duration(h)*time.Hour)] }
	// The hour checkout keeps failing in ranks below its neighbours.
	if !(at(1).Score < at(0).Score && at(1).Score < at(2).Score) {
		t.Errorf("Friday 11:00 %.3f should score below 10:00 %.3f and 12:00 %.3f", at(1).Score, at(0).Score, at(2).Score)
	}
	if !strings.Contains(at(1).Reasons[0], "0 of 4 production deploys of checkout on Fridays 11:00-12:00 succeeded") {
		t.Errorf("11:00 reasons %v", at(1).Reasons)
	}
	// Saturday 12:00-18:00: six closed hours, ranked last, with the blackout's reason.
	closed := 0
	for i, s := range resp.Slots {
		if s.Open {
			continue
		}
		closed++
		if i < len(resp.Slots)-6 || !strings.Contains(s.Reasons[0], `blackout "lb-migration"`) {
			t.Errorf("closed slot %d %v: %v", i, s.Start, s.Reasons)
		}
	}
	if closed != 6 {
		t.Errorf("%d closed slots, want 6", closed)
	}

	if code, body = e.get("/api/v1/services/checkout/windows", readToken); code != http.StatusOK || body["hours"] != 72.0 || len(body["slots"].([]any)) != 72 {
		t.Errorf("default hours: %d hours=%v", code, body["hours"])
	}
	for _, bad := range []string{"0", "337", "abc", "-1"} {
		code, body = e.get("/api/v1/services/checkout/windows?hours="+bad, readToken)
		if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(body["error"]), "hours") {
			t.Errorf("hours=%s: %d %v", bad, code, body)
		}
	}
	code, body = e.get("/api/v1/services/chekout/windows", readToken)
	if code != http.StatusNotFound || !strings.Contains(fmt.Sprint(body["detail"]), "did you mean checkout") {
		t.Errorf("unknown service: %d %v", code, body)
	}
	if code, _ = e.get("/api/v1/services/checkout/windows", ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
}
