package bot

import (
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape makes a user-controlled string (a service name, a PR title, a commit message, a
// reason) inert in Slack mrkdwn: &, < and > become entities, so nobody can write
// <!channel>, <@U123> or <https://evil|a link>, and control characters are dropped. Slack's
// own rule is that these three characters are the only ones that must be escaped.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case dropped(r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// plain drops what Escape drops but keeps &, < and >: for plain_text objects, which Slack
// shows literally.
func plain(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune {
		if dropped(r) {
			return -1
		}
		return r
	}, s)
}

// OneLine escapes s and folds it onto one line: titles and first lines of commit messages.
func OneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return Escape(s)
}

// FirstLine is the first line of a commit message.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(s)
}

// Link renders an mrkdwn link to an http(s) URL with an escaped label. Any other URL (empty,
// javascript:, a Slack special like !channel) renders as the label alone.
func Link(rawURL, label string) string {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Escape(label)
	}
	// The URL goes inside <…|…>: '>' and '|' would end it early. Re-encode what url.URL
	// leaves raw, then escape & as Slack requires.
	s := u.String()
	s = strings.NewReplacer("|", "%7C", ">", "%3E", "<", "%3C", " ", "%20").Replace(s)
	s = strings.ReplaceAll(s, "&", "&amp;")
	if label == "" {
		return "<" + s + ">"
	}
	return "<" + s + "|" + strings.ReplaceAll(OneLine(label), "|", "¦") + ">"
}

// Truncate cuts an already escaped mrkdwn string to at most max bytes, on a line or rune
// boundary and never inside an entity or a <link>, and marks the cut with an ellipsis.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ell = "…"
	cut := max - len(ell)
	if cut <= 0 {
		return ""
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	head := s[:cut]
	// Never leave half an entity (&amp;) or half a link (<url|label>).
	if i := strings.LastIndexByte(head, '&'); i >= 0 && !strings.Contains(head[i:], ";") {
		head = head[:i]
	}
	if i := strings.LastIndexByte(head, '<'); i >= 0 && !strings.Contains(head[i:], ">") {
		head = head[:i]
	}
	return strings.TrimRight(head, " \n") + ell
}

// dropped reports the runes no message shows: invalid bytes, control characters, and the
// line-separator and bidi-override characters that would let a title disguise what it says.
func dropped(r rune) bool {
	switch r {
	case utf8.RuneError, '\u2028', '\u2029', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069':
		return true
	}
	return unicode.IsControl(r)
}

// pathEscape escapes one URL path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
