package bot

import (
	"strings"
	"testing"
)

// hostile are strings an attacker controls (a PR title, a commit message, a service name
// from a repository) trying to ping everyone, fake a link or hide what they say.
var hostile = []string{
	"<!channel> deploy now",
	"<!here|here> <!everyone>",
	"<@U0ALICE> approve this",
	"<https://evil.example/phish|Open the dashboard>",
	"fix: a & b <script>",
	"bidi \u202egnp.exe\u202c",
	"null\x00byte and \x1b[31mansi",
	"&lt;!channel&gt; already escaped",
}

func TestEscapeLeavesNoMarkup(t *testing.T) {
	for _, s := range hostile {
		got := Escape(s)
		if strings.ContainsAny(got, "<>") {
			t.Errorf("Escape(%q) = %q: still has < or >", s, got)
		}
		for _, r := range got {
			if dropped(r) && r != '\n' && r != '\t' {
				t.Errorf("Escape(%q) kept %U", s, r)
			}
		}
		if strings.Contains(strings.ReplaceAll(got, "&amp;", ""), "&l") && !strings.Contains(got, "&lt;") {
			t.Errorf("Escape(%q) = %q: a bare & survived", s, got)
		}
	}
	if got := Escape("&lt;"); got != "&amp;lt;" {
		t.Errorf("an entity typed by a user must show as typed: got %q", got)
	}
}

func TestLink(t *testing.T) {
	cases := []struct{ url, label, want string }{
		{"https://github.com/acme/x/pull/1", "#1 Add <!channel>", "<https://github.com/acme/x/pull/1|#1 Add &lt;!channel&gt;>"},
		{"https://x.example/a?b=1&c=2", "q", "<https://x.example/a?b=1&amp;c=2|q>"},
		{"https://x.example/a|b>c", "l", "<https://x.example/a%7Cb%3Ec|l>"},
		{"javascript:alert(1)", "click", "click"},
		{"!channel", "everyone", "everyone"},
		{"", "plain <b>", "plain &lt;b&gt;"},
		{"https://x.example/", "a|b", "<https://x.example/|a¦b>"},
	}
	for _, c := range cases {
		if got := Link(c.url, c.label); got != c.want {
			t.Errorf("Link(%q, %q) = %q, want %q", c.url, c.label, got, c.want)
		}
	}
}

func TestTruncateNeverSplitsEntitiesOrLinks(t *testing.T) {
	s := strings.Repeat("a", 10) + "&amp;" + "<https://x.example/|x>" + strings.Repeat("é", 5)
	for n := 1; n <= len(s)+1; n++ {
		got := Truncate(s, n)
		if len(got) > n && n >= len("…") {
			t.Fatalf("Truncate(_, %d) is %d bytes", n, len(got))
		}
		if i := strings.LastIndexByte(got, '&'); i >= 0 && !strings.Contains(got[i:], ";") {
			t.Fatalf("Truncate(_, %d) = %q splits an entity", n, got)
		}
		if i := strings.LastIndexByte(got, '<'); i >= 0 && !strings.Contains(got[i:], ">") {
			t.Fatalf("Truncate(_, %d) = %q splits a link", n, got)
		}
		if !strings.HasSuffix(got, "…") && got != s && got != "" {
			t.Fatalf("Truncate(_, %d) = %q: no ellipsis", n, got)
		}
	}
}

func TestMention(t *testing.T) {
	if got := Mention("U0ALICE"); got != "<@U0ALICE>" {
		t.Errorf("Mention(U0ALICE) = %q", got)
	}
	if got := Mention("<!channel>"); got != "&lt;!channel&gt;" {
		t.Errorf("Mention(<!channel>) = %q", got)
	}
	if got := Mention("alice"); got != "alice" {
		t.Errorf("Mention(alice) = %q", got)
	}
}

func TestRedact(t *testing.T) {
	in := `Post "https://hooks.slack.com/commands/T1/123/secret": dial tcp: connection refused`
	if got := redact(in); strings.Contains(got, "hooks.slack.com") || strings.Contains(got, "secret") {
		t.Errorf("redact left the URL: %q", got)
	}
}
