package terraform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	tfe "github.com/hashicorp/go-tfe"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/syncer"
)

// DefaultAddress is HCP Terraform's; Terraform Enterprise has its own host.
const DefaultAddress = "https://app.terraform.io"

// runsPerRead is one page of the most recent runs: older ones are settled and were seen by
// earlier reads (every sync.interval), and notifications carry anything in between.
const runsPerRead = 20

// defaultReadTimeout bounds a Read whose context has none (the runner always sets sync.timeout).
const defaultReadTimeout = 2 * time.Minute

// SyncOptions configure a Syncer.
type SyncOptions struct {
	Token        string // terraform.token: a team or user token that can read the workspaces
	Address      string // terraform.address; "" is HCP Terraform
	Organization string // terraform.organization: the owner of workspaces named without one
	// HTTPClient sends the calls (nil: a default client); its transport is wrapped, not changed.
	HTTPClient *http.Client
	// List returns the catalogued workspaces as "org/workspace"; Subjects returns it.
	List func(ctx context.Context) ([]syncer.Subject, error)
	Now  func() time.Time
	// Sleep waits out a 429 (nil: real time); tests inject one that advances their clock.
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
}

// Syncer reads each catalogued workspace's standing state from the HCP Terraform / Terraform
// Enterprise API: its settings (are health assessments on, auto-apply), its latest health
// assessment and its recent runs with who confirmed each apply. Notifications only say what
// happens (and an assessment only when it finds drift or fails), so a workspace that never
// drifts would otherwise show no assessment at all. It implements syncer.Source.
//
// HCP Terraform sends no ETags, so change detection is the framework's content hash: facts
// carry nothing that differs between two reads of the same state (no fetch times), and an
// unchanged workspace adds no rows. A read costs two calls (workspace, runs), three when a new
// assessment result has to be fetched.
type Syncer struct {
	// Organization is terraform.organization, for workspaces named without one and for errors.
	Organization string

	address, token string
	http           *http.Client
	tr             *transport
	list           func(ctx context.Context) ([]syncer.Subject, error)
	now            func() time.Time
	log            *slog.Logger

	mu        sync.Mutex
	client    *tfe.Client // built on the first Read: go-tfe calls the API when it builds one
	connErr   error       // the last failure to build it, given to the Reads right after
	connErrAt time.Time
}

// connRetry is how long a failure to reach the API is given to other Reads as it is, rather
// than each of them waiting out its own timeout against a host that does not answer.
const connRetry = 30 * time.Second

var (
	_ syncer.Source      = (*Syncer)(nil)
	_ syncer.RateLimiter = (*Syncer)(nil)
)

// NewSyncer checks the options (without calling the API) and returns a Syncer.
func NewSyncer(o SyncOptions) (*Syncer, error) {
	if o.Token == "" {
		return nil, errors.New("terraform sync: terraform.token is not set")
	}
	if o.Organization == "" {
		return nil, errors.New("terraform sync: terraform.organization is not set")
	}
	addr := strings.TrimRight(strings.TrimSpace(o.Address), "/")
	if addr == "" {
		addr = DefaultAddress
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("terraform sync: terraform.address %q is not an http(s) URL", o.Address)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var hc http.Client
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	}
	tr := newTransport(hc.Transport, o.Now, o.Sleep, o.Log)
	hc.Transport = tr
	return &Syncer{Organization: o.Organization, address: addr, token: o.Token, http: &hc, tr: tr,
		list: o.List, now: o.Now, log: o.Log}, nil
}

// Name returns "terraform".
func (s *Syncer) Name() string { return releaseops.SourceTerraform }

// Subjects returns the catalogued workspaces.
func (s *Syncer) Subjects(ctx context.Context) ([]syncer.Subject, error) {
	if s.list == nil {
		return nil, errors.New("terraform sync: no workspace list configured")
	}
	return s.list(ctx)
}

// RateLimit returns the latest X-RateLimit-* reading.
func (s *Syncer) RateLimit() syncer.RateLimit { return s.tr.RateLimit() }

// clientFor returns the go-tfe client, building it on first use. NewClient pings the API
// (without a context) to size its own rate limiter, so it runs under the Read's context via
// the transport, and a failure is retried by the next Read rather than kept.
func (s *Syncer) clientFor(ctx context.Context) (*tfe.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client != nil {
		return s.client, nil
	}
	if s.connErr != nil && s.now().Sub(s.connErrAt) < connRetry {
		return nil, s.connErr
	}
	s.tr.setup.Store(&ctx)
	defer s.tr.setup.Store(nil)
	c, err := tfe.NewClient(&tfe.Config{Address: s.address, Token: s.token, HTTPClient: s.http})
	if err != nil {
		s.connErr, s.connErrAt = fmt.Errorf("connect to %s: %w", s.address, unwrapURL(err)), s.now()
		return nil, s.connErr
	}
	s.client, s.connErr = c, nil
	return c, nil
}

// syncMemoryVersion changes when the memory's meaning does; older memory is then ignored.
const syncMemoryVersion = 1

// syncMemory is what a Read keeps for the next one (syncer.State.Memory).
type syncMemory struct {
	V int `json:"v"`
	// Assessment is the id of the assessment result last read: an unchanged one is not
	// fetched again.
	Assessment string `json:"assessment,omitempty"`
}

// wsRead is the state of one Read.
type wsRead struct {
	s                *Syncer
	client           *tfe.Client
	key              string // the subject's key, for errors
	org, name        string
	service          string
	subject          releaseops.Subject
	old, next        syncMemory
	workspaceWebsite string // the workspace's page, for facts' URLs
	wsName, orgName  string // as the API spells them
}

// Read reads one workspace. It returns the full result or an error, never part of one.
func (s *Syncer) Read(ctx context.Context, subj syncer.Subject, prev syncer.State) (syncer.Result, error) {
	org, name, err := s.split(subj.Key)
	if err != nil {
		return syncer.Result{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultReadTimeout)
		defer cancel()
	}
	client, err := s.clientFor(ctx)
	if err != nil {
		return syncer.Result{}, fmt.Errorf("%s: %w", subj.Key, err)
	}
	r := &wsRead{s: s, client: client, key: subj.Key, org: org, name: name, service: subj.Service,
		subject: subj.Subject, old: s.loadMemory(subj.Key, prev.Memory), next: syncMemory{V: syncMemoryVersion}}
	if r.subject.Key == "" {
		r.subject = workspaceSubject(org, name)
	}

	// The workspace comes first: the other calls need its id, and a 401 or 404 on it is the
	// clearest error to give.
	ws, wsCall, err := r.readWorkspace(ctx)
	if err != nil {
		return syncer.Result{}, err
	}
	var assessment []syncer.Observation
	var runs []syncer.Observation
	err = both(ctx,
		func(ctx context.Context) (err error) { assessment, err = r.readAssessment(ctx, ws, wsCall); return },
		func(ctx context.Context) (err error) { runs, err = r.readRuns(ctx, ws); return })
	if err != nil {
		return syncer.Result{}, err
	}
	obs := append([]syncer.Observation{r.workspaceObservation(ws, wsCall)}, assessment...)
	obs = append(obs, runs...)
	for i := range obs {
		for j := range obs[i].Facts {
			obs[i].Facts[j].Subject = r.subject
		}
	}
	mem, err := json.Marshal(r.next)
	if err != nil {
		return syncer.Result{}, fmt.Errorf("%s: encode sync memory: %w", subj.Key, err)
	}
	s.log.Debug("terraform sync read", "workspace", subj.Key, "observations", len(obs))
	return syncer.Result{Observations: obs, State: syncer.State{Memory: mem}}, nil
}

// split reads "org/workspace"; a bare name belongs to terraform.organization.
func (s *Syncer) split(key string) (org, name string, err error) {
	org, name, found := strings.Cut(key, "/")
	if !found {
		org, name = s.Organization, key
	}
	if org == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("%s: not a workspace name (want organization/workspace or workspace)", key)
	}
	return org, name, nil
}

func (s *Syncer) loadMemory(key string, raw json.RawMessage) syncMemory {
	var m syncMemory
	if len(raw) == 0 {
		return m
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.V != syncMemoryVersion {
		// Reading without memory only costs one more call; nothing is lost.
		s.log.Info("terraform sync memory unreadable or outdated; reading in full", "workspace", key, "err", err)
		return syncMemory{}
	}
	return m
}

// readWorkspace reads the workspace's settings (GET /organizations/{org}/workspaces/{name}).
func (r *wsRead) readWorkspace(ctx context.Context) (*tfe.Workspace, call, error) {
	wctx, rec := withRecorder(ctx)
	ws, err := r.client.Workspaces.Read(wctx, r.org, r.name)
	if err != nil {
		e := r.failure(err, rec)
		var se *SyncError
		if errors.Is(err, tfe.ErrResourceNotFound) && errors.As(e, &se) {
			return nil, call{}, r.notFound(ctx, se)
		}
		return nil, call{}, e
	}
	c, _ := rec.last()
	r.wsName, r.orgName = ws.Name, r.org
	if ws.Organization != nil && ws.Organization.Name != "" {
		r.orgName = ws.Organization.Name
	}
	if r.wsName == "" {
		r.wsName = r.name
	}
	r.workspaceWebsite = r.s.address + "/app/" + url.PathEscape(r.orgName) + "/workspaces/" + url.PathEscape(r.wsName)
	if self, ok := ws.Links["self-html"].(string); ok && strings.HasPrefix(self, "/app/") {
		r.workspaceWebsite = r.s.address + self
	}
	return ws, c, nil
}

// readAssessment reads the latest health assessment (GET /workspaces/{id}/current-assessment-
// result) when the workspace names one not read before. go-tfe has no typed call for it, so
// the request is made through go-tfe's own NewRequest and Do (its auth, rate limiter and
// error mapping), with the raw JSON:API body decoded here.
func (r *wsRead) readAssessment(ctx context.Context, ws *tfe.Workspace, wsCall call) ([]syncer.Observation, error) {
	id, known := relationshipID(wsCall.Body, "current-assessment-result")
	switch {
	case known && id == "":
		return nil, nil // none has run yet
	case known && id == r.old.Assessment:
		r.next.Assessment = id // recorded when it was first read
		return nil, nil
	case !known && !ws.AssessmentsEnabled:
		return nil, nil
	}
	req, err := r.client.NewRequest(http.MethodGet, "workspaces/"+url.PathEscape(ws.ID)+"/current-assessment-result", nil)
	if err != nil {
		return nil, fmt.Errorf("%s: build assessment request: %w", r.key, err)
	}
	actx, rec := withRecorder(ctx)
	var body bytes.Buffer
	if err := req.Do(actx, &body); err != nil {
		if errors.Is(err, tfe.ErrResourceNotFound) {
			return nil, nil // assessments off, or none has run
		}
		return nil, r.failure(err, rec)
	}
	c, _ := rec.last()
	f, resultID, err := r.assessmentFact(body.Bytes())
	if err != nil {
		return nil, &SyncError{Subject: r.key, Path: c.Path, Status: c.Status, Message: "unreadable assessment result: " + err.Error(), err: err}
	}
	r.next.Assessment = resultID
	return []syncer.Observation{{Key: "assessment", Requests: []syncer.Request{c.request()}, Facts: []releaseops.Fact{f}}}, nil
}

// readRuns reads the most recent runs (GET /workspaces/{id}/runs, one page, with the users
// who created them): one observation per run, which the framework records only when the
// run is new or changed.
func (r *wsRead) readRuns(ctx context.Context, ws *tfe.Workspace) ([]syncer.Observation, error) {
	rctx, rec := withRecorder(ctx)
	list, err := r.client.Runs.List(rctx, ws.ID, &tfe.RunListOptions{
		ListOptions: tfe.ListOptions{PageSize: runsPerRead},
		Include:     []tfe.RunIncludeOpt{tfe.RunCreatedBy},
	})
	if err != nil {
		return nil, r.failure(err, rec)
	}
	c, _ := rec.last()
	raw := dataItems(c.Body)
	obs := make([]syncer.Observation, 0, len(list.Items))
	for _, run := range list.Items {
		if run == nil || run.ID == "" {
			continue
		}
		req := syncer.Request{Path: c.Path, Status: c.Status, FetchedAt: c.FetchedAt, Response: raw[run.ID]}
		obs = append(obs, syncer.Observation{Key: "run:" + run.ID, Requests: []syncer.Request{req},
			Facts: []releaseops.Fact{r.runFact(run)}})
	}
	return obs, nil
}

// relationshipID returns the id a JSON:API document's relationship names: known is false
// when the document has no such relationship (older Terraform Enterprise), id is "" when
// it is null.
func relationshipID(body []byte, name string) (id string, known bool) {
	var doc struct {
		Data struct {
			Relationships map[string]struct {
				Data json.RawMessage `json:"data"`
			} `json:"relationships"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return "", false
	}
	rel, ok := doc.Data.Relationships[name]
	if !ok {
		return "", false
	}
	var ref struct {
		ID string `json:"id"`
	}
	if len(rel.Data) == 0 || string(rel.Data) == "null" || json.Unmarshal(rel.Data, &ref) != nil {
		return "", true
	}
	return ref.ID, true
}

// dataItems splits a JSON:API list into its items by id, each as the API sent it.
func dataItems(body []byte) map[string]json.RawMessage {
	var doc struct {
		Data []json.RawMessage `json:"data"`
	}
	out := map[string]json.RawMessage{}
	if json.Unmarshal(body, &doc) != nil {
		return out
	}
	for _, item := range doc.Data {
		var ref struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(item, &ref) == nil && ref.ID != "" {
			out[ref.ID] = item
		}
	}
	return out
}

// both runs a and b at once; the first failure cancels the other and is the one returned
// (the other's "context canceled" says nothing).
func both(ctx context.Context, a, b func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, fn := range []func(context.Context) error{a, b} {
		wg.Go(func() {
			if errs[i] = fn(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}
