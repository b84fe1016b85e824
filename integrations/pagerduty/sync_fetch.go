package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/releaseops/releaseops/syncer"
)

// maxSyncBody bounds one API response; a page of 100 incidents is far below it.
const maxSyncBody = 16 << 20

// maxSyncPages bounds one paginated read. PagerDuty refuses offsets past 10,000 anyway.
const maxSyncPages = 100

// pageLimit is the largest page PagerDuty serves.
const pageLimit = 100

// fetcher makes the API calls of one Read.
type fetcher struct {
	client  *Client
	subject string // the PagerDuty service id
	service string // the catalogued service, for errors ("" if unknown)
	now     func() time.Time
	sem     chan struct{} // bounds the calls in flight within one Read
}

// fetched is one API answer.
type fetched struct {
	Path      string // relative to the API root, with its query: /incidents?service_ids[]=…
	Status    int
	Body      []byte // 200s only
	FetchedAt time.Time
}

// request is the evidence record of the call; body, when set, replaces the answer (an
// incident's own item rather than the whole page it came in).
func (r *fetched) request(body []byte) syncer.Request {
	q := syncer.Request{Path: r.Path, Status: r.Status, FetchedAt: r.FetchedAt}
	if body == nil {
		body = r.Body
	}
	if len(body) > 0 {
		q.Response = json.RawMessage(body)
	}
	return q
}

// what names the kind of object a path reads, for errors.
type what struct {
	object string // "service PCHK123", "escalation policy PEP2", "incidents", "on-calls"
	scope  string // the OAuth scope reading it needs
}

// ref builds a path with its query. Brackets and colons stay unescaped, as PagerDuty
// documents its parameters (statuses[]=resolved, since=2026-09-02T12:00:00Z), so that the
// evidence reads like the docs; both are valid in a query.
var queryUnescape = strings.NewReplacer("%5B%5D=", "[]=", "%3A", ":")

func ref(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + queryUnescape.Replace(q.Encode())
}

// get calls GET ref; any answer but 200 is an error naming the subject, the call and the
// cause.
func (f *fetcher) get(ctx context.Context, ref string, w what) (*fetched, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, f.transportError(ref, ctx.Err())
	}
	defer func() { <-f.sem }()
	resp, err := f.client.get(ctx, ref)
	if err != nil {
		return nil, f.transportError(ref, err)
	}
	defer resp.Body.Close()
	out := &fetched{Path: ref, Status: resp.StatusCode, FetchedAt: f.now().UTC()}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSyncBody+1))
	if err != nil {
		return nil, f.transportError(ref, err)
	}
	if len(body) > maxSyncBody {
		return nil, fmt.Errorf("%s: GET %s: response larger than %d MB", f.name(), ref, maxSyncBody>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, f.statusError(out, body, w)
	}
	out.Body = body
	return out, nil
}

// page is the offset pagination envelope of PagerDuty's lists.
type page struct {
	Limit  int  `json:"limit"`
	Offset int  `json:"offset"`
	More   bool `json:"more"`
}

// listed is one item of a list with the page it came in.
type listed struct {
	raw  json.RawMessage
	page *fetched
}

// list reads every page of a list at path: field names the array in the answer. The next
// offset is the answer's offset plus its limit, as PagerDuty documents, so a server that
// caps the page below the limit asked is still walked right.
func (f *fetcher) list(ctx context.Context, path string, q url.Values, field string, w what) ([]*fetched, []listed, error) {
	var pages []*fetched
	var items []listed
	offset := 0
	for {
		if len(pages) == maxSyncPages {
			return nil, nil, fmt.Errorf("%s: GET %s: more than %d pages", f.name(), path, maxSyncPages)
		}
		q.Set("limit", strconv.Itoa(pageLimit))
		if offset > 0 {
			q.Set("offset", strconv.Itoa(offset))
		} else {
			q.Del("offset")
		}
		r, err := f.get(ctx, ref(path, q), w)
		if err != nil {
			return nil, nil, err
		}
		pages = append(pages, r)
		var env map[string]json.RawMessage
		var pg page
		var got []json.RawMessage
		if err := json.Unmarshal(r.Body, &env); err != nil {
			return nil, nil, f.unreadable(r, err)
		}
		if err := json.Unmarshal(r.Body, &pg); err != nil {
			return nil, nil, f.unreadable(r, err)
		}
		if raw, ok := env[field]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &got); err != nil {
				return nil, nil, f.unreadable(r, err)
			}
		}
		for _, raw := range got {
			items = append(items, listed{raw: raw, page: r})
		}
		step := pg.Limit
		if step <= 0 {
			step = len(got)
		}
		if !pg.More || step == 0 {
			return pages, items, nil
		}
		offset = pg.Offset + step
	}
}

// decode unmarshals an answer (or one item of a list) and names the call when it cannot.
func (f *fetcher) decode(r *fetched, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return f.unreadable(r, err)
	}
	return nil
}

func (f *fetcher) unreadable(r *fetched, err error) error {
	return fmt.Errorf("%s: GET %s: unreadable answer: %w", f.name(), r.Path, err)
}

// errOrMissing is err, or when there is none, the error of a field that should be set.
func errOrMissing(err error, field string) error {
	if err != nil {
		return err
	}
	return errors.New(field + " is missing")
}

// name is how errors name the subject: "pagerduty service PCHK123 (checkout)".
func (f *fetcher) name() string {
	if f.service == "" {
		return "pagerduty service " + f.subject
	}
	return "pagerduty service " + f.subject + " (" + f.service + ")"
}

// SyncError is a read that PagerDuty refused or failed: it names the subject, the call and
// what to do about it.
type SyncError struct {
	Subject string // the PagerDuty service id
	Service string // the catalogued service ("" if unknown)
	Path    string
	Status  int
	Message string // what the status means here
}

func (e *SyncError) Error() string {
	name := "pagerduty service " + e.Subject
	if e.Service != "" {
		name += " (" + e.Service + ")"
	}
	return fmt.Sprintf("%s: GET %s: %d %s", name, e.Path, e.Status, e.Message)
}

// statusError explains a refused call for the person reading the sync coverage.
func (f *fetcher) statusError(r *fetched, body []byte, w what) error {
	e := &SyncError{Subject: f.subject, Service: f.service, Path: r.Path, Status: r.Status}
	switch {
	case r.Status == http.StatusUnauthorized:
		e.Message = "Unauthorized: pagerduty.token is invalid or revoked"
	case r.Status == http.StatusForbidden:
		e.Message = fmt.Sprintf("Forbidden: pagerduty.token may not read %s (an OAuth token needs the %s scope; a read-only API key reads everything)", w.object, w.scope)
	case r.Status == http.StatusNotFound && strings.HasPrefix(w.object, "service "):
		check := "the pagerduty_service_id in the catalog"
		if f.service != "" {
			check = "pagerduty_service_id of service " + f.service
		}
		return &NotFoundError{SyncError: e, text: fmt.Sprintf("pagerduty service %s not found: check %s (GET %s answered 404)", f.subject, check, r.Path)}
	case r.Status == http.StatusNotFound:
		e.Message = fmt.Sprintf("Not Found: %s does not exist or is not visible to pagerduty.token", w.object)
	case r.Status >= 500:
		e.Message = http.StatusText(r.Status) + ": PagerDuty failed, and again when retried"
	default:
		e.Message = http.StatusText(r.Status)
	}
	if m := apiMessage(body); m != "" {
		e.Message += " (PagerDuty: " + m + ")"
	}
	return e
}

// NotFoundError is a mapped PagerDuty service that does not exist: the catalog names a
// wrong id.
type NotFoundError struct {
	*SyncError
	text string
}

func (e *NotFoundError) Error() string { return e.text }

// Unwrap lets errors.As find the SyncError.
func (e *NotFoundError) Unwrap() error { return e.SyncError }

// apiMessage is PagerDuty's own error message ({"error": {"message", "code", "errors"}}),
// clipped: it is shown to people, and a proxy's HTML error page is not worth showing.
func apiMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string   `json:"message"`
			Errors  []string `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return ""
	}
	m := e.Error.Message
	if len(e.Error.Errors) > 0 {
		m += ": " + strings.Join(e.Error.Errors, "; ")
	}
	if len(m) > 200 {
		m = strings.ToValidUTF8(m[:200], "") + "…" // never half a character in a stored error
	}
	return m
}

// transportError explains a call that got no answer.
func (f *fetcher) transportError(ref string, err error) error {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return fmt.Errorf("%s: GET %s: %w", f.name(), ref, rl)
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("%s: GET %s: timed out: %w", f.name(), ref, err)
	}
	return fmt.Errorf("%s: GET %s: %w", f.name(), ref, err)
}
