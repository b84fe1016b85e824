package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"

	"github.com/releaseops/releaseops/outbox"
)

// GitHubClients hands out the client to answer with: for a GitHub App, the installation's
// (GitHub accepts a protection rule review only with the token of the App installation that
// sent the rule); with a token, the one token client whatever id is. id 0 means the
// configured installation. *github.Clients implements it.
type GitHubClients interface {
	ForInstallation(id int64) (*gh.Client, error)
}

// ReviewSender answers GitHub deployment protection rules: it POSTs {environment_name, state,
// comment} to the deployment_callback_url. go-github v62 has no helper for this call (it came
// in v66), so it builds the request with NewRequest and sends it with Do.
type ReviewSender struct {
	// Clients carry the credentials and the API base URL (github.api_url).
	Clients GitHubClients
}

// NewReviewSenderFrom returns a sender answering through clients.
func NewReviewSenderFrom(clients GitHubClients) *ReviewSender {
	return &ReviewSender{Clients: clients}
}

// NewReviewSender returns a sender authenticated with token against apiURL (e.g.
// https://api.github.com/); httpClient may be nil.
func NewReviewSender(token, apiURL string, httpClient *http.Client) (*ReviewSender, error) {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	c := gh.NewClient(httpClient)
	if token != "" {
		c = c.WithAuthToken(token)
	}
	if apiURL != "" {
		u, err := url.Parse(strings.TrimSuffix(apiURL, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("github.api_url %q: %w", apiURL, err)
		}
		c.BaseURL = u
	}
	return NewReviewSenderFrom(oneClient{c}), nil
}

// oneClient answers every installation with the same client (token mode).
type oneClient struct{ c *gh.Client }

func (o oneClient) ForInstallation(int64) (*gh.Client, error) { return o.c, nil }

// Send delivers one review. 204 is success; 429, 5xx and network errors are retried; any
// other answer (404 gone, 422 already reviewed) is final, and so is a review no configured
// credential can send.
func (s *ReviewSender) Send(ctx context.Context, m *outbox.Stored) (string, error) {
	var p ReviewPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", fmt.Errorf("decode protection review: %w", err)
	}
	path, err := callbackPath(p.CallbackURL)
	if err != nil {
		return "", err
	}
	client, err := s.Clients.ForInstallation(p.InstallationID)
	if err != nil {
		return "", fmt.Errorf("github protection review: %w", err)
	}
	body := map[string]string{"environment_name": p.EnvironmentName, "state": p.State, "comment": p.Comment}
	// The path is relative, so the request goes to the client's base URL (github.api_url)
	// whatever host the payload named.
	req, err := client.NewRequest(http.MethodPost, path, body)
	if err != nil {
		return "", fmt.Errorf("build protection review request: %w", err)
	}
	resp, err := client.Do(ctx, req, nil)
	if err == nil {
		return fmt.Sprintf("%d", resp.StatusCode), nil
	}
	return "", classifyGitHub(resp, err)
}

// callbackPath reduces a deployment_callback_url to its path below the API root
// ("repos/O/R/actions/runs/ID/deployment_protection_rule"), so the request goes to the
// configured github.api_url and the token is never sent to a host named by a payload.
func callbackPath(callback string) (string, error) {
	u, err := url.Parse(callback)
	if err != nil {
		return "", fmt.Errorf("deployment_callback_url is not a URL: %w", err)
	}
	i := strings.Index(u.Path, "/repos/")
	if i < 0 || !strings.HasSuffix(u.Path, "/deployment_protection_rule") {
		return "", fmt.Errorf("deployment_callback_url path %q is not .../repos/{owner}/{repo}/actions/runs/{id}/deployment_protection_rule", u.Path)
	}
	return u.Path[i+1:], nil
}

// classifyGitHub says whether a failed call is worth retrying, without the token (go-github
// errors carry the method, URL, status and GitHub's message; no header).
func classifyGitHub(resp *gh.Response, err error) error {
	var abuse *gh.AbuseRateLimitError
	if errors.As(err, &abuse) {
		return &outbox.RetryableError{Err: fmt.Errorf("github secondary rate limit: %w", err), After: abuse.GetRetryAfter()}
	}
	var rl *gh.RateLimitError
	if errors.As(err, &rl) {
		return &outbox.RetryableError{Err: fmt.Errorf("github rate limit: %w", err), After: time.Until(rl.Rate.Reset.Time)}
	}
	if resp == nil || resp.Response == nil {
		return &outbox.RetryableError{Err: fmt.Errorf("github protection review: %w", err)}
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500:
		var after time.Duration
		if v := resp.Header.Get("Retry-After"); v != "" {
			var secs int
			if _, perr := fmt.Sscanf(v, "%d", &secs); perr == nil && secs > 0 {
				after = time.Duration(secs) * time.Second
			}
		}
		return &outbox.RetryableError{Err: fmt.Errorf("github protection review: status %d: %w", code, err), After: after}
	default:
		return fmt.Errorf("github protection review refused (status %d): %w", code, err)
	}
}
