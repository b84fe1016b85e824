package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Exit codes of `releaseops gate` (SPEC §1).
const (
	exitAllow         = 0
	exitBlock         = 2
	exitNeedsApproval = 3
)

// gateAnswer is the part of POST /api/v1/gate and GET /api/v1/approvals/{id} the command reads.
type gateAnswer struct {
	Decision   string       `json:"decision"`
	Score      *float64     `json:"score"`
	Band       string       `json:"band"`
	Reasons    []gateReason `json:"reasons"`
	ApprovalID *string      `json:"approval_id"`
	ExpiresAt  *time.Time   `json:"expires_at"`
	Channel    string       `json:"channel"`
	BreakGlass bool         `json:"break_glass"`
	Error      string       `json:"error"`
	Detail     string       `json:"detail"`
	State      string       `json:"state"`
	DecidedBy  string       `json:"decided_by"`
	DecidedAt  *time.Time   `json:"decided_at"`
	// Observe mode: what enforcement would have answered.
	Mode          string       `json:"mode"`
	WouldDecision string       `json:"would_decision"`
	WouldReasons  []gateReason `json:"would_reasons"`
}

type gateReason struct {
	Text string `json:"text"`
}

// gateClient calls the gate API of a running server.
type gateClient struct {
	server, token string
	http          *http.Client
}

func (c *gateClient) do(ctx context.Context, method, path string, body []byte) (int, gateAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return 0, gateAnswer{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, gateAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, gateAnswer{}, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	var a gateAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		return resp.StatusCode, a, fmt.Errorf("%s %s: status %d, not JSON: %.200s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, a, nil
}

func runGate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	service := fs.String("service", "", "service to deploy (required)")
	env := fs.String("env", "", "environment, e.g. production (required)")
	version := fs.String("version", "", "version being deployed")
	commit := fs.String("commit", "", "commit SHA being deployed")
	requestedBy := fs.String("requested-by", os.Getenv("RELEASEOPS_REQUESTED_BY"), "who asks: a Slack user id or a name mapped in gate.users (default: the token's name)")
	breakGlass := fs.String("break-glass", "", "deploy below the threshold anyway, for this reason (recorded and posted for review)")
	wait := fs.Duration("wait", 0, "when approval is needed, wait this long for the decision (e.g. 30m)")
	server := fs.String("server", envOr("RELEASEOPS_SERVER", "http://127.0.0.1:8080"), "ReleaseOps URL (or RELEASEOPS_SERVER)")
	token := fs.String("token", os.Getenv("RELEASEOPS_TOKEN"), "API token with the gate scope (or RELEASEOPS_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return &exitError{code: 1}
	}
	if *service == "" || *env == "" || fs.NArg() > 0 {
		return &exitError{code: 1, err: errors.New("usage: releaseops gate --service S --env E [--version V] [--commit SHA] [--requested-by U] [--wait DURATION] [--server URL] [--token T]")}
	}
	if *token == "" {
		return &exitError{code: 1, err: errors.New("no API token: pass --token or set RELEASEOPS_TOKEN")}
	}
	if _, err := url.ParseRequestURI(*server); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("--server %q is not a URL", *server)}
	}
	c := &gateClient{server: strings.TrimSuffix(*server, "/"), token: *token, http: &http.Client{}}
	req := map[string]any{"service": *service, "environment": *env, "version": *version, "commit_sha": *commit, "requested_by": *requestedBy}
	if *breakGlass != "" {
		req["break_glass"] = map[string]string{"reason": *breakGlass}
	}
	body, _ := json.Marshal(req)
	code, a, err := c.do(ctx, http.MethodPost, "/api/v1/gate", body)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	if code != http.StatusOK {
		msg := a.Error
		if a.Detail != "" {
			msg += " (" + a.Detail + ")"
		}
		return &exitError{code: 1, err: fmt.Errorf("the gate answered %d: %s", code, msg)}
	}
	printDecision(stdout, *service, *env, a)
	switch a.Decision {
	case "allow":
		return nil
	case "block":
		return &exitError{code: exitBlock}
	}
	if a.ApprovalID == nil {
		return &exitError{code: exitNeedsApproval}
	}
	id := *a.ApprovalID
	link := c.server + "/api/v1/approvals/" + id
	where := "in Slack"
	if a.Channel != "" {
		where = "in Slack channel " + a.Channel
	}
	fmt.Fprintf(stdout, "approval %s: waiting for an approver %s", id, where)
	if a.ExpiresAt != nil {
		fmt.Fprintf(stdout, " until %s", a.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(stdout, "\n  %s\n", link)
	if *wait <= 0 {
		return &exitError{code: exitNeedsApproval}
	}
	return waitApproval(ctx, c, id, *wait, stdout, stderr)
}

// waitApproval polls the approval until it is decided or the wait ends. Errors while polling
// are reported and retried: a pipeline should not fail on one dropped connection.
func waitApproval(ctx context.Context, c *gateClient, id string, wait time.Duration, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	interval := 2 * time.Second
	for {
		code, a, err := c.do(ctx, http.MethodGet, "/api/v1/approvals/"+url.PathEscape(id), nil)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "releaseops gate: polling approval %s: %v\n", id, err)
		case code != http.StatusOK:
			fmt.Fprintf(stderr, "releaseops gate: polling approval %s: status %d: %s\n", id, code, a.Error)
			if code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound {
				return &exitError{code: 1, err: fmt.Errorf("cannot read approval %s: %s", id, a.Error)}
			}
		case a.State == "approved":
			fmt.Fprintf(stdout, "approved by %s%s\n", a.DecidedBy, at(a.DecidedAt))
			return nil
		case a.State == "denied":
			fmt.Fprintf(stdout, "denied by %s%s\n", a.DecidedBy, at(a.DecidedAt))
			return &exitError{code: exitBlock}
		case a.State == "expired":
			fmt.Fprintf(stdout, "expired%s: no approver decided in time, so the deploy is denied\n", at(a.DecidedAt))
			return &exitError{code: exitBlock}
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stdout, "still pending after %s\n", wait)
			return &exitError{code: exitNeedsApproval}
		case <-time.After(interval):
		}
		interval = min(interval*3/2, 15*time.Second)
	}
}

func printDecision(w io.Writer, service, env string, a gateAnswer) {
	score := "no score"
	if a.Score != nil {
		score = fmt.Sprintf("score %.1f", *a.Score)
	}
	fmt.Fprintf(w, "%s to %s: %s (%s, %s)\n", service, env, strings.ToUpper(a.Decision), score, a.Band)
	if printObserved(w, a) {
		return
	}
	for _, r := range a.Reasons {
		fmt.Fprintf(w, "  - %s\n", r.Text)
	}
}

func at(t *time.Time) string {
	if t == nil {
		return ""
	}
	return " at " + t.UTC().Format("2006-01-02 15:04 UTC")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
