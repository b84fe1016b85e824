package deploy

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// fieldNames are the members of a deploy event the schema reads (SPEC §3.3); any other member
// is ignored (the raw body keeps it).
var fieldNames = [...]string{"id", "service", "environment", "status", "kind", "version", "commit_sha", "previous_sha",
	"strategy", "phases", "health_checks", "feature_flags", "snapshot", "rto_seconds", "actor", "url", "started_at", "finished_at"}

var fieldIndex = func() map[string]int {
	m := make(map[string]int, len(fieldNames))
	for i, n := range fieldNames {
		m[n] = i
	}
	return m
}()

// members holds the raw value of each of fieldNames present in an event, nil when absent.
type members [len(fieldNames)]json.RawMessage

// get returns the raw value of a member named in fieldNames.
func (m *members) get(name string) json.RawMessage {
	i, ok := fieldIndex[name]
	if !ok {
		panic("deploy: " + name + " is not in fieldNames") // a schema field added in one place only
	}
	return m[i]
}

// splitObject returns the schema's members of the JSON object body as raw values that are
// sub-slices of body, not copies: a deploy event's change list alone is most of its 4 KB, and
// a map of json.RawMessage copied every value on every webhook. body must already be known to
// be valid JSON (it is checked with gojson.Valid first); ok is false when it is not an object.
// As with encoding/json, the last of duplicate keys wins and escaped keys are unescaped.
func splitObject(body []byte) (fields *members, ok bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	fields = new(members)
	i = skipSpace(body, i+1)
	if body[i] == '}' {
		return fields, true
	}
	for {
		end := skipString(body, i)
		raw := body[i+1 : end-1]
		idx, known := fieldIndex[string(raw)] // no allocation for the lookup
		if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
			var key string
			if err := json.Unmarshal(body[i:end], &key); err != nil {
				return nil, false
			}
			idx, known = fieldIndex[key]
		}
		i = skipSpace(body, skipSpace(body, end)+1) // past the colon
		vend := skipValue(body, i)
		if known {
			fields[idx] = body[i:vend:vend]
		}
		i = skipSpace(body, vend)
		if body[i] == '}' {
			return fields, true
		}
		i = skipSpace(body, i+1) // past the comma
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i] == '"'. It jumps from
// quote to quote (bytes.IndexByte is vectorised): a quote ends the string unless an odd number
// of backslashes precedes it.
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; ; {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		j += i
		k := j - 1
		for k >= start && b[k] == '\\' {
			k--
		}
		if (j-1-k)%2 == 0 {
			return j + 1
		}
		i = j + 1
	}
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number, true, false, null
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}
