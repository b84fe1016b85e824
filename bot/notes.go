package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/ingest"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// notesJob is the payload of a github.release_notes message: the deploy, the scores around
// it and where to post. The GitHub part is read when the job runs, off the ingestion path.
type notesJob struct {
	Channel string       `json:"channel"`
	PostKey string       `json:"post_key"`
	Notes   ReleaseNotes `json:"notes"`
	// DeployAt is the deploy fact's time; the composer finds the previous production deploy
	// and the score after this one from the facts up to it.
	DeployAt time.Time `json:"deploy_at"`
	// CoversFrom is the time of the earliest deploy the post covers: the previous commit is
	// the last production deploy before it.
	CoversFrom time.Time `json:"covers_from"`
	// FactID is the deploy's fact: once the rescoring cursor has passed it, the stored score
	// is the score after the deploy.
	FactID int64 `json:"fact_id"`
}

// OnFacts is a rescore listener: for every production deploy that just succeeded it queues
// a release-notes job. It runs on the rescoring worker's path, so it does only what is cheap:
// the score before the deploy (the stored one: the rescore that includes the deploy is saved
// after the listeners), and one transaction for all the jobs of the batch. Loading facts,
// the score after the deploy and GitHub happen when the outbox composes the post.
// It may run again for the same facts after a crash: the outbox key makes that harmless.
func (b *Bot) OnFacts(ctx context.Context, facts []storage.StoredFact) {
	now := b.d.Now()
	// Several production deploys of one service in one batch (a burst) make one post that
	// covers them all, from the commit before the first to the last.
	type group struct {
		last      *storage.StoredFact
		end       time.Time
		first     time.Time
		firstPrev string // previous_sha of the first deploy covered, as the pipeline sent it
		n         int
	}
	groups := map[string]*group{}
	var order []string
	for i := range facts {
		f := &facts[i]
		d := f.Deploy
		if f.Kind != releaseops.FactDeploy || d == nil || f.Service == "" || d.Status != releaseops.DeploySucceeded ||
			(d.Kind != "" && d.Kind != releaseops.KindDeploy) || !isProduction(d.Environment) {
			continue
		}
		end := f.At
		if d.FinishedAt != nil && !d.FinishedAt.IsZero() {
			end = *d.FinishedAt
		}
		if now.Sub(end) > b.ReleaseNotesMaxAge {
			continue // history being replayed, not a deploy people are waiting to hear about
		}
		g := groups[f.Service]
		if g == nil {
			g = &group{first: f.At, firstPrev: d.PreviousSHA}
			groups[f.Service] = g
			order = append(order, f.Service)
		}
		g.n++
		if g.last == nil || !f.At.Before(g.last.At) {
			g.last, g.end = f, end
		}
		if f.At.Before(g.first) {
			g.first, g.firstPrev = f.At, d.PreviousSHA
		}
	}
	if len(order) == 0 {
		return
	}
	before, err := b.d.Scores.ScoreSummaries(ctx, order)
	if err != nil {
		if ctx.Err() != nil {
			b.d.Log.Info("release notes left for the next start: stopping", "services", len(order))
		} else {
			b.d.Log.Error("queue release notes: read the scores before the deploys", "services", len(order), "err", err)
		}
		return
	}
	var jobs []outbox.Message
	for _, svc := range order {
		g := groups[svc]
		m, ok, err := b.releaseNotesJob(ctx, g.last, g.end, g.first, g.firstPrev, g.n, before)
		if err != nil && ctx.Err() != nil {
			// Stopping mid-round: the round's facts are followed again at the next start
			// (the cursor did not move), and the job's key keeps it from being queued twice.
			b.d.Log.Info("release notes left for the next start: stopping", "service", svc, "deploy", g.last.Deploy.ID)
			return
		}
		if err != nil {
			b.d.Log.Error("queue release notes", "service", svc, "deploy", g.last.Deploy.ID, "err", err)
			continue
		}
		if ok {
			jobs = append(jobs, m)
		}
	}
	if len(jobs) == 0 {
		return
	}
	// Express: the rescoring round stores its scores only after this write (the jobs must be
	// queued before the cursor moves past their deploys), so it must not queue behind deliveries.
	err = b.d.DB.Writer.DoExpress(ctx, func(t *storage.Tx) error {
		_, err := outbox.EnqueueAll(t, jobs, now)
		return err
	})
	switch {
	case err != nil && ctx.Err() != nil:
		b.d.Log.Info("release notes left for the next start: stopping", "jobs", len(jobs))
	case err != nil:
		b.d.Log.Error("queue release notes", "jobs", len(jobs), "err", err)
	}
	// No wake here: a job needs the score after its deploy, which this round stores after the
	// listeners; woken now, the outbox would only find it early and retry it in 500 ms. The
	// worker wakes the outbox once the round is stored (rescore.Worker.Stored).
}

func isProduction(env string) bool {
	return strings.EqualFold(env, "production") || strings.EqualFold(env, "prod")
}

// releaseNotesJob builds the outbox job of one deploy, or of a burst of deploys ending with f
// whose first one said it replaced firstPrev; ok is false when there is nowhere to post it.
// before holds the stored scores of the round's services (Scores.ScoreSummaries).
func (b *Bot) releaseNotesJob(ctx context.Context, f *storage.StoredFact, end, coversFrom time.Time, firstPrev string, deploys int, before map[string]storage.ScoreSummary) (outbox.Message, bool, error) {
	d := f.Deploy
	svc := b.service(f.Service)
	channel := b.releaseChannel(svc)
	if channel == "" {
		b.d.Log.Warn("release notes not posted: the service has no slack_channel and there is no slack.default_channel", "service", f.Service)
		return outbox.Message{}, false, nil
	}
	deployID := d.ID
	if deployID == "" {
		deployID = f.Evidence.Delivery
	}
	notes := ReleaseNotes{Service: f.Service, Environment: d.Environment, DeployID: deployID, Version: d.Version,
		CommitSHA: d.CommitSHA, PreviousSHA: d.PreviousSHA, Repo: d.Repo, Actor: d.Actor, RunURL: d.URL, FinishedAt: end.UTC(), Deploys: deploys}
	if deploys > 1 {
		// The commit before the first covered deploy, as its pipeline stated it; when it did
		// not, the composer looks up the production deploy before it.
		notes.PreviousSHA = firstPrev
	}
	if notes.Repo == "" {
		notes.Repo = svc.Repo
	}
	if s, ok := before[f.Service]; ok {
		notes.Before = ScoreBand{Score: s.Score, Band: s.Band, Known: true}
	}
	job := notesJob{Channel: channel, PostKey: "release_notes:" + f.Service + ":" + deployID, Notes: notes, DeployAt: f.At, CoversFrom: coversFrom, FactID: f.ID}
	payload, err := json.Marshal(job)
	if err != nil {
		return outbox.Message{}, false, err
	}
	return outbox.Message{Key: "compose:" + job.PostKey, Kind: KindReleaseNotes, Target: "release_notes:" + f.Service,
		Service: f.Service, Payload: payload}, true, nil
}

// scoreWaitMax is how long release notes wait for the score after their deploy without
// counting attempts.
const scoreWaitMax = 10 * time.Minute

// errScoreNotYet is returned while the rescore that includes the deploy is not stored yet.
var errScoreNotYet = errors.New("the score after the deploy is not stored yet")

// completeNotes fills what the listener left to the composer: the score after the deploy
// (the stored score, once the rescoring worker has passed the deploy's fact) and the commit
// of the production deploy before the first one the post covers.
// cursor is the rescoring worker's, read by the caller.
func (b *Bot) completeNotes(ctx context.Context, job *notesJob, cursor int64) error {
	n := &job.Notes
	if !n.After.Known {
		if cursor < job.FactID {
			return errScoreNotYet
		}
		row, err := b.d.Scores.GetScore(ctx, n.Service)
		switch {
		case err == nil:
			n.After = ScoreBand{Score: row.Score, Band: row.Band, Known: true}
		case !errors.Is(err, storage.ErrNotFound):
			return err
		}
	}
	if n.PreviousSHA == "" {
		from := job.CoversFrom
		if from.IsZero() {
			from = job.DeployAt
		}
		// The previous production deploy is nearly always among the last few; look further
		// only when it is not.
		for _, limit := range []int{25, 200} {
			recent, err := b.d.DB.RecentFacts(ctx, n.Service, releaseops.FactDeploy, from, limit)
			if err != nil {
				return err
			}
			facts := make([]releaseops.Fact, len(recent))
			for i := range recent {
				facts[i] = recent[i].Fact
			}
			if n.PreviousSHA = previousProductionCommit(facts, n.CommitSHA, from); n.PreviousSHA != "" || len(recent) < limit {
				break
			}
		}
	}
	return nil
}

// previousProductionCommit is the commit of the latest successful production deploy before
// this one that deployed a different commit.
func previousProductionCommit(facts []releaseops.Fact, commit string, at time.Time) string {
	var best *releaseops.Fact
	for i := range facts {
		f := &facts[i]
		d := f.Deploy
		if f.Kind != releaseops.FactDeploy || d == nil || d.Status != releaseops.DeploySucceeded || !isProduction(d.Environment) ||
			(d.Kind != "" && d.Kind != releaseops.KindDeploy) || d.CommitSHA == "" || d.CommitSHA == commit ||
			!f.At.Before(at) {
			continue
		}
		if best == nil || f.At.After(best.At) {
			best = f
		}
	}
	if best == nil {
		return ""
	}
	return best.Deploy.CommitSHA
}

// notesComposer runs github.release_notes jobs: it reads the changes from GitHub, renders
// the post and queues it. GitHub trouble never stops the post: after GitHubAttempts tries it
// goes out saying the notes are unavailable.
type notesComposer struct{ b *Bot }

// Repeatable: composing reads GitHub and queues the post under a fixed key, so a repeat after
// a crash changes nothing.
func (c *notesComposer) Repeatable() bool { return true }

// notesBreakerAfter consecutive failed GitHub reads (over all jobs) make a job's first failure
// its last, until a read succeeds again.
const notesBreakerAfter = 5

// Send composes and queues the post in a transaction of its own; the outbox calls SendTx.
func (c *notesComposer) Send(ctx context.Context, m *outbox.Stored) (string, error) {
	ref, write, err := c.SendTx(ctx, m)
	if err != nil || write == nil {
		return ref, err
	}
	if err := c.b.d.DB.Writer.Do(ctx, write); err != nil {
		return "", &outbox.RetryableError{Err: err}
	}
	c.b.d.Outbox.Wake()
	return ref, nil
}

// SendTx composes the post of the job m and of the jobs of the same service's later deploys
// waiting behind it (see foldWaiting), and returns the write that queues the post and marks
// the folded jobs done, which the outbox commits with m's own outcome.
func (c *notesComposer) SendTx(ctx context.Context, m *outbox.Stored) (string, func(*storage.Tx) error, error) {
	b := c.b
	var job notesJob
	if err := json.Unmarshal(m.Payload, &job); err != nil {
		return "", nil, fmt.Errorf("decode release notes job: %w", err)
	}
	// One reading of the rescoring cursor decides both which waiting jobs are scored enough
	// to fold and whether the post's score after the deploy is stored.
	var folded []storage.OutboxRow
	cursor, err := b.d.DB.Cursor(ctx, "rescore")
	if err == nil {
		folded, err = b.foldWaiting(ctx, m, &job, cursor)
	}
	if err == nil {
		err = b.completeNotes(ctx, &job, cursor)
	}
	if err != nil {
		re := &outbox.RetryableError{Err: fmt.Errorf("release notes of %s: %w", job.Notes.Service, err)}
		if errors.Is(err, errScoreNotYet) {
			// Rescoring lags under load (seconds on PostgreSQL): waiting for it is not a failed
			// attempt, up to scoreWaitMax, after which the attempts count again and a
			// rescoring that never catches up ends the job as dead instead of holding the queue.
			re.After, re.Waiting = 500*time.Millisecond, b.d.Now().Sub(m.CreatedAt) < scoreWaitMax
		}
		return "", nil, re
	}
	n := &job.Notes
	attempt := m.Attempts + 1
	switch {
	case b.d.Notes == nil:
		n.Unavailable = "no GitHub token is configured (github.token)"
	case n.Repo == "":
		n.Unavailable = "the catalog names no repository for " + n.Service
	case n.CommitSHA == "":
		n.Unavailable = "the deploy event carries no commit_sha"
	case n.PreviousSHA == "":
		n.Unavailable = "this is the first production deploy ReleaseOps has seen, so there is nothing to compare it with"
		n.CompareURL = b.d.Notes.CompareURL(n.Repo, "", n.CommitSHA)
	default:
		n.CompareURL = b.d.Notes.CompareURL(n.Repo, n.PreviousSHA, n.CommitSHA)
		changes, err := b.d.Notes.Changes(ctx, n.Repo, n.PreviousSHA, n.CommitSHA)
		if err != nil {
			var ne *NotesError
			if !errors.As(err, &ne) {
				ne = notesError("read the changes", err)
			}
			failing := b.notesFailures.Add(1) // consecutive failed reads, across jobs
			// While GitHub keeps failing, a job gets one try, not GitHubAttempts: each retry is
			// writes and a round trip that would only fail again (measured with GitHub
			// unreachable: 3 tries per note, and ingest fell from 69% to 53% of its ceiling).
			if ne.Retryable && attempt < b.GitHubAttempts && failing < notesBreakerAfter {
				return "", nil, &outbox.RetryableError{Err: fmt.Errorf("release notes of %s: %s", n.Service, ne.Reason)}
			}
			b.d.Log.Warn("release notes posted without the changes", "service", n.Service, "deploy", n.DeployID, "err", err)
			n.Unavailable = ne.Reason
		} else {
			b.notesFailures.Store(0)
			n.Changes = changes
			if changes.CompareURL != "" {
				n.CompareURL = changes.CompareURL
			}
		}
	}
	msg := ReleaseNotesMessage(n, b.cfg.PublicURL)
	now := b.d.Now()
	write := func(t *storage.Tx) error {
		if _, err := enqueuePost(t, job.PostKey, n.Service, PostPayload{Channel: job.Channel, Message: msg,
			Notify: &Notify{Kind: "release_notes", Ref: n.DeployID}}, now); err != nil {
			return fmt.Errorf("queue release notes post: %w", err)
		}
		for _, f := range folded {
			if err := storage.FoldOutbox(t, f.ID, job.PostKey, now); err != nil {
				return fmt.Errorf("release notes folded into %s: %w", job.PostKey, err)
			}
		}
		return nil
	}
	return job.PostKey, write, nil
}

// recordDelivered records the notification fact of a delivered post, once per message: the
// evidence that release notes and posts reached the channel (release communication).
func (b *Bot) recordDelivered(ctx context.Context, m *outbox.Stored, p *PostPayload, ts string) error {
	if p.Notify == nil || m.Service == "" {
		return nil
	}
	n := &releaseops.Notification{Kind: p.Notify.Kind, Channel: p.Channel, Ref: p.Notify.Ref}
	// The post went out: record it even if the attempt's context is ending.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, err := b.d.Pipeline.RecordInternal(ctx, ingest.Internal{
		Type: "notification", DeliveryID: "notification:" + m.Key, Service: m.Service,
		Body:  map[string]string{"kind": n.Kind, "channel": n.Channel, "ref": n.Ref, "ts": ts, "key": m.Key},
		Facts: []releaseops.Fact{{Kind: releaseops.FactNotification, Notification: n}},
	})
	return err
}
