package bot

import (
	"context"
	"encoding/json"

	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// maxFold bounds how many waiting jobs one post takes in.
const maxFold = 200

// foldWaiting widens job, the oldest waiting release notes of a service, to also cover the
// later production deploys whose jobs wait behind it, and returns those jobs: the post then
// compares from the commit before the first deploy to the last one, as a burst's does, and
// they are marked done with it. Release notes wait when they come faster than they can be
// composed (GitHub's round trips, one channel's posts in order); without folding, each
// waiting deploy still cost a compare, a post and its writes, and the queue grew without
// bound under a steady stream (measured with the bench's fake GitHub: 491 jobs waiting after
// 6 s, 193 composed). Only jobs whose deploy is already scored are folded, so a stream of new
// deploys cannot keep the oldest one waiting for ever. cursor is the rescoring worker's.
func (b *Bot) foldWaiting(ctx context.Context, m *outbox.Stored, job *notesJob, cursor int64) ([]storage.OutboxRow, error) {
	if cursor < job.FactID {
		return nil, nil // the job itself is not scored yet: completeNotes says so
	}
	waiting, err := b.d.DB.WaitingOutboxAfter(ctx, m.Target, m.ID, maxFold)
	if err != nil {
		return nil, err
	}
	var folded []storage.OutboxRow
	for _, w := range waiting {
		var later notesJob
		if w.Kind != KindReleaseNotes || json.Unmarshal(w.Payload, &later) != nil || later.FactID > cursor ||
			later.Notes.Service != job.Notes.Service {
			break // kept in order: it and what follows get their own attempts
		}
		if job.CoversFrom.IsZero() {
			job.CoversFrom = job.DeployAt
		}
		n, l := &job.Notes, &later.Notes
		n.Deploys = max(1, n.Deploys) + max(1, l.Deploys)
		n.Environment, n.DeployID, n.Version, n.CommitSHA = l.Environment, l.DeployID, l.Version, l.CommitSHA
		n.Actor, n.RunURL, n.FinishedAt = l.Actor, l.RunURL, l.FinishedAt
		if l.Repo != "" {
			n.Repo = l.Repo
		}
		job.FactID, job.DeployAt, job.PostKey, job.Channel = later.FactID, later.DeployAt, later.PostKey, later.Channel
		folded = append(folded, w)
	}
	return folded, nil
}
