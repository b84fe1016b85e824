package github

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// deploysMemo records the deployments of the last page read: when each was last updated and
// the status its deploy fact came from.
type deploysMemo struct {
	Deploys map[int64]deployMemo `json:"d,omitempty"`
}

type deployMemo struct {
	Updated time.Time `json:"u"`
	Status  int64     `json:"s,omitempty"`
}

// releasesMemo records the published releases of the last page read, by id, as a digest of
// what was recorded.
type releasesMemo struct {
	Seen map[int64]string `json:"r,omitempty"`
}

// deploymentsPerPage is one page of the most recent deployments: older ones are settled, and
// webhooks carry everything newer. Each new or changed one costs a statuses call.
const deploymentsPerPage = 30

// readDeployments reads the most recent deployments and, for each new or changed one, its
// statuses: one deploy fact per deployment, as the deployment_status webhook gives (same
// id, so a deploy seen by both is one deploy). Creating a status bumps the deployment's
// updated_at, which is how a changed deployment is told from an unchanged one.
func (r *repoRead) readDeployments(ctx context.Context) ([]syncer.Observation, error) {
	old := r.old.Deploys
	next := &deploysMemo{Deploys: map[int64]deployMemo{}}
	r.next.Deploys = next
	first, err := r.f.get(ctx, r.base()+"/deployments?per_page="+strconv.Itoa(deploymentsPerPage), getOpts{keep: true, conditional: old != nil})
	if err != nil {
		return nil, err
	}
	if first.notModified() {
		r.next.Deploys = old
		return nil, nil
	}
	var items []json.RawMessage
	if err := r.f.decode(first, first.Body, &items); err != nil {
		return nil, err
	}
	type change struct {
		dep  *gh.Deployment
		item syncer.Request
		was  deployMemo
	}
	var changed []change
	for _, raw := range items {
		dep := new(gh.Deployment)
		if err := r.f.decode(first, raw, dep); err != nil {
			return nil, err
		}
		var was deployMemo
		if old != nil {
			was = old.Deploys[dep.GetID()]
		}
		if !was.Updated.IsZero() && was.Updated.Equal(at(dep.GetUpdatedAt())) {
			next.Deploys[dep.GetID()] = was
			continue
		}
		changed = append(changed, change{dep: dep, was: was,
			item: syncer.Request{Path: first.Path, Status: first.Status, FetchedAt: first.FetchedAt, Response: raw}})
	}

	obs := make([]*syncer.Observation, len(changed))
	memos := make([]deployMemo, len(changed))
	fns := make([]func(context.Context) error, len(changed))
	for i, c := range changed {
		fns[i] = func(ctx context.Context) error {
			call, err := r.f.get(ctx, r.base()+"/deployments/"+strconv.FormatInt(c.dep.GetID(), 10)+"/statuses?per_page=100", getOpts{})
			if err != nil {
				return err
			}
			var statuses []*gh.DeploymentStatus
			if err := r.f.decode(call, call.Body, &statuses); err != nil {
				return err
			}
			st, d := r.latestDeploy(c.dep, statuses)
			memos[i] = deployMemo{Updated: at(c.dep.GetUpdatedAt()), Status: st.GetID()}
			if d == nil || st.GetID() == c.was.Status {
				return nil // no status that says how it went yet, or the same one as last time
			}
			obs[i] = &syncer.Observation{
				Key:      "deployment:" + strconv.FormatInt(c.dep.GetID(), 10),
				Requests: []syncer.Request{c.item, call.request()},
				Facts:    []releaseops.Fact{{Kind: releaseops.FactDeploy, At: firstTime(st.GetCreatedAt(), st.GetUpdatedAt()), Deploy: d}},
			}
			return nil
		}
	}
	if err := runAll(ctx, fns...); err != nil {
		return nil, err
	}
	var out []syncer.Observation
	for i, c := range changed {
		next.Deploys[c.dep.GetID()] = memos[i]
		if obs[i] != nil {
			out = append(out, *obs[i])
		}
	}
	return out, nil
}

// latestDeploy returns the latest status that says how the deployment went, and the deploy
// deployFromStatus makes of it. "inactive" is passed over: GitHub marks a successful
// deployment inactive once a newer one to the same environment succeeds, and that must not
// hide that it succeeded.
func (r *repoRead) latestDeploy(dep *gh.Deployment, statuses []*gh.DeploymentStatus) (*gh.DeploymentStatus, *releaseops.Deploy) {
	var best *gh.DeploymentStatus
	var bestDeploy *releaseops.Deploy
	repo := &gh.Repository{FullName: gh.String(r.fullName)}
	for _, st := range statuses {
		if st == nil {
			continue
		}
		d := deployFromStatus(&gh.DeploymentStatusEvent{Deployment: dep, DeploymentStatus: st, Repo: repo})
		if d == nil {
			continue
		}
		if best == nil || later(st, best) {
			best, bestDeploy = st, d
		}
	}
	return best, bestDeploy
}

// later orders statuses by creation, then id (GitHub lists them newest first, but the order
// is not documented).
func later(a, b *gh.DeploymentStatus) bool {
	ta, tb := at(a.GetCreatedAt()), at(b.GetCreatedAt())
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.GetID() > b.GetID()
}

// readReleases reads the most recent releases: a release fact for each published one that is
// new or changed since last time. Drafts are not releases yet.
func (r *repoRead) readReleases(ctx context.Context) ([]syncer.Observation, error) {
	old := r.old.Releases
	next := &releasesMemo{Seen: map[int64]string{}}
	r.next.Releases = next
	first, err := r.f.get(ctx, r.base()+"/releases?per_page=30", getOpts{keep: true, conditional: old != nil})
	if err != nil {
		return nil, err
	}
	if first.notModified() {
		r.next.Releases = old
		return nil, nil
	}
	var items []json.RawMessage
	if err := r.f.decode(first, first.Body, &items); err != nil {
		return nil, err
	}
	var out []syncer.Observation
	for _, raw := range items {
		var rel gh.RepositoryRelease
		if err := r.f.decode(first, raw, &rel); err != nil {
			return nil, err
		}
		published := at(rel.GetPublishedAt())
		if rel.GetDraft() || published.IsZero() {
			continue
		}
		digest := rel.GetTagName() + "\x00" + rel.GetName() + "\x00" + strconv.FormatBool(rel.GetPrerelease()) + "\x00" + published.Format(time.RFC3339)
		next.Seen[rel.GetID()] = digest
		if old != nil && old.Seen[rel.GetID()] == digest {
			continue
		}
		out = append(out, syncer.Observation{
			Key:      "release:" + strconv.FormatInt(rel.GetID(), 10),
			Requests: []syncer.Request{{Path: first.Path, Status: first.Status, FetchedAt: first.FetchedAt, Response: raw}},
			Facts: []releaseops.Fact{{Kind: releaseops.FactRelease, At: published, Release: &releaseops.Release{
				Repo:       r.fullName,
				Action:     "published",
				Tag:        rel.GetTagName(),
				Name:       rel.GetName(),
				Prerelease: rel.GetPrerelease(),
				URL:        rel.GetHTMLURL(),
			}}},
		})
	}
	return out, nil
}
