package storage

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err says the database could not be reached or could not take
// the write now — the server gone, the connection lost, a timeout, the writer closing — as
// opposed to a mistake in what was asked. Such a request may be retried as it is: the
// handlers answer 503 with Retry-After, and senders retry (every write is idempotent on its
// natural key, so a retry of a write that did commit changes nothing).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		case "08", "53", "57", "40": // connection, resources, operator intervention, rollback (serialization, deadlock)
			return true
		}
	}
	return pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}
