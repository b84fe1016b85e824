package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/releaseops/releaseops"
)

// DefaultAPIURL is PagerDuty's REST API.
const DefaultAPIURL = "https://api.pagerduty.com"

// Client reads what the Observability and Operational coordination signals need from the
// PagerDuty REST API. It wraps go-pagerduty.
type Client struct {
	pd       *pagerduty.Client
	endpoint string // the API root, without a trailing slash
}

// NewClient returns a client that authenticates with an API token. apiURL overrides the
// endpoint (config pagerduty.api_url; tests); empty means DefaultAPIURL. hc, when not nil,
// replaces the HTTP client (timeouts, transport).
func NewClient(token, apiURL string, hc *http.Client) *Client {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	endpoint := strings.TrimSuffix(apiURL, "/")
	pd := pagerduty.NewClient(token, pagerduty.WithAPIEndpoint(endpoint))
	if hc != nil {
		pd.HTTPClient = hc
	}
	return &Client{pd: pd, endpoint: endpoint}
}

// get sends GET ref (a path relative to the API root, with its query) with go-pagerduty's
// headers (the token, the v2 Accept header, its user agent) and hands back the response
// as it came: sync keeps PagerDuty's bodies as evidence, which the typed calls, decoding
// into structs, would lose. The caller closes the body.
func (c *Client) get(ctx context.Context, ref string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+ref, nil)
	if err != nil {
		return nil, fmt.Errorf("build GET %s: %w", ref, err)
	}
	return c.pd.Do(req, true)
}

// EscalationLevels returns how many levels (escalation rules) the escalation policy of the
// PagerDuty service has: it reads the service, then its escalation policy. An unknown service
// or policy is ENOTFOUND; other failures are EUNAVAILABLE with the cause wrapped.
func (c *Client) EscalationLevels(ctx context.Context, serviceID string) (int, error) {
	if serviceID == "" {
		return 0, releaseops.Errorf(releaseops.EINVALID, "pagerduty service id is empty")
	}
	svc, err := c.pd.GetServiceWithContext(ctx, url.PathEscape(serviceID), &pagerduty.GetServiceOptions{})
	if err != nil {
		return 0, apiError(err, "get pagerduty service "+serviceID)
	}
	policyID := svc.EscalationPolicy.ID
	if policyID == "" {
		return 0, nil
	}
	policy, err := c.pd.GetEscalationPolicyWithContext(ctx, url.PathEscape(policyID), &pagerduty.GetEscalationPolicyOptions{})
	if err != nil {
		return 0, apiError(err, "get pagerduty escalation policy "+policyID)
	}
	return len(policy.EscalationRules), nil
}

// apiError maps a go-pagerduty error to a coded error. The message names the call, never the
// token.
func apiError(err error, what string) error {
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		if apiErr.NotFound() {
			return &releaseops.Error{Code: releaseops.ENOTFOUND, Message: what + ": not found", Err: err}
		}
		return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: fmt.Sprintf("%s: PagerDuty answered %d", what, apiErr.StatusCode), Err: err}
	}
	return &releaseops.Error{Code: releaseops.EUNAVAILABLE, Message: what + ": request failed", Err: err}
}
