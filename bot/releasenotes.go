package bot

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/releaseops/releaseops/scoring"
)

// Group is a section of release notes.
type Group string

const (
	GroupFeatures Group = "features"
	GroupFixes    Group = "fixes"
	GroupOther    Group = "other"
)

var groupOrder = []Group{GroupFeatures, GroupFixes, GroupOther}

var groupTitles = map[Group]string{GroupFeatures: "Features", GroupFixes: "Fixes", GroupOther: "Other changes"}

// ScoreBand is a composite with its band; Known is false when there was no score yet.
type ScoreBand struct {
	Score float64 `json:"score"`
	Band  string  `json:"band"`
	Known bool    `json:"known"`
}

// ReleaseNotes is everything a release-notes post says.
type ReleaseNotes struct {
	Service     string    `json:"service"`
	Environment string    `json:"environment"`
	DeployID    string    `json:"deploy_id"`
	Version     string    `json:"version,omitempty"`
	CommitSHA   string    `json:"commit_sha,omitempty"`
	PreviousSHA string    `json:"previous_sha,omitempty"`
	Repo        string    `json:"repo,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	RunURL      string    `json:"run_url,omitempty"`
	FinishedAt  time.Time `json:"finished_at"`
	Before      ScoreBand `json:"before"`
	After       ScoreBand `json:"after"`
	// CompareURL links the full list of commits (GitHub's compare page).
	CompareURL string `json:"compare_url,omitempty"`
	// Changes is nil when the notes are unavailable; Unavailable then says why.
	Changes     *Changes `json:"changes,omitempty"`
	Unavailable string   `json:"unavailable,omitempty"`
	// Deploys is how many production deploys the post covers when several finished before
	// the first could be announced (a burst); 0 or 1 means this one only.
	Deploys int `json:"deploys,omitempty"`
}

// Changes are the merged pull requests and the commits outside any of them between two
// production deploys.
type Changes struct {
	PullRequests []PullRequestNote `json:"pull_requests"`
	Commits      []CommitNote      `json:"commits"`
	// TotalCommits is the number of commits between the two deploys; Examined how many of
	// them were looked at (fewer on a long release).
	TotalCommits int `json:"total_commits"`
	Examined     int `json:"examined"`
	// CompareURL is GitHub's own link to the compare page, when it gave one.
	CompareURL string `json:"compare_url,omitempty"`
}

// PullRequestNote is a merged pull request of a release.
type PullRequestNote struct {
	Number int      `json:"number"`
	Title  string   `json:"title"`
	Author string   `json:"author,omitempty"`
	URL    string   `json:"url,omitempty"`
	Labels []string `json:"labels,omitempty"`
}

// CommitNote is a commit of a release that no merged pull request contains.
type CommitNote struct {
	SHA     string `json:"sha"`
	Message string `json:"message"`
	Author  string `json:"author,omitempty"`
	URL     string `json:"url,omitempty"`
}

var conventional = regexp.MustCompile(`^\s*([A-Za-z]+)(\([^)]*\))?!?:`)

// Classify puts a change in a group: by label first (feature, enhancement → features; bug,
// fix → fixes), then by the conventional-commit prefix of its title (feat: → features,
// fix: → fixes), else other.
func Classify(title string, labels []string) Group {
	for _, l := range labels {
		switch l = strings.ToLower(strings.TrimSpace(l)); {
		case l == "feature" || l == "enhancement" || l == "feat" || strings.HasPrefix(l, "type: feat") || strings.HasPrefix(l, "kind/feature"):
			return GroupFeatures
		case l == "bug" || l == "fix" || l == "bugfix" || l == "hotfix" || l == "regression" || strings.HasPrefix(l, "type: bug") || strings.HasPrefix(l, "kind/bug"):
			return GroupFixes
		}
	}
	if m := conventional.FindStringSubmatch(title); m != nil {
		switch strings.ToLower(m[1]) {
		case "feat", "feature":
			return GroupFeatures
		case "fix", "bugfix", "hotfix":
			return GroupFixes
		}
	}
	return GroupOther
}

// ReleaseNotesMessage renders the post for a production deploy.
func ReleaseNotesMessage(n *ReleaseNotes, publicURL string) Message {
	var b blocks
	what := n.Version
	if what == "" {
		what = short(n.CommitSHA)
	}
	if what == "" {
		what = n.DeployID
	}
	b.header(fmt.Sprintf("🚀 %s %s is in %s", n.Service, what, n.Environment))

	var facts []string
	if n.Actor != "" {
		facts = append(facts, "deployed by "+OneLine(n.Actor))
	}
	if !n.FinishedAt.IsZero() {
		facts = append(facts, n.FinishedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if n.CommitSHA != "" {
		c := "`" + Escape(short(n.CommitSHA)) + "`"
		if n.PreviousSHA != "" {
			c += " (previous `" + Escape(short(n.PreviousSHA)) + "`)"
		}
		facts = append(facts, c)
	}
	if l := Link(n.RunURL, "pipeline run"); n.RunURL != "" && l != Escape("pipeline run") {
		facts = append(facts, l)
	}
	if n.Deploys > 1 {
		facts = append(facts, fmt.Sprintf("covers %d production deploys", n.Deploys))
	}
	if len(facts) > 0 {
		b.section(strings.ToUpper(facts[0][:1]) + facts[0][1:] + joinPrefixed(" · ", facts[1:]))
	}
	b.section(scoreLine(n.Before, n.After))

	notesFallback := ""
	switch {
	case n.Changes == nil:
		text := "_Release notes unavailable: " + Escape(n.Unavailable) + "._"
		if n.CompareURL != "" {
			text += " " + Link(n.CompareURL, "See the changes on GitHub")
		}
		b.section(text)
		notesFallback = "release notes unavailable"
	default:
		notesFallback = renderChanges(&b, n)
	}
	b.context(Link(serviceURL(publicURL, n.Service), "Open in ReleaseOps"), fmt.Sprintf("`/readiness %s` for the scorecard", Escape(n.Service)))

	fallback := fmt.Sprintf("%s %s deployed to %s; readiness %s", Escape(n.Service), Escape(what), Escape(n.Environment), plainScore(n.After))
	if n.Before.Known && n.After.Known && n.Before.Band != n.After.Band {
		fallback += fmt.Sprintf(" (band %s → %s)", Escape(n.Before.Band), Escape(n.After.Band))
	}
	return b.message(fallback + "; " + notesFallback)
}

func renderChanges(b *blocks, n *ReleaseNotes) string {
	c := n.Changes
	lines := map[Group][]string{}
	for _, pr := range c.PullRequests {
		label := fmt.Sprintf("#%d %s", pr.Number, FirstLine(pr.Title))
		line := "• " + Link(pr.URL, label)
		if pr.URL == "" {
			line = "• " + OneLine(label)
		}
		if pr.Author != "" {
			line += " — " + OneLine(pr.Author)
		}
		g := Classify(pr.Title, pr.Labels)
		lines[g] = append(lines[g], line)
	}
	for _, cm := range c.Commits {
		sha := "`" + Escape(short(cm.SHA)) + "`"
		if l := Link(cm.URL, short(cm.SHA)); cm.URL != "" && l != Escape(short(cm.SHA)) {
			sha = l
		}
		line := "• " + sha + " " + OneLine(FirstLine(cm.Message))
		if cm.Author != "" {
			line += " — " + OneLine(cm.Author)
		}
		g := Classify(FirstLine(cm.Message), nil)
		lines[g] = append(lines[g], line)
	}
	summary := fmt.Sprintf("%d merged pull requests, %d other commits", len(c.PullRequests), len(c.Commits))
	if len(c.PullRequests) == 0 && len(c.Commits) == 0 {
		b.section("_No commits between the previous production deploy and this one (a redeploy)._")
		return "no new commits"
	}
	for _, g := range groupOrder {
		ls := lines[g]
		if len(ls) == 0 {
			continue
		}
		head := fmt.Sprintf("*%s* (%d)", groupTitles[g], len(ls))
		b.section(fitLines(head, ls, n.CompareURL))
	}
	if c.Examined < c.TotalCommits {
		more := fmt.Sprintf("_%d commits in all; the notes cover the first %d._", c.TotalCommits, c.Examined)
		if n.CompareURL != "" {
			more += " " + Link(n.CompareURL, "Full compare on GitHub")
		}
		b.context(more)
	} else if n.CompareURL != "" {
		b.context(Link(n.CompareURL, "Full compare on GitHub"))
	}
	return summary
}

// fitLines joins a heading and lines into one section's text, cutting whole lines so the
// text stays within Slack's limit and saying how many were left out, with a link to all.
func fitLines(head string, ls []string, compareURL string) string {
	const budget = maxSectionText - 200 // room for the "and N more" line
	text := head
	for i, l := range ls {
		if len(text)+1+len(l) > budget {
			more := fmt.Sprintf("\n…and %d more", len(ls)-i)
			if compareURL != "" {
				more += " in " + Link(compareURL, "the full compare")
			}
			return text + more
		}
		text += "\n" + l
	}
	return text
}

func scoreLine(before, after ScoreBand) string {
	if !after.Known {
		return "*Readiness after the deploy:* not scored yet"
	}
	s := fmt.Sprintf("*Readiness after the deploy:* %s %s (%s)", bandEmoji(after.Band), num1(after.Score), Escape(after.Band))
	if before.Known {
		d := after.Score - before.Score
		s += fmt.Sprintf(" · %s points", signed(roundTenth(d)))
		if before.Band != after.Band {
			dir := "⬆"
			if scoring.BandRank(after.Band) < scoring.BandRank(before.Band) {
				dir = "⬇"
			}
			s += fmt.Sprintf(" · band %s %s → %s", dir, Escape(before.Band), Escape(after.Band))
		}
	}
	return s
}

func plainScore(s ScoreBand) string {
	if !s.Known {
		return "not scored yet"
	}
	return num1(s.Score) + " (" + Escape(s.Band) + ")"
}

func roundTenth(v float64) float64 {
	if v < 0 {
		return -float64(int(-v*10+0.5)) / 10
	}
	return float64(int(v*10+0.5)) / 10
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

func joinPrefixed(sep string, parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	return sep + strings.Join(parts, sep)
}
