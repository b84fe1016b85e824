package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
)

// hostileName is the service TestHostileStringsAreEscaped stores; its preview carries markup
// in every field the deploy section shows.
const hostileName = `<script>alert(1)</script>`

// hostileDeploy are the strings of the hostile preview, each unique, so the test can find each
// one shown escaped.
var hostileDeploy = []string{
	`gate <b>reason</b> <script>alert(5)</script>`,
	`factor <img src=x onerror=alert(6)>`,
	`window <b>freeze</b> <script>alert(7)</script>`,
	`deploy <img src=x onerror=alert(8)> went well`,
}

// fakeDeploy answers the fixture's services with fixed previews: checkout needs a quorum at
// high risk off-hours, search has release risk off, ledger's preview fails, and the hostile
// service's carries markup. Any other service is not known to the gate.
type fakeDeploy struct{}

func (fakeDeploy) PreviewDeploy(ctx context.Context, service string) (DeployPreview, error) {
	next := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	switch service {
	case "checkout":
		return DeployPreview{Decision: "needs_approval", Quorum: 2,
			Reasons: []DeployReason{
				{Kind: "band", Text: "score 68.0 is in the watch band (60–75) for production"},
				{Kind: "window", Text: "off-hours release needs a human: outside mon-fri 09:00-17:00 Europe/Berlin; the window opens 2026-11-23T08:00:00Z"},
				{Kind: "risk_factors", Text: "release risk 71 (high): change size +20.8: ..."},
			},
			Risk: &risk.Assessment{Score: 71.2, Level: risk.High, Factors: []risk.Factor{
				{ID: "change_size", Weight: 20, Value: 0.5, Points: 20.8, Unknown: true, Reason: "change size unknown: the request has no commit_sha; send commit_sha, and let the GitHub compare answer, to rate it"},
				{ID: "failure_rate", Weight: 15, Value: 0.8, Points: 12.5, Reason: "1 of 6 production deploys in 90 days failed or was rolled back"},
				{ID: "on_call", Weight: 15, Value: 0.5, Points: 7.8, Unknown: true, Reason: "on-call coverage unknown: no PagerDuty on-call data for this service"},
				{ID: "release_size", Weight: 10, Points: 0, Reason: "no release id: shipped on its own"},
				{ID: "incidents", Weight: 15, Points: 0, Reason: "no open incident"},
			}},
			Window: &risk.WindowStatus{OffHours: true, Reason: "off-hours release needs a human: outside mon-fri 09:00-17:00 Europe/Berlin", NextOpenAt: &next},
			Trust: &risk.Ladder{Rung: 1, Top: 3, Steps: []risk.LadderStep{
				{At: before(19 * day), Rung: 0, Reason: "deploy r2 failed or was rolled back"},
				{At: before(8*day - time.Hour), Rung: 1, Reason: "deploy r4 in the mature band went well"},
			}}}, nil
	case "search":
		return DeployPreview{Decision: "block", Reasons: []DeployReason{{Kind: "band", Text: "score 40.0 is in the blocked band (below 60) for production"}}}, nil
	case "ledger":
		return DeployPreview{}, errors.New("sqlite: database is locked (/var/lib/releaseops/releaseops.db)")
	case hostileName:
		return DeployPreview{Decision: `allow"><script>alert(9)</script>`,
			Reasons: []DeployReason{{Kind: "band", Text: hostileDeploy[0]}},
			Risk:    &risk.Assessment{Score: 12, Level: `low"><script>alert(10)</script>`, Factors: []risk.Factor{{ID: `x"><b>id</b>`, Points: 3, Reason: hostileDeploy[1]}}},
			Window:  &risk.WindowStatus{Blackout: "<b>freeze</b>", Reason: hostileDeploy[2]},
			Trust:   &risk.Ladder{Rung: 0, Top: 3, Steps: []risk.LadderStep{{At: before(day), Reason: hostileDeploy[3]}}}}, nil
	}
	return DeployPreview{}, releaseops.Errorf(releaseops.ENOTFOUND, "unknown service %q", service)
}

func TestServicePageShowsDeployPreview(t *testing.T) {
	f := newFixture(t)
	_, body := f.get(t, "/services/checkout")
	for _, want := range []string{
		`<h2 id="deploy-now">Deploying to production now</h2>`,
		`<dt>The gate would answer</dt><dd><span class="outcome outcome-partial">needs approval</span></dd><dd class="muted">needs 2 distinct approvers</dd>`,
		`<dt>Release risk</dt><dd>71.2 <small>of 100</small></dd><dd class="muted"><span class="outcome outcome-fail">high</span></dd>`,
		`<span class="outcome outcome-partial">off-hours</span>`,
		`next open <time datetime="2026-11-23T08:00:00Z">2026-11-23 08:00 UTC</time>`,
		`<dt>Trust ladder</dt><dd>rung 1 <small>of 3</small></dd><dd class="muted">deploy r4 in the mature band went well</dd>`,
		`<tr><td>Change size <span class="tag">unknown</span></td><td class="num">+20.8</td><td>change size unknown: the request has no commit_sha`,
		`<tr><td>Failure rate</td><td class="num">+12.5</td>`,
		`2 more factors add nothing now.`,
		`2026-11-12 13:00 UTC</time> · rung 1: deploy r4 in the mature band went well</li>`,
		`<code>/readiness window checkout</code>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("checkout page lacks %q", want)
		}
	}
	// The risk_factors reason repeats the table; it is not listed under "Why".
	if strings.Contains(body, "release risk 71 (high): change size") {
		t.Error("the risk_factors reason is listed beside the factor table")
	}
	// Newest move first.
	if i, j := strings.Index(body, "rung 1: deploy r4"), strings.Index(body, "rung 0: deploy r2"); i < 0 || j < 0 || i > j {
		t.Errorf("trust steps are not newest first (%d, %d)", i, j)
	}

	_, body = f.get(t, "/services/search")
	for _, want := range []string{`<span class="outcome outcome-fail">block</span>`, "off: the risk config did not compile"} {
		if !strings.Contains(body, want) {
			t.Errorf("search page lacks %q", want)
		}
	}
	if strings.Contains(body, "Top risk factors") || strings.Contains(body, "<dt>Trust ladder</dt>") || strings.Contains(body, "rated unknown") {
		t.Error("search shows risk details while release risk is off")
	}

	// A service the gate does not know has no section.
	_, body = f.get(t, "/services/payments-api")
	if strings.Contains(body, "deploy-now") {
		t.Error("payments-api shows a deploy section though the gate does not know it")
	}
}

func TestServicePageSurvivesAFailingPreview(t *testing.T) {
	f := newFixture(t)
	logs := &strings.Builder{}
	d := f.deps()
	d.Log = slog.New(slog.NewTextHandler(logs, nil))
	f.Echo = echo.New()
	Register(f.Echo, d)
	code, body := f.get(t, "/services/ledger")
	if code != http.StatusOK {
		t.Fatalf("GET /services/ledger = %d with a failing preview, want the page", code)
	}
	if !strings.Contains(body, "The gate could not be asked about a deploy now; the cause is in the server log.") || strings.Contains(body, "sqlite") {
		t.Errorf("a failing preview should be said, its cause not shown")
	}
	if !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("the cause is not logged: %s", logs.String())
	}
}

func TestServicePageWithoutPreviewer(t *testing.T) {
	f := newFixture(t)
	d := f.deps()
	d.Deploy, d.Log = nil, slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Echo = echo.New()
	Register(f.Echo, d)
	if _, body := f.get(t, "/services/checkout"); strings.Contains(body, "deploy-now") {
		t.Error("a page without a previewer shows a deploy section")
	}
}
