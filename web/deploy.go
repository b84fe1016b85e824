package web

import (
	"context"
	"strconv"
	"strings"

	"github.com/releaseops/releaseops"
	"github.com/releaseops/releaseops/risk"
)

// DeployPreviewer is what the service page shows of the gate: the answer a production deploy
// would get now, its release risk, the release window and the trust ladder. The app
// implements it over the gate's Preview, which records nothing, so reading the page never
// leaves a trace in the audit log. The pages keep no dependency on the gate itself.
type DeployPreviewer interface {
	// PreviewDeploy asks about a production deploy of service now, without a commit (the
	// change size is then rated unknown). An uncatalogued service is releaseops.ENOTFOUND.
	PreviewDeploy(ctx context.Context, service string) (DeployPreview, error)
}

// DeployPreview is the gate's answer to a production deploy now.
type DeployPreview struct {
	Decision     string // allow, needs_approval, block
	AutoApproved bool
	Quorum       int
	Reasons      []DeployReason
	// Risk, Window and Trust are nil when release risk is off (its config did not compile).
	Risk   *risk.Assessment
	Window *risk.WindowStatus
	Trust  *risk.Ladder
}

// DeployReason is one reason of the gate's answer, with the gate's kind.
type DeployReason struct {
	Kind string
	Text string
}

const (
	pageFactors    = 5 // the factors that add most; the rest add little or nothing
	pageTrustSteps = 5
)

// deployView is the "Deploying to production now" section, arranged for the template: CSS
// classes come from fixed sets, never from stored or computed text.
type deployView struct {
	Failed bool // the gate could not be asked; the cause is in the log
	Off    bool // release risk is off

	DecisionLabel string
	DecisionClass string
	DecisionNote  string
	Reasons       []string

	Score       float64
	Level       string
	LevelClass  string
	Factors     []factorView
	QuietCount  int // factors that add no points
	WindowLabel string
	WindowClass string
	Window      *risk.WindowStatus

	Trust    *risk.Ladder
	LastStep string
	Steps    []risk.LadderStep // newest first
}

// factorView is a risk factor with its id as people read it ("change_size" → "Change size").
type factorView struct {
	risk.Factor
	Label string
}

// deploy asks the previewer about the service; nil leaves the section out (no previewer, or
// a service the gate does not know). Any other failure is logged and said on the page: the
// scorecard is worth showing without it.
func (h *handler) deploy(ctx context.Context, service string) *deployView {
	if h.d.Deploy == nil {
		return nil
	}
	p, err := h.d.Deploy.PreviewDeploy(ctx, service)
	if releaseops.ErrorCode(err) == releaseops.ENOTFOUND {
		return nil
	}
	if err != nil {
		h.d.Log.Error("service page without its deploy preview", "service", service, "err", err)
		return &deployView{Failed: true}
	}
	return newDeployView(p)
}

func newDeployView(p DeployPreview) *deployView {
	v := &deployView{DecisionLabel: strings.ReplaceAll(p.Decision, "_", " "), DecisionClass: decisionClass(p.Decision), Off: p.Risk == nil}
	switch {
	case p.AutoApproved:
		v.DecisionNote = "auto-approved: the top rung of the trust ladder lets a low-risk mature deploy through"
	case p.Decision == "needs_approval" && p.Quorum > 1:
		v.DecisionNote = "needs " + strconv.Itoa(p.Quorum) + " distinct approvers"
	case p.Decision == "needs_approval":
		v.DecisionNote = "needs one approver"
	}
	for _, r := range p.Reasons {
		if r.Kind != "risk_factors" { // the factor table below says the same, in full
			v.Reasons = append(v.Reasons, r.Text)
		}
	}
	if a := p.Risk; a != nil {
		v.Score, v.Level, v.LevelClass = a.Score, string(a.Level), levelOutcome(a.Level)
		for _, f := range a.Factors {
			if f.Points > 0 && len(v.Factors) < pageFactors {
				v.Factors = append(v.Factors, factorView{Factor: f, Label: factorLabel(f.ID)})
			} else if f.Points <= 0 {
				v.QuietCount++
			}
		}
	}
	if w := p.Window; w != nil {
		v.Window = w
		switch {
		case w.Blackout != "":
			v.WindowLabel, v.WindowClass = "blackout", "fail"
		case !w.Open:
			v.WindowLabel, v.WindowClass = "off-hours", "partial"
		default:
			v.WindowLabel, v.WindowClass = "open", "pass"
		}
	}
	if l := p.Trust; l != nil {
		v.Trust = l
		v.LastStep = "no production deploy has moved it yet"
		if n := len(l.Steps); n > 0 {
			v.LastStep = l.Steps[n-1].Reason
		}
		for i := len(l.Steps) - 1; i >= 0 && len(v.Steps) < pageTrustSteps; i-- {
			v.Steps = append(v.Steps, l.Steps[i])
		}
	}
	return v
}

// decisionClass shows the gate's answer in the outcome colours: allow passes, needs_approval
// is partial, block fails.
func decisionClass(d string) string {
	switch d {
	case "allow":
		return "pass"
	case "needs_approval":
		return "partial"
	case "block":
		return "fail"
	}
	return "unknown"
}

func levelOutcome(l risk.Level) string {
	switch l {
	case risk.Low:
		return "pass"
	case risk.Medium:
		return "partial"
	case risk.High:
		return "fail"
	}
	return "unknown"
}

func factorLabel(id string) string {
	s := strings.ReplaceAll(id, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
