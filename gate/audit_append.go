package gate

import (
	"time"

	"github.com/releaseops/releaseops/storage"
)

// AuditEntry kinds written outside the gate (exemption requests, app/exemptions*.go). They
// join the gate's entries in the one chain, so `releaseops audit verify` covers them too.
const (
	AuditExemptionRequest = "exemption.request" // an exemption requested in Slack
	AuditExemptionClick   = "exemption.click"   // an Approve or Deny click on it, accepted or refused
	AuditExemptionExpired = "exemption.expired" // its waiver stopped counting
)

// AppendAudit appends one entry to the audit log inside the caller's transaction, chained to
// the newest entry like the gate's own. detail is any JSON-encodable object.
func AppendAudit(t *storage.Tx, at time.Time, kind, service, actor string, detail any) error {
	return appendAudit(t, at, audit{Kind: kind, Service: service, Actor: actor, Detail: detail})
}
