package scoring

import (
	"fmt"

	gojson "github.com/goccy/go-json"
)

// DecodeCard reads a stored scorecard. A card is tens of kilobytes of JSON and the gate decodes
// one per request: goccy/go-json reads it into the same value as encoding/json (a test in app
// checks it on replayed cards) in about a third of the time (BENCHMARKS.md, gate on PostgreSQL).
func DecodeCard(b []byte, into *Scorecard) error {
	if err := gojson.Unmarshal(b, into); err != nil {
		return fmt.Errorf("decode scorecard: %w", err)
	}
	return nil
}
