package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// AuditChain says how far the audit log's hash chain is verified. The app implements it over
// gate.ChainCheck, which hashes a bounded number of entries per call; the pages keep no
// dependency on the gate itself.
type AuditChain interface {
	ChainStatus(ctx context.Context) (ChainStatus, error)
}

// ChainStatus is a look at the chain: see gate.ChainStatus.
type ChainStatus struct {
	VerifiedUpTo int64
	Last         int64
	FirstBad     int64
	Problem      string
	CheckedAt    time.Time
	SweptAt      time.Time
}

const (
	auditPage      = 50
	auditDetailMax = 300 // characters of an entry's detail shown inline
)

type auditRow struct {
	Seq        int64
	Anchor     string // the row's id, for links to a broken entry
	At         time.Time
	Kind       string
	Actor      string
	Service    string
	ApprovalID string
	Detail     string
	Cut        bool // the detail was shortened
	Bad        bool // the chain breaks at this entry
}

// chainView is the verification box above the log.
type chainView struct {
	Failed    bool // the check itself failed; the cause is in the log
	Empty     bool
	OK        bool
	Complete  bool // verified up to the newest entry
	Verified  string
	Last      string
	FirstBad  int64
	BadHref   string
	Problem   string
	CheckedAt time.Time
	SweptAt   time.Time
}

type auditView struct {
	page
	Chain   *chainView
	Rows    []auditRow
	Service string
	First   bool
	Next    string
	Newest  string
}

// auditQuery is ?before=<seq> (entries below it) and ?service=<name>.
func parseAuditQuery(c echo.Context) (before int64, service string, err error) {
	if b := c.QueryParam("before"); b != "" {
		before, err = strconv.ParseInt(b, 10, 64)
		if err != nil || before < 1 {
			return 0, "", fmt.Errorf("before must be an entry number (1 or more), not %q", b)
		}
	}
	return before, c.QueryParam("service"), nil
}

func auditHref(service string, before int64) string {
	v := url.Values{}
	if service != "" {
		v.Set("service", service)
	}
	if before > 0 {
		v.Set("before", strconv.FormatInt(before, 10))
	}
	if len(v) == 0 {
		return "/audit"
	}
	return "/audit?" + v.Encode()
}

func (h *handler) audit(c echo.Context) error {
	before, service, err := parseAuditQuery(c)
	if err != nil {
		return h.badRequest(c, err)
	}
	ctx, cancel := h.ctx(c)
	defer cancel()
	rows, err := h.d.Gate.ListAudit(ctx, service, before, auditPage+1)
	if err != nil {
		return h.serverError(c, "audit", err)
	}
	if len(rows) == 0 && before == 0 && service != "" {
		if _, ok := h.d.Catalog.Get(service); !ok {
			// A service no longer catalogued keeps its entries, so only a name with neither is
			// unknown; an empty page would read as "nothing happened to it".
			var links []link
			for _, n := range h.d.Catalog.Closest(service, 3) {
				links = append(links, link{Href: auditHref(n, 0), Label: "Audit log of " + n})
			}
			links = append(links, link{Href: "/audit", Label: "The whole audit log"})
			return h.notFound(c, "Unknown service", fmt.Sprintf("No audit entry concerns %q, and the catalog holds no service of that name.", service), nil, links...)
		}
	}
	v := auditView{page: page{Title: "Audit log", Nav: "audit"}, Service: service, First: before == 0, Newest: auditHref(service, 0)}
	if len(rows) > auditPage {
		rows = rows[:auditPage]
		v.Next = auditHref(service, rows[len(rows)-1].Seq)
	}
	if h.d.Chain != nil {
		v.Chain = h.chain(ctx, service)
	}
	for _, r := range rows {
		ar := auditRow{Seq: r.Seq, Anchor: "seq-" + strconv.FormatInt(r.Seq, 10), At: r.At, Kind: r.Kind, Actor: r.Actor, Service: r.Service,
			ApprovalID: r.ApprovalID}
		ar.Detail, ar.Cut = shorten(string(r.Detail), auditDetailMax)
		if v.Chain != nil && v.Chain.FirstBad == r.Seq {
			ar.Bad = true
		}
		v.Rows = append(v.Rows, ar)
	}
	return h.render(c, http.StatusOK, "audit", v)
}

// chain asks how far the chain is verified. Its failure does not take the log down with it:
// the box says the check failed, and the cause goes to the server log.
func (h *handler) chain(ctx context.Context, service string) *chainView {
	st, err := h.d.Chain.ChainStatus(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			h.d.Log.Error("audit page: chain status", "err", err)
		}
		return &chainView{Failed: true}
	}
	cv := &chainView{Empty: st.Last == 0 && st.FirstBad == 0, OK: st.FirstBad == 0, Complete: st.VerifiedUpTo >= st.Last,
		Verified: thousands(st.VerifiedUpTo), Last: thousands(st.Last), FirstBad: st.FirstBad, Problem: st.Problem,
		CheckedAt: st.CheckedAt, SweptAt: st.SweptAt}
	if st.FirstBad > 0 {
		// The broken entry is on the page of entries below FirstBad+1, across all services.
		cv.BadHref = auditHref("", st.FirstBad+1) + "#seq-" + strconv.FormatInt(st.FirstBad, 10)
	}
	return cv
}

// shorten cuts s to at most n runes, at a rune boundary.
func shorten(s string, n int) (string, bool) {
	r := []rune(s)
	if len(r) <= n {
		return s, false
	}
	return string(r[:n]) + "…", true
}

// thousands writes n with commas: 1,204.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return s
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
