package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseCommand feeds arbitrary text to the /readiness parser. It must not panic, must
// return a known kind, and what it extracts must be consistent with the text.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"", "help", "checkout", "Checkout production", "why checkout rollback", "why checkout Branch governance",
		"worst", "worst 10", "why", "why checkout", "a b c", "  \t checkout\n", "<!channel> *bold* `x`",
		"checkout'; DROP TABLE scores;--", "сервис", "\u200bcheckout", "why x \xff\xfe",
		"risk checkout", "risk checkout v1.2.3", "risk", "window checkout", "window", "window a b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c := ParseCommand(text)
		switch c.Kind {
		case CmdHelp, CmdWorst:
		case CmdUsage:
			if c.Problem == "" {
				t.Fatalf("%q: usage without a problem", text)
			}
		case CmdScorecard, CmdWhy, CmdRisk, CmdWindow:
			if c.Service == "" || strings.ContainsFunc(c.Service, fuzzIsSpace) {
				t.Fatalf("%q: service %q is empty or has spaces", text, c.Service)
			}
			if utf8.ValidString(text) && c.Service != strings.ToLower(c.Service) {
				t.Fatalf("%q: service %q is not lower case", text, c.Service)
			}
			if c.Kind == CmdWhy && strings.TrimSpace(c.Dimension) == "" {
				t.Fatalf("%q: why without a dimension", text)
			}
			if c.Version != "" && (c.Kind != CmdRisk || strings.ContainsFunc(c.Version, fuzzIsSpace)) {
				t.Fatalf("%q: version %q outside risk, or with spaces", text, c.Version)
			}
		default:
			t.Fatalf("%q: unknown kind %d", text, c.Kind)
		}
		if id, ok := ResolveDimension(c.Dimension); ok && id == "" {
			t.Fatalf("%q: resolved to an empty dimension id", c.Dimension)
		}
	})
}

func fuzzIsSpace(r rune) bool { return strings.TrimSpace(string(r)) == "" }
