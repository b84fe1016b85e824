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

// ReviewSender answers GitHub deployment protection rules: it POSTs {environment_name, state,
// comment} to the deployment_callback_url. go-github v62 has no helper for this call (it came
// in v66), so it builds the request with NewRequest and sends it with Do.
type ReviewSender struct {
	// Client carries the token and the API base URL (github.api_url).
	Client *gh.Client
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
	return &ReviewSender{Client: c}, nil
}

// Send delivers one review. 204 is success; 429, 5xx and network errors are retried; any
// other answer (404 gone, 422 already reviewed) is final.
func (s *ReviewSender) Send(ctx context.Context, m *outbox.Stored) (string, error) {
	var p ReviewPayload
	if err := json.Unmarshal(m.Payload, &p); err != nil {
		return "", fmt.Errorf("decode protection review: %w", err)
	}
	path, err := callbackPath(p.CallbackURL)
	if err != nil {
		return "", err
	}
	body := map[string]string{"environment_name": p.EnvironmentName, "state": p.State, "comment": p.Comment}
	req, err := s.Client.NewRequest(http.MethodPost, path, body)
	if err != nil {
		return "", fmt.Errorf("build protection review request: %w", err)
	}
	resp, err := s.Client.Do(ctx, req, nil)
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
