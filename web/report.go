package web

import (
	"context"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops"
)

// GateReporter is what the gate report page reads: what enforcement would have changed over
// the last days, from what the gate recorded in observe mode. The app implements it over the
// gate's report; the pages keep no dependency on the gate itself. days is the query's text:
// the gate validates it, and a bad one is releaseops.EMALFORMED.
type GateReporter interface {
	GateReport(ctx context.Context, days string) (GateReport, error)
}

// GateReport is GET /api/v1/gate/report's answer, as the page shows it.
type GateReport struct {
	Days         int
	Since, Until time.Time
	Totals       GateReportCounts
	Services     []GateReportService // most blocked first
}

// GateReportCounts counts observe-mode requests by what enforcement would have answered.
type GateReportCounts struct {
	Requests, WouldBlock, WouldNeedApproval, Allowed int
}

// GateReportService is one service's observe-mode requests.
type GateReportService struct {
	Service string
	GateReportCounts
	Environments        []string
	ModeFrom            []string // the settings that put its requests in observe mode
	FirstSeen, LastSeen time.Time
	Decisions           []GateReportDecision
}

// GateReportDecision is a service's requests that enforcement would have answered alike.
type GateReportDecision struct {
	Decision            string // allow, needs_approval, block
	Count               int
	FirstSeen, LastSeen time.Time
	TopReasons          []GateReportReason
}

// GateReportReason is a reason enforcement would have given, how often, and its latest text.
type GateReportReason struct {
	Reason  string
	Count   int
	Example string
}

// The report page is parsed here rather than listed in pageNames, so that this page's
// template set is this file's own.
func init() {
	pages["report"] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles,
		"templates/layout.html", "templates/parts.html", "templates/report.html"))
}

type reportView struct {
	page
	GateReport
	Rows   []reportRow
	Ranges []reportRange
}

// reportRow is one line of the table: a service and one decision enforcement would have made.
// The service cell spans its decisions' rows.
type reportRow struct {
	First        bool
	Span         int
	Service      string
	Environments string
	ModeFrom     string
	Label, Class string // from fixed sets, never from stored text
	GateReportDecision
}

type reportRange struct {
	Href, Label string
	Active      bool
}

func (h *handler) gateReport(c echo.Context) error {
	ctx, cancel := h.ctx(c)
	defer cancel()
	r, err := h.d.GateReport.GateReport(ctx, c.QueryParam("days"))
	switch {
	case releaseops.ErrorCode(err) == releaseops.EMALFORMED:
		return h.badRequest(c, err)
	case err != nil:
		return h.serverError(c, "gate report", err)
	}
	v := reportView{page: page{Title: "Gate report", Nav: "gate-report"}, GateReport: r}
	for _, d := range []int{7, 30, 90} {
		v.Ranges = append(v.Ranges, reportRange{Href: "/gate/report?days=" + strconv.Itoa(d), Label: strconv.Itoa(d) + " days", Active: d == r.Days})
	}
	for _, s := range r.Services {
		for i, d := range s.Decisions {
			label, class := reportDecision(d.Decision)
			v.Rows = append(v.Rows, reportRow{First: i == 0, Span: len(s.Decisions), Service: s.Service,
				Environments: strings.Join(s.Environments, ", "), ModeFrom: strings.Join(s.ModeFrom, ", "),
				Label: label, Class: class, GateReportDecision: d})
		}
	}
	return h.render(c, http.StatusOK, "report", v)
}

// reportDecision words what enforcement would have answered, in the outcome colours.
func reportDecision(d string) (label, class string) {
	switch d {
	case "block":
		return "would block", "fail"
	case "needs_approval":
		return "would need approval", "partial"
	case "allow":
		return "allowed either way", "pass"
	}
	return d, "unknown"
}
