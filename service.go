package releaseops

// Service is one entry of the catalog: what the platform team declares about a service, in
// config `services:` or in a Backstage catalog-info.yaml. Declared facts feed the signals that
// no webhook can observe (an SLO exists, logs are structured).
type Service struct {
	Name                string   `yaml:"name" json:"name"`
	Repo                string   `yaml:"repo" json:"repo,omitempty"` // "org/name"
	Owner               string   `yaml:"owner" json:"owner,omitempty"`
	Tier                int      `yaml:"tier" json:"tier,omitempty"`
	SlackChannel        string   `yaml:"slack_channel" json:"slack_channel,omitempty"`
	Approvers           []string `yaml:"approvers" json:"approvers,omitempty"` // Slack user ids
	PagerDutyServiceID  string   `yaml:"pagerduty_service_id" json:"pagerduty_service_id,omitempty"`
	EscalationLevels    int      `yaml:"escalation_levels" json:"escalation_levels,omitempty"` // levels of the PagerDuty escalation policy
	RunbookURL          string   `yaml:"runbook_url" json:"runbook_url,omitempty"`
	RunbookPaths        []string `yaml:"runbook_paths" json:"runbook_paths,omitempty"` // repo paths whose pushes count as runbook updates
	SLOs                []SLO    `yaml:"slos" json:"slos,omitempty"`
	StructuredLogging   bool     `yaml:"structured_logging" json:"structured_logging,omitempty"`
	TraceCorrelation    bool     `yaml:"trace_correlation" json:"trace_correlation,omitempty"`
	Stateful            bool     `yaml:"stateful" json:"stateful,omitempty"`
	RTOTargetSeconds    float64  `yaml:"rto_target_seconds" json:"rto_target_seconds,omitempty"`
	ComplianceControls  []string `yaml:"compliance_controls" json:"compliance_controls,omitempty"`
	StatusPageURL       string   `yaml:"status_page_url" json:"status_page_url,omitempty"`
	StakeholderChannel  string   `yaml:"stakeholder_channel" json:"stakeholder_channel,omitempty"`
	DefaultBranch       string   `yaml:"default_branch" json:"default_branch,omitempty"`
	Codeowners          bool     `yaml:"codeowners" json:"codeowners,omitempty"` // the repository has a CODEOWNERS file
	Terraform           *bool    `yaml:"terraform" json:"terraform,omitempty"`   // false: the Terraform dimensions are not applicable
	TerraformWorkspaces []string `yaml:"terraform_workspaces" json:"terraform_workspaces,omitempty"`
	TerraformModules    []Module `yaml:"terraform_modules" json:"terraform_modules,omitempty"`
	NotApplicable       []string `yaml:"not_applicable" json:"not_applicable,omitempty"` // dimension ids left out of the mean
	GateMode            string   `yaml:"gate_mode" json:"gate_mode,omitempty"`           // enforce or observe; overrides gate.mode
	// GateModeOrigin is the Origin of the entry that set GateMode: a merged entry keeps the
	// Origin it was first declared with, but the gate names whoever stopped enforcement.
	GateModeOrigin string `yaml:"-" json:"-"`

	// Origin says where the entry came from: "config", "backstage:<path>" or "convention"
	// (a repository org/name seen in an event and not named by the catalog).
	Origin string `yaml:"-" json:"origin,omitempty"`
}

// SLO is a declared service-level objective.
type SLO struct {
	Name      string  `yaml:"name" json:"name"`
	Objective float64 `yaml:"objective" json:"objective"`
}

// Module is a Terraform module the service owns and whether it has a documented rollback path.
type Module struct {
	Name         string `yaml:"name" json:"name"`
	RollbackPath string `yaml:"rollback_path" json:"rollback_path,omitempty"`
}

// UsesTerraform reports whether the Terraform dimensions apply to the service. Unless the
// catalog says `terraform: false`, they apply, so a service that never reports Terraform runs
// shows "no data" rather than silently scoring well.
func (s Service) UsesTerraform() bool { return s.Terraform == nil || *s.Terraform }

// IsApprover reports whether the Slack user id may decide the service's watch-band deploys.
func (s Service) IsApprover(slackUserID string) bool {
	for _, a := range s.Approvers {
		if a == slackUserID {
			return true
		}
	}
	return false
}
