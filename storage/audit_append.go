package storage

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// InsertAudit appends an entry. The caller computed its hashes (package gate).
func InsertAudit(t *Tx, r AuditRow) error { return InsertAudits(t, r) }

// maxAuditRows bounds the entries one statement appends; more take several.
const maxAuditRows = 8

// insertAuditSQL[n] appends n entries; insertAuditAfterSQL[d][n] appends them only if the
// log's head is still the one given (?1 its seq, 0 for an empty log; ?2 its hash), in the
// spelling of dialect d (0 SQLite, 1 PostgreSQL, whose VALUES need the column types).
var (
	insertAuditSQL      [maxAuditRows + 1]string
	insertAuditAfterSQL [2][maxAuditRows + 1]string
)

func init() {
	types := []string{"bigint", "bigint", "text", "text", "text", "text", "bytea", "text", "text"}
	for n := 1; n <= maxAuditRows; n++ {
		var plain, sqlite, pg []string
		for i := range n {
			var a, b, c []string
			for j, ty := range types {
				p := "?" + strconv.Itoa(3+9*i+j)
				a, b, c = append(a, "?"), append(b, p), append(c, p+"::"+ty)
			}
			plain = append(plain, "("+strings.Join(a, ", ")+")")
			sqlite = append(sqlite, "("+strings.Join(b, ", ")+")")
			pg = append(pg, "("+strings.Join(c, ", ")+")")
		}
		insertAuditSQL[n] = `INSERT INTO audit_log (` + auditCols + `) VALUES ` + strings.Join(plain, ", ")
		guard := ` WHERE NOT EXISTS (SELECT 1 FROM audit_log WHERE seq > ?1)
			AND (?1 = 0 OR EXISTS (SELECT 1 FROM audit_log WHERE seq = ?1 AND hash = ?2))`
		insertAuditAfterSQL[0][n] = `INSERT INTO audit_log (` + auditCols + `) SELECT * FROM (VALUES ` + strings.Join(sqlite, ", ") + `) v` + guard
		insertAuditAfterSQL[1][n] = `INSERT INTO audit_log (` + auditCols + `) SELECT * FROM (VALUES ` + strings.Join(pg, ", ") + `) v` + guard
	}
}

func auditArgs(rows []AuditRow, args []any) []any {
	for _, r := range rows {
		args = append(args, r.Seq, r.At.UTC().UnixMilli(), r.Kind, r.Service, r.Actor, r.ApprovalID, r.Detail, r.PrevHash, r.Hash)
	}
	return args
}

// InsertAudits appends entries in order, in one statement (up to maxAuditRows): a gate
// decision with a break glass or a review appends two or three, and on PostgreSQL each
// statement is a round trip made while holding the exclusive writer lock.
func InsertAudits(t *Tx, rows ...AuditRow) error {
	for len(rows) > 0 {
		part := rows[:min(len(rows), maxAuditRows)]
		rows = rows[len(part):]
		if _, err := t.Exec(insertAuditSQL[len(part)], auditArgs(part, make([]any, 0, 9*len(part)))...); err != nil {
			return auditAppendError(part, err)
		}
		t.w.auditHint(part[len(part)-1])
	}
	return nil
}

// auditHeads holds, per writer, the head its last append left: the hint with which the next
// append skips reading the head (one round trip fewer under the exclusive writer lock). The
// hint may be wrong (another replica appended since, or the append's transaction rolled
// back), so an append made with it checks the head in its own statement.
var auditHeads sync.Map // *Writer → AuditRow (Seq and Hash)

func (w *lane) auditHint(r AuditRow) { auditHeads.Store(w.Writer, AuditRow{Seq: r.Seq, Hash: r.Hash}) }

// AuditHeadHint returns the head this process's last append left, if it made one: what
// InsertAuditsAfter is to be given, not a read of the log.
func AuditHeadHint(t *Tx) (seq int64, hash string, ok bool) {
	v, ok := auditHeads.Load(t.w.Writer)
	if !ok {
		return 0, "", false
	}
	r := v.(AuditRow)
	return r.Seq, r.Hash, true
}

// InsertAuditsAfter appends rows (at most maxAuditRows), chained by the caller to the head
// (seq, hash), in one statement, if that is still the log's head (seq 0: the log is empty).
// It returns false, having appended nothing, when it is not: read the head and chain again.
func InsertAuditsAfter(t *Tx, seq int64, hash string, rows ...AuditRow) (bool, error) {
	if len(rows) == 0 || len(rows) > maxAuditRows {
		return false, nil
	}
	d := 0
	if t.w.d.name == DriverPostgres {
		d = 1
	}
	res, err := t.Exec(insertAuditAfterSQL[d][len(rows)], auditArgs(rows, append(make([]any, 0, 2+9*len(rows)), seq, hash))...)
	if err != nil {
		return false, auditAppendError(rows, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, auditAppendError(rows, err)
	}
	if n == 0 {
		return false, nil
	}
	t.w.auditHint(rows[len(rows)-1])
	return true, nil
}

func auditAppendError(rows []AuditRow, err error) error {
	first, last := rows[0], rows[len(rows)-1]
	if len(rows) == 1 {
		return fmt.Errorf("append audit entry %d (%s): %w", first.Seq, first.Kind, err)
	}
	return fmt.Errorf("append audit entries %d-%d (%s…%s): %w", first.Seq, last.Seq, first.Kind, last.Kind, err)
}
