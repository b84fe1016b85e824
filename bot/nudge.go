package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/releaseops/releaseops/initiative"
	"github.com/releaseops/releaseops/outbox"
	"github.com/releaseops/releaseops/storage"
)

// KindNudge is an initiative reminder to a team's channel. Its payload is a PostPayload, sent
// as a slack.post is (and found again after a crash the same way); its own kind lets the
// outbox list and count the nudges apart from the other posts.
const KindNudge = "slack.nudge"

// Nudge is one reminder: what one team still has to do for one initiative, for the services
// whose posts go to one channel.
type Nudge struct {
	Initiative string // id
	Name       string
	Target     string // in words
	Deadline   string
	DaysLeft   int
	Overdue    bool
	Owner      string
	// DaysBefore is the reminder's days_before entry; 0 for a weekly one.
	DaysBefore int
	Done       int // the team's services that meet the target
	Total      int // the team's services the target applies to
	Remaining  []initiative.Status
}

const nudgeServicesShown = 20

// NudgeMessage renders a nudge: the deadline, the team's progress, then each service still to
// do with its steps and the playbook to follow.
func NudgeMessage(n Nudge, publicURL string) Message {
	var b blocks
	team := n.Owner
	if team == "" {
		team = "services with no owner"
	}
	when := fmt.Sprintf("due %s (%s)", n.Deadline, daysLeft(n.DaysLeft))
	if n.Overdue {
		when = fmt.Sprintf("was due %s (overdue)", n.Deadline)
	}
	// The name stays out of the plain-text header: there it could not be escaped, and a
	// name posted through the API may carry anything.
	title := "🎯 Initiative reminder"
	if n.DaysBefore > 0 {
		title = "⏰ Initiative reminder: " + daysLeft(n.DaysBefore)
	}
	b.header(title)
	b.section(fmt.Sprintf("*%s*\n*%s* — target: %s, %s.\n%d of %d of your services meet it; %d to go.",
		Escape(n.Name), Escape(team), Escape(n.Target), when, n.Done, n.Total, len(n.Remaining)))
	for i, s := range n.Remaining {
		if i == nudgeServicesShown || b.room() < 3 {
			b.section(fmt.Sprintf("…and %d more: see the initiative page.", len(n.Remaining)-i))
			break
		}
		lines := []string{"*" + Link(serviceURL(publicURL, s.Service), s.Service) + "*"}
		for _, st := range s.Steps {
			line := fmt.Sprintf("• %s: %s", Escape(st.Name), Escape(st.Detail))
			if st.Playbook != "" {
				line += " · " + Link(st.Playbook, "playbook")
			}
			lines = append(lines, line)
		}
		b.section(strings.Join(lines, "\n"))
	}
	b.context(Link(strings.TrimSuffix(publicURL, "/")+"/initiatives/"+pathEscape(n.Initiative), "Initiative page"), "Only your team's remaining services are listed; the reminder stops when they all meet the target.")
	return b.message(fmt.Sprintf("%s: %d of your services still to do, %s", Escape(n.Name), len(n.Remaining), when))
}

func daysLeft(n int) string {
	switch {
	case n == 1:
		return "1 day left"
	case n <= 0:
		return "due today"
	}
	return fmt.Sprintf("%d days left", n)
}

// EnqueueNudge queues a nudge to channel inside the caller's transaction. key names the
// initiative, the reminder slot, the team and the channel, so a nudge is queued once per slot
// however many replicas or restarts reach it: inserted is false the second time.
func EnqueueNudge(t *storage.Tx, key, channel string, n Nudge, publicURL string, now time.Time) (bool, error) {
	p := PostPayload{Channel: channel, Message: NudgeMessage(n, publicURL)}
	if p.Channel == "" {
		return false, fmt.Errorf("queue %s: no channel", key)
	}
	if err := p.Message.Validate(); err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return false, fmt.Errorf("queue %s: %w", key, err)
	}
	return outbox.Enqueue(t, outbox.Message{Key: key, Kind: KindNudge, Target: channel, Payload: b}, now)
}

// RegisterNudgeSender gives the outbox the nudges' sender; without a bot token they are kept
// as disabled, like every other post.
func (b *Bot) RegisterNudgeSender(o *outbox.Outbox) {
	if b.d.API != nil {
		o.Register(KindNudge, &PostSender{API: b.d.API})
	}
}
