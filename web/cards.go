package web

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/releaseops/releaseops/storage"
)

// card reads a service's stored scorecard JSON into into, which may be a *scoring.Scorecard
// or a smaller struct naming only the fields a page shows (the list needs the trend alone,
// and decoding every signal of every service for it would be waste).
func (h *handler) card(ctx context.Context, service string, into any) (storage.ScoreRow, error) {
	row, err := h.d.DB.GetScore(ctx, service)
	if err != nil {
		return row, err
	}
	if err := json.Unmarshal(row.Card, into); err != nil {
		return row, fmt.Errorf("decode scorecard of %s: %w", service, err)
	}
	return row, nil
}
