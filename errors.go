package releaseops

import (
	"errors"
	"fmt"
)

// Application error codes. The HTTP layer maps each to one status code, in one place, so
// handlers and integrations never choose status codes themselves.
const (
	EMALFORMED    = "malformed"      // 400: body cannot be parsed
	EUNAUTHORIZED = "unauthorized"   // 401: bad or missing signature or token
	EFORBIDDEN    = "forbidden"      // 403: authenticated but not allowed
	ENOTFOUND     = "not_found"      // 404
	ECONFLICT     = "conflict"       // 409
	ETOOLARGE     = "too_large"      // 413
	EINVALID      = "invalid"        // 422: well-formed but breaks the schema
	EUNAVAILABLE  = "not_configured" // 503: the source or feature has no secret configured, or the database is unavailable
	EINTERNAL     = "internal"       // 500
)

// Error is an error with a code and a message that is safe to show to the caller. Internal
// details go to the wrapped Err, which is logged but never written to a response.
type Error struct {
	Code    string
	Message string
	Detail  string
	Err     error
	// RetryAfter, in seconds, is sent as Retry-After when positive: the request may be
	// repeated as it is once that time has passed (the database was unavailable).
	RetryAfter int
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	if e.Detail != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Message, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or EINTERNAL.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
