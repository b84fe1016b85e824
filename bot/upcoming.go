package bot

import (
	"strings"

	"github.com/releaseops/releaseops/scoring"
)

// maxUpcoming keeps the scorecard short; the web page lists every upcoming rule.
const maxUpcoming = 5

// upcomingSection lists the rules that will count from their enforce_from date and fail
// today ("fails from 2027-01-15: …"), so a team sees them before they cost points.
func upcomingSection(b *blocks, card *scoring.Scorecard) {
	up := card.Upcoming()
	if len(up) == 0 {
		return
	}
	lines := []string{"*Upcoming* (not counted yet)"}
	for i, u := range up {
		if i == maxUpcoming {
			lines = append(lines, "• and "+plural(len(up)-i, "more", "more"))
			break
		}
		lines = append(lines, "• ⏳ "+Escape(u))
	}
	b.section(strings.Join(lines, "\n"))
}
