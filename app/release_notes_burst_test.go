package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestBurstOfProductionDeploysMakesOnePostCoveringThemAll(t *testing.T) {
	e := newEnv(t, nil)
	p := e.app.ReplayPipeline()
	ctx := context.Background()
	deploy := func(i int, sha string) {
		body := fmt.Sprintf(`{"id":"d%d","service":"checkout","environment":"production","status":"succeeded","commit_sha":%q,"finished_at":"2026-11-20T0%d:00:00Z"}`, i, sha, i)
		if _, err := p.Receive(ctx, "deploy", http.Header{}, []byte(body), false); err != nil {
			t.Fatal(err)
		}
	}
	deploy(5, "aaaaaaa1")
	e.settle() // the first deploy is announced on its own
	e.app.Outbox.DeliverDue(ctx)
	deploy(6, "bbbbbbb2")
	deploy(7, "ccccccc3")
	deploy(8, "ddddddd4")
	e.settle() // three in one round: one post
	msgs, err := e.app.Outbox.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, m := range msgs {
		if strings.HasPrefix(m.Key, "compose:release_notes:checkout:") {
			jobs = append(jobs, m.Key)
		}
	}
	if len(jobs) != 2 {
		t.Fatalf("compose jobs = %v, want one for d5 and one for the burst", jobs)
	}
	m, err := e.app.Outbox.Get(ctx, "compose:release_notes:checkout:d8")
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Notes struct {
			Deploys int `json:"deploys"`
		} `json:"notes"`
		CoversFrom string `json:"covers_from"`
	}
	json.Unmarshal(m.Payload, &job)
	if job.Notes.Deploys != 3 || !strings.HasPrefix(job.CoversFrom, "2026-11-20T06:00:00") {
		t.Fatalf("burst job = %+v", job)
	}
	// Composed, the post compares from the commit before the burst (d5's) to the last.
	for i := 0; i < 4; i++ {
		e.app.Outbox.DeliverDue(ctx)
	}
	post, err := e.app.Outbox.Get(ctx, "release_notes:checkout:d8")
	if err != nil {
		t.Fatal(err)
	}
	if s := string(post.Payload); !strings.Contains(s, "aaaaaaa") || !strings.Contains(s, "covers 3 production deploys") {
		t.Fatalf("post = %s", s)
	}
}

// Release notes still waiting when the next deploys' notes are queued go out as one post:
// the job of d5 had not been composed when d6..d8 came, so the post covers all four.
func TestWaitingReleaseNotesFoldIntoOnePost(t *testing.T) {
	e := newEnv(t, nil)
	p := e.app.ReplayPipeline()
	ctx := context.Background()
	deploy := func(i int, sha string) {
		body := fmt.Sprintf(`{"id":"d%d","service":"checkout","environment":"production","status":"succeeded","commit_sha":%q,"previous_sha":"0000000%d","finished_at":"2026-11-20T0%d:00:00Z"}`, i, sha, i-1, i)
		if _, err := p.Receive(ctx, "deploy", http.Header{}, []byte(body), false); err != nil {
			t.Fatal(err)
		}
	}
	deploy(5, "aaaaaaa1")
	e.settle()
	deploy(6, "bbbbbbb2")
	deploy(7, "ccccccc3")
	e.settle()
	deploy(8, "ddddddd4")
	e.settle() // three jobs waiting: d5, the burst d6-d7, d8
	for i := 0; i < 3; i++ {
		e.app.Outbox.DeliverDue(ctx)
	}
	msgs, err := e.app.Outbox.List(ctx, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var posts []string
	jobs := map[string]string{}
	for _, m := range msgs {
		switch {
		case strings.HasPrefix(m.Key, "release_notes:checkout:"):
			posts = append(posts, m.Key)
		case strings.HasPrefix(m.Key, "compose:release_notes:checkout:"):
			jobs[m.Key] = m.State + " " + m.Ref
		}
	}
	if len(posts) != 1 || posts[0] != "release_notes:checkout:d8" {
		t.Fatalf("posts = %v, want one, under the last deploy's key", posts)
	}
	for _, k := range []string{"compose:release_notes:checkout:d5", "compose:release_notes:checkout:d7", "compose:release_notes:checkout:d8"} {
		if jobs[k] != "sent release_notes:checkout:d8" {
			t.Errorf("%s: %q, want sent with the post's key", k, jobs[k])
		}
	}
	post, err := e.app.Outbox.Get(ctx, "release_notes:checkout:d8")
	if err != nil {
		t.Fatal(err)
	}
	// From the commit before d5 (its previous_sha) to d8's, covering the four deploys.
	if s := string(post.Payload); !strings.Contains(s, "0000000") || !strings.Contains(s, "ddddddd") || !strings.Contains(s, "covers 4 production deploys") {
		t.Fatalf("post = %s", s)
	}
}
