package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/releaseops/releaseops"
)

// LiveOptions are what `releaseops check-config --live` asks of PagerDuty: the token, the
// catalogued service ids, and how many webhook secrets are set.
type LiveOptions struct {
	Token          string
	APIURL         string // "" = DefaultAPIURL
	WebhookSecrets int
	Services       []LiveService
	// Timeout bounds each call (default 10 s).
	Timeout   time.Duration
	Transport http.RoundTripper // nil: http.DefaultTransport
}

// LiveService is one catalogued pagerduty_service_id and where it is configured.
type LiveService struct {
	Key     string // "services[1].pagerduty_service_id"
	Service string // the ReleaseOps service
	ID      string // the PagerDuty service id
}

// LiveResult and LiveProblem are the root package's: every source's check reports the same way.
type (
	LiveResult  = releaseops.LiveResult
	LiveProblem = releaseops.LiveProblem
)

// CheckLive counts the services the token sees, says whose token it is, and looks up each
// catalogued service id. It never fails as a whole: whatever goes wrong is a problem in the
// result.
func CheckLive(ctx context.Context, o LiveOptions) LiveResult {
	res := LiveResult{Visible: -1}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	// go-pagerduty is built here rather than through NewClient so that this check keeps its
	// own transport and timeout whatever the sync's client becomes.
	pd := pagerduty.NewClient(o.Token, pagerduty.WithAPIEndpoint(strings.TrimSuffix(o.APIURL, "/")))
	pd.HTTPClient = &http.Client{Transport: o.Transport, Timeout: o.Timeout}
	lc := &pdLive{o: o, res: &res, pd: pd}
	if lc.count(ctx) {
		lc.who(ctx)
		lc.services(ctx)
	}
	if o.WebhookSecrets > 0 {
		res.Details = append(res.Details, fmt.Sprintf("%d webhook secret(s) set", o.WebhookSecrets))
	} else {
		res.Problem("pagerduty.webhook_secrets", "not set: PagerDuty webhooks cannot be verified, so POST /webhooks/pagerduty stays off and incidents are not received as they happen")
	}
	return res
}

type pdLive struct {
	o   LiveOptions
	res *LiveResult
	pd  *pagerduty.Client
}

// fail turns an error into a problem: no answer at all names the address, an answer names
// the token or the subject. It reports whether PagerDuty was unreachable, when the check
// stops: every later call would wait out the same timeout.
func (lc *pdLive) fail(ctx context.Context, err error, key, what string) (unreachable bool) {
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.StatusCode {
		case http.StatusUnauthorized:
			lc.res.Problem("pagerduty.token", "PagerDuty refused the token (401): it was deleted, mistyped or belongs to another account; create a read-only API key under Integrations → API Access Keys")
		case http.StatusForbidden:
			lc.res.Problem("pagerduty.token", "%s: the token may not (403): a read-only account key, or a user token whose user can see the services, is needed", what)
		case http.StatusTooManyRequests:
			lc.res.Problem("pagerduty.token", "%s: PagerDuty's rate limit was reached (429); try again in a minute", what)
		default:
			lc.res.Problem(key, "%s: PagerDuty answered %d: %v", what, apiErr.StatusCode, err)
		}
		return false
	}
	// go-pagerduty flattens transport errors into text ("error calling the API endpoint:
	// …"), so a failure that is not an API answer is told by what is left.
	msg := err.Error()
	if !strings.HasPrefix(msg, "error calling the API endpoint") {
		lc.res.Problem(key, "%s: %v", what, err)
		return false
	}
	cause := strings.TrimPrefix(msg, "error calling the API endpoint: ")
	if _, after, ok := strings.Cut(cause, `": `); ok && strings.HasPrefix(cause, http.MethodGet+` "`) {
		cause = after // the address is named once, below
	}
	if ctx.Err() != nil || strings.Contains(cause, "Client.Timeout") {
		cause = fmt.Sprintf("no answer within %s", lc.o.Timeout)
	}
	lc.res.Problem("pagerduty.api_url", "cannot reach the PagerDuty API at %s: %s", lc.o.APIURL, cause)
	return true
}

// count is GET /services?limit=1&total=true: it works for every kind of token (unlike
// /users/me) and its total is the number of services visible.
func (lc *pdLive) count(ctx context.Context) bool {
	c, cancel := context.WithTimeout(ctx, lc.o.Timeout)
	defer cancel()
	list, err := lc.pd.ListServicesWithContext(c, pagerduty.ListServiceOptions{Limit: 1, Total: true})
	if err != nil {
		lc.fail(c, err, "pagerduty.token", "GET /services")
		return false
	}
	lc.res.Visible = int(list.Total)
	if lc.res.Visible == 0 {
		lc.res.Visible = len(list.Services)
	}
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d PagerDuty service(s) visible", lc.res.Visible))
	return true
}

func (lc *pdLive) who(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, lc.o.Timeout)
	defer cancel()
	u, err := lc.pd.GetCurrentUserWithContext(c, pagerduty.GetCurrentUserOptions{})
	var apiErr pagerduty.APIError
	switch {
	case err == nil:
		lc.res.Who = fmt.Sprintf("%s (%s)", u.Name, u.Email)
	case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest:
		// An account-level key has no user: PagerDuty answers /users/me with 400.
		lc.res.Who = "an account API token"
	default:
		lc.res.Who = "a token whose user could not be read"
	}
}

func (lc *pdLive) services(ctx context.Context) {
	seen := map[string]bool{}
	for _, s := range lc.o.Services {
		id := strings.TrimSpace(s.ID)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		c, cancel := context.WithTimeout(ctx, lc.o.Timeout)
		svc, err := lc.pd.GetServiceWithContext(c, url.PathEscape(id), &pagerduty.GetServiceOptions{})
		var apiErr pagerduty.APIError
		switch {
		case err == nil && svc.Status == "disabled":
			lc.res.Problem(s.Key, "PagerDuty service %s (%s), mapped to %s, is disabled: it opens no incidents; enable it or map the service that pages", id, svc.Name, s.Service)
		case err == nil:
		case errors.As(err, &apiErr) && apiErr.NotFound():
			lc.res.Problem(s.Key, "PagerDuty service %s, mapped to %s, does not exist or the token cannot see it; copy the id from the service's URL (…/service-directory/PXXXXXX)", id, s.Service)
		default:
			stop := lc.fail(c, err, s.Key, "GET /services/"+id)
			cancel()
			if stop {
				return
			}
			continue
		}
		cancel()
	}
	if len(seen) > 0 {
		lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d mapped service id(s) looked up", len(seen)))
	}
}
