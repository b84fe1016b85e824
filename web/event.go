package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/releaseops/releaseops/storage"
)

type header struct {
	Name, Value string
}

type eventView struct {
	page
	Row      storage.DeliveryRow
	Received string // "3 days ago"
	Headers  []header
	Body     string // pretty-printed JSON, or the raw text of a form-encoded delivery
	BodySize int
}

// event shows one stored delivery as it arrived: the evidence behind a signal, one click
// from the service page. Credentials were dropped from the headers when it was stored.
func (h *handler) event(c echo.Context) error {
	source, id := param(c, "source"), param(c, "delivery")
	ctx, cancel := h.ctx(c)
	defer cancel()
	row, err := h.d.DB.GetDelivery(ctx, source, id)
	if errors.Is(err, storage.ErrNotFound) {
		return h.notFound(c, "Unknown delivery", fmt.Sprintf("No %q delivery has the id %q.", source, id), nil,
			link{Href: "/", Label: "All services"})
	}
	if err != nil {
		return h.serverError(c, "event", err)
	}
	v := eventView{page: page{Title: row.Source + " " + row.Type + " " + row.DeliveryID}, Row: row,
		Received: ago(h.d.Now(), row.ReceivedAt), BodySize: len(row.Body)}
	for k, val := range row.Headers {
		v.Headers = append(v.Headers, header{k, val})
	}
	slices.SortFunc(v.Headers, func(a, b header) int { return compareFold(a.Name, b.Name) })
	v.Body = prettyBody(row.Body)
	return h.render(c, http.StatusOK, "event", v)
}

// prettyBody indents a JSON body. GetDelivery hands a form-encoded delivery over as a JSON
// string; that is shown as its text, which is what was received.
func prettyBody(body json.RawMessage) string {
	var s string
	if json.Unmarshal(body, &s) == nil {
		return s
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		return string(body)
	}
	return buf.String()
}

func compareFold(a, b string) int {
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}
