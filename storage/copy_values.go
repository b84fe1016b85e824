package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rowSource feeds CopyFrom from the SQLite rows, converting each value to what the target
// column takes.
type rowSource struct {
	rows  *sql.Rows
	names []string
	conv  []func(any) (any, error)
	raw   []any
	ptrs  []any
	vals  []any
	n     int64
	err   error
}

func newRowSource(rows *sql.Rows, names []string, conv []func(any) (any, error)) *rowSource {
	rs := &rowSource{rows: rows, names: names, conv: conv, raw: make([]any, len(names)), ptrs: make([]any, len(names)), vals: make([]any, len(names))}
	for i := range rs.raw {
		rs.ptrs[i] = &rs.raw[i]
	}
	return rs
}

func (rs *rowSource) Next() bool {
	if rs.err != nil || !rs.rows.Next() {
		return false
	}
	rs.n++
	if err := rs.rows.Scan(rs.ptrs...); err != nil {
		rs.err = fmt.Errorf("read source row %d: %w", rs.n, err)
		return false
	}
	for i, v := range rs.raw {
		c, err := rs.conv[i](v)
		if err != nil {
			rs.err = fmt.Errorf("source row %d, column %s: %w", rs.n, rs.names[i], err)
			return false
		}
		rs.vals[i] = c
	}
	return true
}

// Values is called by CopyFrom right after Next, which encodes them before the next call.
func (rs *rowSource) Values() ([]any, error) { return rs.vals, nil }

func (rs *rowSource) Err() error {
	if rs.err != nil {
		return rs.err
	}
	if err := rs.rows.Err(); err != nil {
		return fmt.Errorf("read the source: %w", err)
	}
	return nil
}

// converterFor turns what SQLite hands back (int64, float64, string, []byte or nil, whatever
// the declared type: SQLite types values, not columns) into what a PostgreSQL column of type
// typ takes. NULL stays NULL; a NOT NULL column refuses it at COPY.
func converterFor(typ string) (func(any) (any, error), error) {
	switch typ {
	case "bytea":
		return toBytes, nil
	case "bigint", "integer", "smallint":
		return toInt, nil
	case "double precision", "real", "numeric":
		return toFloat, nil
	case "text", "character varying":
		return toText, nil
	}
	return nil, fmt.Errorf("column type %s is not supported by the copy", typ)
}

func toBytes(v any) (any, error) {
	switch v := v.(type) {
	case nil, []byte:
		return v, nil
	case string:
		return []byte(v), nil // a BLOB column given text ('{}' defaults): the same bytes
	}
	return nil, fmt.Errorf("want bytes, got %T", v)
}

func toInt(v any) (any, error) {
	switch v := v.(type) {
	case nil, int64:
		return v, nil
	case float64:
		if v == float64(int64(v)) {
			return int64(v), nil
		}
		return nil, fmt.Errorf("want a whole number, got %v", v)
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want a whole number, got %q", v)
		}
		return n, nil
	}
	return nil, fmt.Errorf("want a whole number, got %T", v)
}

func toFloat(v any) (any, error) {
	switch v := v.(type) {
	case nil, float64:
		return v, nil
	case int64:
		return float64(v), nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("want a number, got %q", v)
		}
		return f, nil
	}
	return nil, fmt.Errorf("want a number, got %T", v)
}

// toText checks what PostgreSQL would refuse with a message naming neither row nor column:
// SQLite keeps any bytes in TEXT, PostgreSQL only valid UTF-8 without NUL.
func toText(v any) (any, error) {
	var s string
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = v
	case []byte:
		s = string(v)
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return nil, fmt.Errorf("want text, got %T", v)
	}
	if !utf8.ValidString(s) {
		return nil, errors.New("text is not valid UTF-8, which PostgreSQL refuses")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errors.New("text holds a NUL byte, which PostgreSQL refuses")
	}
	return s, nil
}
