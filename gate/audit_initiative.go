package gate

import (
	"time"

	"github.com/releaseops/releaseops/storage"
)

// Audit entry kinds of initiatives created and deleted through the API.
const (
	AuditInitiativeCreated = "initiative.created"
	AuditInitiativeDeleted = "initiative.deleted"
)

// AppendInitiativeAudit chains an initiative's creation or deletion into the audit log inside
// the caller's transaction, the one that stores or removes it: both happen or neither.
func AppendInitiativeAudit(t *storage.Tx, at time.Time, kind, actor string, detail any) error {
	return appendAudit(t, at, audit{Kind: kind, Actor: actor, Detail: detail})
}
