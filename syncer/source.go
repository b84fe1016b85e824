// Package syncer reads the standing state of each source from its API, so that a service is
// scored on the truth from day one and not only on the events that happen to arrive. It is
// the framework every source's sync shares: which subjects to read, when, with how much
// concurrency, what each read observed, and what changed since the last one. Each source's
// reading lives beside its webhooks (integrations/github: the GitHub sync).
//
// A read that fails stores nothing; a read that succeeds commits its observations, the new
// ETags and the subject's record in one transaction, so a sync killed at any moment resumes
// without duplicate facts.
package syncer

import (
	"context"
	"encoding/json"
	"time"

	"github.com/releaseops/releaseops"
)

// Subject is one thing a source reads: a repository, a PagerDuty service, a workspace.
type Subject struct {
	// Key names the subject in the source's terms ("acme/checkout"); with the source it is
	// the record's primary key.
	Key string `json:"key"`
	// Service is the catalogued service the subject feeds ("" if none yet).
	Service string `json:"service,omitempty"`
	// Subject is what the observations' facts are about, for mapping.
	Subject releaseops.Subject `json:"subject"`
	// Installation is the GitHub App installation that can read the subject (0: look it up).
	Installation int64 `json:"installation,omitempty"`
}

// State is what the framework keeps between two reads of a subject. Sources read it and
// return the next one; the framework stores it with the observations, atomically.
type State struct {
	// ETags of the API paths read, for conditional requests: a 304 costs no rate limit.
	ETags map[string]string `json:"etags,omitempty"`
	// Hashes are the content hashes of the last recorded observation of each key, so an
	// unchanged observation adds no rows. The framework maintains them.
	Hashes map[string]string `json:"hashes,omitempty"`
	// Memory is the source's own record (e.g. the pull requests already read), opaque here.
	Memory json.RawMessage `json:"memory,omitempty"`
}

// Request is one API call behind an observation: the evidence a user can open.
type Request struct {
	Path      string          `json:"path"`
	Status    int             `json:"status"`
	ETag      string          `json:"etag,omitempty"`
	FetchedAt time.Time       `json:"fetched_at"`
	Response  json.RawMessage `json:"response,omitempty"` // the body as the API sent it (200s only)
}

// Observation is one unit of what a read saw, recorded as one delivery (source = the
// source's name, type "sync") with its facts, unless its content equals the last recorded
// observation of the same Key.
type Observation struct {
	// Key identifies the observation across reads: "branch", "pull:42", "alerts".
	Key string
	// Requests are the calls it was read from (the delivery's body).
	Requests []Request
	// Facts are what it says. Evidence, Service and (if zero) At are filled by the framework.
	// Their content, without At and Evidence, is what change detection compares.
	Facts []releaseops.Fact
}

// Result is what one successful read of a subject returns.
type Result struct {
	Observations []Observation
	// State is the next state (ETags, Memory); Hashes are the framework's and are ignored.
	State State
	// Service, if set, names the service the subject turned out to belong to (discovery).
	Service string
}

// Source reads one provider's API. Implementations must be safe for concurrent Read calls.
type Source interface {
	// Name is the source's name as stored: github, pagerduty, terraform.
	Name() string
	// Subjects lists what to read now, from the catalog (and discovery, where the source
	// has it). An error fails the whole run.
	Subjects(ctx context.Context) ([]Subject, error)
	// Read reads one subject. Requests go through the context's Stats (see WithStats) so
	// the run can count them. An error means nothing read is stored; it should name the
	// subject's problem for a person ("401 Bad credentials: the token was revoked").
	Read(ctx context.Context, s Subject, prev State) (Result, error)
}

// RateLimit is the latest rate-limit reading of a source's API.
type RateLimit struct {
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset"`
	Known     bool      `json:"known"`
}

// RateLimiter is implemented by sources whose API reports a rate limit.
type RateLimiter interface {
	RateLimit() RateLimit
}
