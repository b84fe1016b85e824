package scoring

import (
	"slices"
	"strings"
	"time"
)

// GrantedWaiver is a waiver granted while ReleaseOps runs (an approved exemption request)
// rather than written in the config. It reaches Score through Input.Waivers, so scoring stays
// a function of its input: the same input with the same waivers gives the same card.
type GrantedWaiver struct {
	Signal   string
	Reason   string
	Author   string // who asked for it
	Approver string // who approved it
	// Ref names the request it came from (an exemption id), for the scorecard's reader.
	Ref     string
	Expires time.Time
}

// grantedFor returns in's granted waivers of a signal in the form the config's take.
func grantedFor(in Input, signal string) []compiledWaiver {
	var out []compiledWaiver
	for _, g := range in.Waivers {
		if g.Signal == signal {
			out = append(out, compiledWaiver{w: Waiver{Service: in.Service.Name, Signal: g.Signal, Reason: g.Reason, Author: g.Author},
				expires: g.Expires.UTC(), approver: g.Approver, ref: g.Ref})
		}
	}
	return out
}

// SignalIDs are the ids a waiver may name: every built-in signal and every custom rule that
// joins a dimension, sorted.
func (e *Engine) SignalIDs() []string {
	out := make([]string, 0, len(e.defs)+len(e.dimRules))
	for _, d := range e.defs {
		out = append(out, d.ID)
	}
	for _, r := range e.dimRules {
		out = append(out, r.id)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SignalName is the name of a signal a waiver may name, and false for any other id.
func (e *Engine) SignalName(id string) (string, bool) {
	for _, d := range e.defs {
		if d.ID == id {
			return d.Name, true
		}
	}
	for _, r := range e.dimRules {
		if r.id == id {
			if r.desc != "" {
				return r.desc, true
			}
			return r.id, true
		}
	}
	return "", false
}

// by names who granted a waiver: its author, and its approver when it has one.
func (w *compiledWaiver) by() string {
	if w.approver == "" {
		return w.w.Author
	}
	return w.w.Author + " (approved by " + w.approver + ")"
}

// ConfigWaiver is a waiver of scoring.waivers with its expiry parsed.
type ConfigWaiver struct {
	Waiver
	ExpiresAt time.Time
}

// ConfigWaivers returns the config's waivers, by service, signal and expiry.
func (e *Engine) ConfigWaivers() []ConfigWaiver {
	var out []ConfigWaiver
	for _, ws := range e.waivers {
		for _, w := range ws {
			out = append(out, ConfigWaiver{Waiver: w.w, ExpiresAt: w.expires})
		}
	}
	slices.SortFunc(out, func(a, b ConfigWaiver) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		if c := strings.Compare(a.Signal, b.Signal); c != 0 {
			return c
		}
		return a.ExpiresAt.Compare(b.ExpiresAt)
	})
	return out
}
