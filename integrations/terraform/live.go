package terraform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	tfe "github.com/hashicorp/go-tfe"

	"github.com/releaseops/releaseops/internal/nearest"

	"github.com/releaseops/releaseops"
)

// LiveOptions are what `releaseops check-config --live` asks of HCP Terraform or Terraform
// Enterprise: the token, the organisation, the mapped workspaces, and whether the
// notification secret is set.
type LiveOptions struct {
	Token         string
	Address       string // "" = https://app.terraform.io
	Organization  string
	WebhookSecret bool
	Workspaces    []LiveWorkspace
	// Timeout bounds each call (default 10 s).
	Timeout   time.Duration
	Transport http.RoundTripper // nil: http.DefaultTransport
}

// LiveWorkspace is one mapped workspace and where it is configured.
type LiveWorkspace struct {
	Key       string // "services[0].terraform_workspaces[1]"
	Service   string
	Workspace string // "workspace" (in Organization) or "organization/workspace"
}

// LiveResult and LiveProblem are the root package's: every source's check reports the same way.
type (
	LiveResult  = releaseops.LiveResult
	LiveProblem = releaseops.LiveProblem
)

// CheckLive reads the token's account, the organisation, and each mapped workspace. It never
// fails as a whole: whatever goes wrong is a problem in the result.
func CheckLive(ctx context.Context, o LiveOptions) LiveResult {
	res := LiveResult{Visible: -1}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Address == "" {
		o.Address = "https://app.terraform.io"
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	lc := &tfLive{o: o, res: &res}
	// go-tfe pings the API while it builds a client, without a context: the http.Client's
	// timeout is what bounds that call.
	c, err := tfe.NewClient(&tfe.Config{Address: o.Address, Token: o.Token,
		HTTPClient: &http.Client{Transport: o.Transport, Timeout: o.Timeout}})
	if err != nil {
		if !lc.unreachable(err) {
			res.Problem("terraform.address", "%s: %v", o.Address, err)
		}
	} else {
		lc.c = c
		if lc.account(ctx) && lc.organization(ctx) {
			lc.workspaces(ctx)
		}
	}
	if o.WebhookSecret {
		res.Details = append(res.Details, "webhook secret set")
	} else {
		res.Problem("terraform.webhook_secret", "not set: HCP Terraform notifications cannot be verified, so POST /webhooks/terraform stays off and runs, drift and failed checks are not received as they happen")
	}
	return res
}

type tfLive struct {
	o      LiveOptions
	res    *LiveResult
	c      *tfe.Client
	orgBad bool // terraform.organization was not found: its bare workspace names are not looked up
}

func (lc *tfLive) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, lc.o.Timeout)
}

// unreachable turns a failure to get any answer into a problem on terraform.address and
// reports whether it was one.
func (lc *tfLive) unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	cause := ""
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue) && ue.Timeout():
		// go-tfe waits out 429s (X-RateLimit-Reset) within the same deadline.
		cause = fmt.Sprintf("no answer within %s", lc.o.Timeout)
	case errors.As(err, &op):
		cause = op.Error()
	case errors.As(err, &dns):
		cause = dns.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		cause = "the connection closed without an HTTP answer"
	default:
		return false
	}
	lc.res.Problem("terraform.address", "cannot reach the HCP Terraform API at %s: %s", lc.o.Address, cause)
	return true
}

// account is GET /api/v2/account/details: whose token it is, and whether it works at all.
func (lc *tfLive) account(ctx context.Context) bool {
	c, cancel := lc.call(ctx)
	defer cancel()
	u, err := lc.c.Users.ReadCurrent(c)
	switch {
	case err == nil:
		lc.res.Who = u.Username
		if u.IsServiceAccount {
			lc.res.Who += " (a team or organisation token)"
		}
		return true
	case lc.unreachable(err):
		return false
	case errors.Is(err, tfe.ErrUnauthorized):
		lc.res.Problem("terraform.token", "HCP Terraform refused the token (401): it expired, was revoked or is for another address than %s", lc.o.Address)
		return false
	default:
		// Some tokens may not read an account; the organisation read below still says
		// whether the token works.
		lc.res.Who = "a token whose account could not be read"
		return true
	}
}

func (lc *tfLive) organization(ctx context.Context) bool {
	org := lc.o.Organization
	if org == "" {
		lc.res.Problem("terraform.organization", "not set: the organisation that owns the mapped workspaces is needed with terraform.token")
		lc.orgBad = true
		return true
	}
	c, cancel := lc.call(ctx)
	defer cancel()
	_, err := lc.c.Organizations.Read(c, org)
	switch {
	case err == nil:
	case lc.unreachable(err):
		return false
	case errors.Is(err, tfe.ErrResourceNotFound):
		lc.orgBad = true
		lc.res.Problem("terraform.organization", "organisation %q does not exist or the token cannot see it%s", org, lc.suggestOrgs(ctx))
		return true
	case errors.Is(err, tfe.ErrUnauthorized):
		lc.res.Problem("terraform.token", "the token may not read organisation %q (401)", org)
		return false
	default:
		lc.res.Problem("terraform.organization", "read organisation %q: %v", org, err)
		return true
	}
	c2, cancel2 := lc.call(ctx)
	defer cancel2()
	list, err := lc.c.Workspaces.List(c2, org, &tfe.WorkspaceListOptions{ListOptions: tfe.ListOptions{PageSize: 1}})
	switch {
	case err == nil && list.Pagination != nil:
		lc.res.Visible = list.TotalCount
	case err == nil:
		lc.res.Visible = len(list.Items)
	case lc.unreachable(err):
		return false
	default:
		lc.res.Problem("terraform.token", "list the workspaces of %q: %v", org, err)
		return true
	}
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("organisation %s: %d workspace(s) visible", org, lc.res.Visible))
	return true
}

// suggestOrgs names the organisations the token can see closest to a mistyped one.
func (lc *tfLive) suggestOrgs(ctx context.Context) string {
	c, cancel := lc.call(ctx)
	defer cancel()
	list, err := lc.c.Organizations.List(c, &tfe.OrganizationListOptions{ListOptions: tfe.ListOptions{PageSize: 100}})
	if err != nil || len(list.Items) == 0 {
		return ""
	}
	var names []string
	for _, o := range list.Items {
		names = append(names, o.Name)
	}
	if near := nearest.Among(lc.o.Organization, names, 3); len(near) > 0 {
		return fmt.Sprintf("; did you mean %q?", strings.Join(near, `", "`))
	}
	return fmt.Sprintf("; the token sees %s", strings.Join(names, ", "))
}

func (lc *tfLive) workspaces(ctx context.Context) {
	seen := map[string]bool{}
	var noAssess []string
	checked, skipped := 0, 0
	for _, w := range lc.o.Workspaces {
		org, name, qualified := strings.Cut(strings.TrimSpace(w.Workspace), "/")
		if !qualified {
			org, name = lc.o.Organization, org
		}
		full := org + "/" + name
		if name == "" || seen[strings.ToLower(full)] {
			continue
		}
		seen[strings.ToLower(full)] = true
		if !qualified && lc.orgBad {
			skipped++ // the organisation's problem covers it
			continue
		}
		c, cancel := lc.call(ctx)
		ws, err := lc.c.Workspaces.Read(c, org, name)
		cancel()
		switch {
		case err == nil:
			checked++
			if !ws.AssessmentsEnabled {
				noAssess = append(noAssess, full)
			}
		case lc.unreachable(err):
			return
		case errors.Is(err, tfe.ErrResourceNotFound):
			lc.res.Problem(w.Key, "workspace %s, mapped to %s, does not exist or the token cannot read it; check the name (organization/workspace) and the token's team access", full, w.Service)
		default:
			lc.res.Problem(w.Key, "read workspace %s: %v", full, err)
		}
	}
	if n := len(seen) - skipped; n > 0 {
		lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d of %d mapped workspace(s) found", checked, n))
	}
	if skipped > 0 {
		lc.res.Details = append(lc.res.Details, fmt.Sprintf("%d workspace(s) of terraform.organization not looked up", skipped))
	}
	// Health assessments are a paid tier's feature: off is something the scores will show,
	// not a configuration error.
	if len(noAssess) > 0 {
		lc.res.Details = append(lc.res.Details, "health assessments off for "+strings.Join(noAssess, ", "))
	}
}
