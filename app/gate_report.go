package app

import (
	"context"

	"github.com/releaseops/releaseops/gate"
	"github.com/releaseops/releaseops/web"
)

// gateReporter gives the /gate/report page the gate's report, read the way
// GET /api/v1/gate/report reads it (the same days bounds, the same aggregation).
type gateReporter struct{ a *App }

func (r gateReporter) GateReport(ctx context.Context, days string) (web.GateReport, error) {
	n, err := gate.ParseReportDays(days)
	if err != nil {
		return web.GateReport{}, err
	}
	rep, err := r.a.Gate.Report(ctx, n)
	if err != nil {
		return web.GateReport{}, err
	}
	return webReportOf(rep), nil
}

func webReportOf(rep gate.Report) web.GateReport {
	out := web.GateReport{Days: rep.Days, Since: rep.Since, Until: rep.Until, Totals: web.GateReportCounts(rep.Totals)}
	for _, s := range rep.Services {
		ws := web.GateReportService{Service: s.Service, GateReportCounts: web.GateReportCounts(s.ReportCounts), Environments: s.Environments,
			ModeFrom: s.ModeFrom, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen}
		for _, d := range s.Decisions {
			wd := web.GateReportDecision{Decision: d.Decision, Count: d.Count, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen}
			for _, rc := range d.TopReasons {
				wd.TopReasons = append(wd.TopReasons, web.GateReportReason(rc))
			}
			ws.Decisions = append(ws.Decisions, wd)
		}
		out.Services = append(out.Services, ws)
	}
	return out
}
