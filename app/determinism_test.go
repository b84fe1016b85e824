package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/internal/fixtures"
	"github.com/releaseops/releaseops/scoring"
)

// replayLines builds a replay file's lines from the shared GitHub fixtures plus deploy events.
func replayLines(t *testing.T) []map[string]any {
	t.Helper()
	var lines []map[string]any
	files, _ := filepath.Glob(filepath.Join(fixtures.Dir(t), "github", "*.json"))
	for i, f := range files {
		body, _ := os.ReadFile(f)
		event := strings.SplitN(filepath.Base(f), ".", 2)[0]
		lines = append(lines, map[string]any{"source": "github", "headers": map[string]string{"X-GitHub-Event": event,
			"X-GitHub-Delivery": fmt.Sprintf("replay-%d", i)}, "body": json.RawMessage(body)})
	}
	for i := 0; i < 20; i++ {
		status := []string{"succeeded", "failed", "rolled_back", "succeeded"}[i%4]
		lines = append(lines, map[string]any{"source": "deploy", "headers": map[string]string{}, "body": map[string]any{
			"id": fmt.Sprintf("dep-%d", i), "service": "checkout", "environment": "production", "status": status, "strategy": "canary",
			"phases": 3, "health_checks": i%2 == 0, "started_at": fmt.Sprintf("2026-11-%02dT09:00:00Z", 1+i), "finished_at": fmt.Sprintf("2026-11-%02dT09:20:00Z", 1+i)}})
	}
	return lines
}

func replayInto(t *testing.T, lines []map[string]any) map[string][]byte {
	t.Helper()
	e := newEnv(t, func(c *config.Config) {})
	p := e.app.ReplayPipeline()
	for i, l := range lines {
		body, _ := json.Marshal(l["body"])
		h := http.Header{}
		for k, v := range l["headers"].(map[string]string) {
			h.Set(k, v)
		}
		if _, err := p.Receive(context.Background(), l["source"].(string), h, body, false); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
	}
	e.settle()
	if err := e.app.Worker.RescoreAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	rows, err := e.app.DB.ListScores(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cards := map[string][]byte{}
	for _, r := range rows {
		row, err := e.app.DB.GetScore(context.Background(), r.Service)
		if err != nil {
			t.Fatal(err)
		}
		cards[r.Service] = row.Card
	}
	return cards
}

func TestSameReplayGivesByteIdenticalScorecards(t *testing.T) {
	lines := replayLines(t)
	a, b := replayInto(t, lines), replayInto(t, lines)
	if len(a) < 3 {
		t.Fatalf("only %d services scored", len(a))
	}
	for svc, card := range a {
		if !bytes.Equal(card, b[svc]) {
			t.Fatalf("%s: scorecards differ between two fresh databases:\n%s\n%s", svc, card, b[svc])
		}
		// The stored bytes are what encoding/json writes for the same scorecard.
		var c scoring.Scorecard
		if err := json.Unmarshal(card, &c); err != nil {
			t.Fatal(err)
		}
		std, _ := json.Marshal(c)
		if !bytes.Equal(std, card) {
			t.Fatalf("%s: stored scorecard differs from encoding/json's encoding", svc)
		}
		// The gate and the rescoring worker read cards with scoring.DecodeCard (goccy/go-json):
		// it must give what encoding/json gives.
		var fast scoring.Scorecard
		if err := scoring.DecodeCard(card, &fast); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, c) {
			t.Fatalf("%s: DecodeCard differs from encoding/json:\n%+v\n%+v", svc, fast, c)
		}
		// The composite is the mean of the applicable dimensions, from the JSON itself.
		var sum float64
		var n int
		for _, d := range c.Dimensions {
			if d.Applicable {
				sum += d.Score
				n++
			}
		}
		if want := float64(int64(sum/float64(n)*1000+0.5)) / 10; n > 0 && abs(c.Score-want) > 0.051 {
			t.Fatalf("%s: composite %v, mean of dimensions gives %v", svc, c.Score, want)
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
