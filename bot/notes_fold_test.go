package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// Release notes jobs folded into one post (foldWaiting) never lose or repeat a deploy: for
// random interleavings of deploys (some failed), listener rounds (scored at once or later)
// and outbox rounds, every job ends sent, and the jobs marked with one post's key are a run
// of consecutive jobs whose deploys the post covers, named by the last one's deploy and
// counted in its text; every post is posted once; the posts cover every deploy once.
func TestFoldedReleaseNotesCoverEveryDeployOnce(t *testing.T) {
	folds := 0
	for seed := uint64(1); seed <= 30; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			folds += foldProperty(t, rand.New(rand.NewPCG(seed, 7)))
		})
	}
	if folds == 0 {
		t.Fatal("no post covered two jobs: the fold was not exercised")
	}
}

// foldProperty runs one random history and checks it; it returns how many posts covered more
// than one job.
func foldProperty(t *testing.T, rng *rand.Rand) int {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	var listened int64 // the last fact handed to the listener
	var unscored bool  // the listener has seen facts the cursor has not passed
	early := 0         // outbox rounds while unscored
	deploys := 0
	for step := 0; step < 15+rng.IntN(30); step++ {
		switch rng.IntN(5) {
		case 0, 1:
			status := releaseops.DeploySucceeded
			if rng.IntN(6) == 0 {
				status = releaseops.DeployFailed
			} else {
				deploys++
			}
			h.clock.Advance(time.Minute)
			h.recordDeployOf(fmt.Sprintf("d%02d", step), fmt.Sprintf("%040x", rng.Uint64()), "", h.clock.Now(), status)
		case 2:
			facts, err := h.db.FactsAfter(ctx, listened, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(facts) == 0 {
				continue
			}
			listened = facts[len(facts)-1].ID
			if rng.IntN(2) == 0 {
				h.bot.OnFacts(ctx, facts) // scored in a later round
				unscored = true
			} else {
				h.work(facts)
				unscored, early = false, 0
			}
		default:
			if unscored {
				// A job waiting for its score is retried (and counts an attempt): a few
				// rounds at most, as the rescoring worker is not that far behind.
				if early < 2 {
					h.deliver(1)
					early++
				}
				continue
			}
			h.deliver(1 + rng.IntN(2))
		}
	}
	facts, err := h.db.FactsAfter(ctx, listened, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(facts) > 0 {
		h.work(facts)
	} else if unscored {
		if err := h.db.Writer.Do(ctx, func(tx *storage.Tx) error { return storage.SetCursor(tx, "rescore", listened) }); err != nil {
			t.Fatal(err)
		}
	}
	h.deliver(200)

	var jobs, posts []outbox.Stored
	for _, m := range h.messages("") {
		switch m.Kind {
		case KindReleaseNotes:
			jobs = append(jobs, m)
		case KindPost:
			posts = append(posts, m)
		}
	}
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].ID < jobs[j].ID })
	type group struct {
		first, last int // indexes in jobs
		deploys     int
		lastDeploy  string
	}
	groups := map[string]*group{}
	covered := 0
	for i, m := range jobs {
		if m.State != outbox.StateSent {
			t.Fatalf("job %s ended %s (%s)", m.Key, m.State, m.LastError)
		}
		var job notesJob
		if err := json.Unmarshal(m.Payload, &job); err != nil {
			t.Fatal(err)
		}
		n := max(1, job.Notes.Deploys)
		covered += n
		g := groups[m.Ref]
		if g == nil {
			g = &group{first: i, last: i}
			groups[m.Ref] = g
		} else if g.last != i-1 {
			t.Fatalf("post %s covers jobs %d and %d but not the ones between", m.Ref, jobs[g.last].ID, m.ID)
		}
		g.last, g.deploys, g.lastDeploy = i, g.deploys+n, job.Notes.DeployID
	}
	if covered != deploys {
		t.Fatalf("jobs cover %d deploys, %d succeeded", covered, deploys)
	}
	if len(posts) != len(groups) {
		t.Fatalf("%d posts queued for %d groups of jobs", len(posts), len(groups))
	}
	slackPosts := h.slack.posts("chat.postMessage")
	folded := 0
	for _, p := range posts {
		g := groups[p.Key]
		if g == nil {
			t.Fatalf("post %s covers no job", p.Key)
		}
		if g.last > g.first {
			folded++
		}
		var pp PostPayload
		if err := json.Unmarshal(p.Payload, &pp); err != nil {
			t.Fatal(err)
		}
		if pp.Notify == nil || pp.Notify.Ref != g.lastDeploy {
			t.Errorf("post %s is of deploy %+v, want the last it covers, %s", p.Key, pp.Notify, g.lastDeploy)
		}
		text, _ := json.Marshal(pp.Message)
		says := fmt.Sprintf("covers %d production deploys", g.deploys)
		if (g.deploys > 1) != strings.Contains(string(text), says) {
			t.Errorf("post %s covers %d deploys; its text says otherwise:\n%s", p.Key, g.deploys, text)
		}
		sent := 0
		for _, sp := range slackPosts {
			if strings.Contains(sp.Metadata, p.Key) {
				sent++
			}
		}
		if p.State != outbox.StateSent || sent != 1 {
			t.Errorf("post %s: %s, posted %d times", p.Key, p.State, sent)
		}
	}
	return folded
}
