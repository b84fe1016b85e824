package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// badRequest shows what was wrong with the query; the message names only the user's input.
func (h *handler) badRequest(c echo.Context, err error) error {
	return h.render(c, http.StatusBadRequest, "error", errorPage{
		page:    page{Title: "Bad request"},
		Heading: "Bad request",
		Message: err.Error(),
		Links:   []link{{Href: "/", Label: "All services"}},
	})
}

// notFound is the 404 page; links offer the way back.
func (h *handler) notFound(c echo.Context, heading, message string, closest []string, links ...link) error {
	return h.render(c, http.StatusNotFound, "error", errorPage{
		page:    page{Title: heading},
		Heading: heading,
		Message: message,
		Closest: closest,
		Links:   links,
	})
}
