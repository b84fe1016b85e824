package main

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/bot"
	"github.com/releaseops/releaseops/config"
	"github.com/releaseops/releaseops/integrations/pagerduty"
	"github.com/releaseops/releaseops/syncer"
)

// The bench's fakes must answer in shapes the product's own readers decode: the release
// notes of a deploy (a compare and its commits' pull requests) and a PagerDuty service read.
func TestBenchAPIsAnswerAsTheProductReads(t *testing.T) {
	apis, err := startBenchAPIs(apisFake, []string{"svc-000", "svc-001"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer apis.close()
	cfg := config.Default()
	apis.configure(&cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	notes, err := bot.NewGitHubNotes(cfg.GitHub.Token.Value(), cfg.GitHub.APIURL, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Repeat("ab", 20)
	changes, err := notes.Changes(ctx, "bench/svc-000", strings.Repeat("01", 20), head)
	if err != nil {
		t.Fatalf("release notes against the fake: %v", err)
	}
	if len(changes.PullRequests) != 2 || len(changes.Commits) != 1 || changes.TotalCommits != 3 {
		t.Fatalf("changes = %+v, want 2 merged pull requests and 1 direct commit of 3", changes)
	}
	if got := bot.Classify(changes.PullRequests[0].Title, changes.PullRequests[0].Labels); got != bot.GroupFeatures {
		t.Errorf("first pull request %+v classified %s, want features", changes.PullRequests[0], got)
	}
	if changes.Commits[0].SHA != head {
		t.Errorf("direct commit %s, want the head %s", changes.Commits[0].SHA, head)
	}

	pd := pagerduty.NewSyncer(pagerduty.SyncConfig{Token: cfg.PagerDuty.Token.Value(), APIURL: cfg.PagerDuty.APIURL,
		HTTPClient: &http.Client{Timeout: 5 * time.Second}, Now: time.Now,
		List: func(context.Context) ([]syncer.Subject, error) { return nil, nil }})
	subj := syncer.Subject{Key: "PBENCH001", Service: "svc-001", Subject: releaseops.Subject{Kind: releaseops.SubjectPagerDuty, Key: "PBENCH001"}}
	res, err := pd.Read(ctx, subj, syncer.State{})
	if err != nil {
		t.Fatalf("PagerDuty read against the fake: %v", err)
	}
	if len(res.Observations) == 0 {
		t.Fatal("PagerDuty read: no observations")
	}
	if apis.compares.Load() != 1 || apis.commitPulls.Load() != 3 || apis.pdCalls.Load() == 0 {
		t.Errorf("calls: %d compares, %d commit-pull lists, %d PagerDuty", apis.compares.Load(), apis.commitPulls.Load(), apis.pdCalls.Load())
	}
}

// The failing variant answers every call 502, which the readers see as GitHub failing.
func TestBenchAPIsFailing(t *testing.T) {
	apis, err := startBenchAPIs(apisFailing, []string{"svc-000"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer apis.close()
	cfg := config.Default()
	apis.configure(&cfg)
	notes, err := bot.NewGitHubNotes(cfg.GitHub.Token.Value(), cfg.GitHub.APIURL, &http.Client{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = notes.Changes(ctx, "bench/svc-000", strings.Repeat("01", 20), strings.Repeat("ab", 20))
	var ne *bot.NotesError
	if !errors.As(err, &ne) || !ne.Retryable {
		t.Fatalf("err = %v, want a retryable NotesError", err)
	}
}
