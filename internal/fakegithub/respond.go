package fakegithub

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// call is one request inside a handler: its parameters and the credential it carried.
type call struct {
	s    *Server
	r    *http.Request
	cred *cred
}

func (c *call) param(name string) string { return c.r.PathValue(name) }

// handler renders an answer with s.mu held: the model cannot change half-way through one.
type handler func(c *call) reply

// handle registers a route; auth says which credential it takes (see auth.go).
func (s *Server) handle(pattern string, auth authKind, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		c := &call{s: s, r: r}
		var rep reply
		cr, fail := s.authenticate(r, auth)
		c.cred = cr
		switch {
		case fail != nil:
			rep = *fail
		default:
			if limited := s.limited(cr, r); limited != nil {
				rep = *limited
			} else if f := s.fault(r); f != nil {
				rep = *f
			} else {
				rep = h(c)
			}
		}
		s.mu.Unlock()
		s.answer(w, r, r.Pattern, rep, cr)
	})
}

// answer writes a reply: the headers GitHub sends on every answer, a strong ETag on a 200 to
// a GET, 304 when If-None-Match names it, and the request counted.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, route string, rep reply, cr *cred) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	if cr != nil && cr.scopes != nil {
		h.Set("X-OAuth-Scopes", strings.Join(cr.scopes, ", "))
		h.Set("X-Accepted-OAuth-Scopes", "repo")
	}
	inm := r.Header.Get("If-None-Match")
	status := rep.status
	if status == http.StatusOK && r.Method == http.MethodGet {
		sum := sha256.Sum256(rep.body)
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
		h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		if matches(inm, etag) {
			status = http.StatusNotModified
		}
	}
	if rep.link != "" && status == http.StatusOK {
		h.Set("Link", rep.link)
	}

	s.mu.Lock()
	if !rep.limited {
		// A rate-limit answer set its own headers; any other reports (and spends) the budget.
		s.spend(h, cr, status)
	}
	s.record(r, route, status, inm, cr, rep)
	s.mu.Unlock()

	if status == http.StatusNotModified {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(status)
	_, _ = w.Write(rep.body)
}

// matches is If-None-Match's weak comparison, which GitHub applies to GETs: W/ is ignored,
// and a list of tags or * may be sent.
func matches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// page cuts a list as GitHub paginates: per_page (default def, at most 100) and page, with a
// Link header naming the next, last, first and previous pages on the request's own URL.
func (c *call) page(items []any, def int) ([]any, string) {
	q := c.r.URL.Query()
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = def
	}
	per = min(per, 100)
	pg, _ := strconv.Atoi(q.Get("page"))
	pg = max(pg, 1)
	last := max(1, (len(items)+per-1)/per)
	lo := min((pg-1)*per, len(items))
	hi := min(lo+per, len(items))
	out := items[lo:hi]
	if out == nil {
		out = []any{}
	}
	link := func(p int, rel string) string {
		v := c.r.URL.Query()
		v.Set("page", strconv.Itoa(p))
		if v.Get("per_page") == "" {
			v.Set("per_page", strconv.Itoa(per))
		}
		return "<" + c.s.api() + c.r.URL.EscapedPath() + "?" + v.Encode() + `>; rel="` + rel + `"`
	}
	var parts []string
	if pg > 1 {
		parts = append(parts, link(pg-1, "prev"))
	}
	if pg < last {
		parts = append(parts, link(pg+1, "next"), link(last, "last"))
	}
	if pg > 1 {
		parts = append(parts, link(1, "first"))
	}
	return out, strings.Join(parts, ", ")
}

// list is a 200 with one page of items.
func (c *call) list(items []any, def int) reply {
	out, link := c.page(items, def)
	rep := c.s.jsonReply(http.StatusOK, out)
	rep.link = link
	return rep
}

// queryValues lists a comma-separated filter ("open,dismissed"); nil when absent.
func queryValues(q url.Values, name string) []string {
	v := q.Get(name)
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
