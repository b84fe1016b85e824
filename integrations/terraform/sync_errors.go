package terraform

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	tfe "github.com/hashicorp/go-tfe"
)

// SyncError is a read HCP Terraform refused or failed: it names the subject, the call and
// the cause in words a person can act on ("terraform.token is invalid or revoked").
type SyncError struct {
	Subject string // org/workspace
	Path    string // the call, as sent
	Status  int    // 0 when the call got no answer
	Message string
	err     error
}

func (e *SyncError) Error() string {
	switch {
	case e.Path == "":
		return fmt.Sprintf("%s: %s", e.Subject, e.Message)
	case e.Status == 0:
		return fmt.Sprintf("%s: GET %s: %s", e.Subject, e.Path, e.Message)
	}
	return fmt.Sprintf("%s: GET %s: %d %s: %s", e.Subject, e.Path, e.Status, http.StatusText(e.Status), e.Message)
}

// Unwrap keeps go-tfe's sentinel (tfe.ErrUnauthorized, ...) and context errors visible to
// errors.Is, so the runner can tell a timeout from a refusal.
func (e *SyncError) Unwrap() error { return e.err }

// failure explains err, the outcome of the call rec recorded, for a person.
func (r *wsRead) failure(err error, rec *recorder) error {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		// Kept as it is (wrapped) so the runner sees RetryAt and waits for the reset.
		return fmt.Errorf("%s: %w; still limited after waiting (lower sync.concurrency if this persists)", r.key, rl)
	}
	c, made := rec.last()
	e := &SyncError{Subject: r.key, Path: c.Path, Status: c.Status, err: err}
	if !made || c.err != nil {
		e.Status = 0
		switch {
		case errors.Is(err, context.DeadlineExceeded) || isTimeout(err) || strings.Contains(err.Error(), "would exceed context deadline"):
			// The last is go-tfe's rate limiter declining to wait past the read's deadline.
			e.Message = "timed out"
			e.err = errors.Join(context.DeadlineExceeded, err)
		case errors.Is(err, context.Canceled):
			e.Message = "cancelled"
		case errors.Is(err, tfe.ErrInvalidOrg):
			e.Message = fmt.Sprintf("%q is not a valid organization name", r.org)
		case errors.Is(err, tfe.ErrInvalidWorkspaceValue):
			e.Message = fmt.Sprintf("%q is not a valid workspace name: check terraform_workspaces of %s", r.name, r.serviceWords())
		default:
			e.Message = unwrapURL(err).Error()
		}
		return e
	}
	switch {
	case c.Status == http.StatusUnauthorized:
		e.Message = "terraform.token is invalid or revoked"
	case c.Status == http.StatusForbidden:
		e.Message = "the token may not read this (give its team read access to the workspace, or use a team token)"
	case c.Status < 300:
		e.Message = "unreadable answer: " + clip(err.Error())
	case c.Status >= 500:
		e.Message = "the Terraform API failed"
		if c.retried > 0 {
			e.Message += fmt.Sprintf(" (retried %d times)", c.retried)
		}
	default:
		msg := strings.TrimSpace(strings.ReplaceAll(err.Error(), "\n\n", ": "))
		if msg == "" {
			msg = http.StatusText(c.Status)
		}
		e.Message = clip(msg)
	}
	return e
}

// notFound explains a 404 on the workspace: HCP Terraform answers 404 both for a workspace
// that does not exist and for an organisation it does not know (or that the token cannot
// see), so the organisation is asked for to tell them apart.
func (r *wsRead) notFound(ctx context.Context, wsErr *SyncError) error {
	octx, rec := withRecorder(ctx)
	_, err := r.client.Organizations.Read(octx, r.org)
	switch {
	case err == nil:
		wsErr.Message = fmt.Sprintf("workspace %s not found: check terraform_workspaces of %s (and that the token can read the workspace)",
			r.org+"/"+r.name, r.serviceWords())
		return wsErr
	case errors.Is(err, tfe.ErrResourceNotFound):
		c, _ := rec.last()
		e := &SyncError{Subject: r.key, Path: c.Path, Status: c.Status, err: err}
		if strings.EqualFold(r.org, r.s.Organization) {
			e.Message = fmt.Sprintf("terraform.organization %s not found or not visible to the token", r.org)
		} else {
			e.Message = fmt.Sprintf("organization %s (from terraform_workspaces of %s) not found or not visible to the token", r.org, r.serviceWords())
		}
		return e
	}
	return r.failure(err, rec)
}

func (r *wsRead) serviceWords() string {
	if r.service == "" {
		return "the service"
	}
	return "service " + r.service
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapURL drops net/url's `Get "https://…":` prefix: the error already names the call.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
