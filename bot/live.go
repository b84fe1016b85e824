package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/releaseops/releaseops"
)

// LiveOptions are what `releaseops check-config --live` asks of Slack: the bot token, the
// channels the catalog posts to, and which secrets are set.
type LiveOptions struct {
	BotToken      string
	APIURL        string // "" = https://slack.com/api/
	SigningSecret bool
	SocketMode    bool
	AppToken      bool
	Channels      []LiveChannel
	// Timeout bounds each call (default 10 s).
	Timeout   time.Duration
	Transport http.RoundTripper // nil: http.DefaultTransport
}

// LiveChannel is one place a channel is configured: a service's slack_channel or
// stakeholder_channel, or slack.default_channel for the services with neither.
type LiveChannel struct {
	Key      string   // "services[2].slack_channel"
	Channel  string   // "C0CHECKOUT", or a name "#checkout"
	Services []string // whose posts go there
}

// LiveResult and LiveProblem are the root package's: every source's check reports the same way.
type (
	LiveResult  = releaseops.LiveResult
	LiveProblem = releaseops.LiveProblem
)

// channelID is the shape of a conversation id; anything else is taken for a name.
var channelID = regexp.MustCompile(`^[CGD][A-Z0-9]{8,}$`)

// CheckLive calls auth.test and looks up each configured channel. It never fails as a
// whole: whatever goes wrong is a problem in the result.
func CheckLive(ctx context.Context, o LiveOptions) LiveResult {
	res := LiveResult{Visible: -1}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.APIURL == "" {
		o.APIURL = "https://slack.com/api/"
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	lc := &slackLive{o: o, res: &res,
		api: NewSlackClient(o.BotToken, o.APIURL, &http.Client{Transport: o.Transport, Timeout: o.Timeout})}
	if lc.auth(ctx) {
		lc.channels(ctx)
	}
	switch {
	case o.SigningSecret:
		res.Details = append(res.Details, "signing secret set")
	case o.SocketMode && o.AppToken:
		res.Details = append(res.Details, "Socket Mode (no signing secret needed)")
	default:
		res.Problem("slack.signing_secret", "not set: /readiness and the gate's Approve and Deny buttons answer 503; set it, or use slack.socket_mode with slack.app_token")
	}
	return res
}

type slackLive struct {
	o    LiveOptions
	res  *LiveResult
	api  *slack.Client
	bot  string // the bot's user name, for /invite
	down bool   // Slack could not be reached: no further calls
}

func (lc *slackLive) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, lc.o.Timeout)
}

// unreachable turns a failure to get any answer into a problem on slack.api_url, once.
func (lc *slackLive) unreachable(err error) bool {
	cause, ok := releaseops.NetworkFailure(err, lc.o.Timeout)
	if ok && !lc.down {
		lc.down = true
		lc.res.Problem("slack.api_url", "cannot reach the Slack Web API at %s: %s", lc.o.APIURL, cause)
	}
	return ok
}

func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func (lc *slackLive) auth(ctx context.Context) bool {
	c, cancel := lc.ctx(ctx)
	defer cancel()
	a, err := lc.api.AuthTestContext(c)
	if err != nil {
		switch code := slackCode(err); {
		case lc.unreachable(err):
		case code == "invalid_auth" || code == "not_authed" || code == "token_revoked" || code == "account_inactive":
			lc.res.Problem("slack.bot_token", "Slack refused the bot token (%s): reinstall the app and copy the xoxb- token again", code)
		default:
			lc.res.Problem("slack.bot_token", "auth.test: %v", err)
		}
		return false
	}
	lc.bot = a.User
	lc.res.Who = fmt.Sprintf("@%s (%s) in %s (%s)", a.User, a.UserID, a.Team, a.TeamID)
	if a.BotID == "" {
		lc.res.Problem("slack.bot_token", "the token is a user token, not a bot token (xoxb-): posts would appear as %s", a.User)
	}
	// Slack lists the token's scopes on every Web API answer; without the header there is
	// nothing to judge.
	if raw := a.Header.Get("X-OAuth-Scopes"); raw != "" {
		scopes := strings.Split(strings.ReplaceAll(raw, " ", ""), ",")
		if !slices.Contains(scopes, "chat:write") {
			lc.res.Problem("slack.bot_token", "the bot lacks the chat:write scope, so nothing can be posted: add it under OAuth & Permissions and reinstall the app")
		}
	}
	return true
}

type channelState struct {
	id, name           string
	member, archived   bool
	notFound, noAccess bool // noAccess: the token lacks the scopes to look
	failed             bool // the lookup failed and was reported already
}

func (lc *slackLive) channels(ctx context.Context) {
	if len(lc.o.Channels) == 0 {
		lc.res.Details = append(lc.res.Details, "no channel configured (services' slack_channel, slack.default_channel)")
		return
	}
	// Each channel is looked up once, however many services post there; the first place it
	// is configured names the problem, and the message names every service.
	type use struct {
		key      string
		services []string
	}
	var order []string
	uses := map[string]*use{}
	for _, c := range lc.o.Channels {
		ch := strings.TrimSpace(c.Channel)
		if ch == "" {
			continue
		}
		if !channelID.MatchString(ch) {
			ch = "#" + strings.ToLower(strings.TrimPrefix(ch, "#"))
		}
		u, ok := uses[ch]
		if !ok {
			u = &use{key: c.Key}
			uses[ch] = u
			order = append(order, ch)
		}
		for _, s := range c.Services {
			if !slices.Contains(u.services, s) {
				u.services = append(u.services, s)
			}
		}
	}
	var names map[string]channelState
	in := 0
	for _, ch := range order {
		if lc.down {
			return
		}
		u := uses[ch]
		var st channelState
		if channelID.MatchString(ch) {
			st = lc.byID(ctx, ch)
		} else {
			if names == nil {
				names = lc.byName(ctx)
			}
			st = names[strings.TrimPrefix(ch, "#")]
			switch {
			case names[""].failed:
				continue
			case names[""].noAccess:
				st.noAccess = true
			case st.id == "":
				st.notFound = true
			}
		}
		if lc.down {
			return
		}
		if st.failed {
			continue
		}
		label := ch
		if st.id != "" && st.name != "" {
			label = fmt.Sprintf("%s (#%s)", st.id, st.name)
		}
		whose := "posts of " + strings.Join(u.services, ", ")
		if len(u.services) == 0 {
			whose = "posts of services without a channel of their own"
		}
		switch {
		case st.noAccess:
			lc.res.Problem(u.key, "cannot check %s, where %s go: the bot token lacks channels:read (and groups:read for private channels); add the scopes, or name the channel by its id (C…)", ch, whose)
		case st.notFound:
			lc.res.Problem(u.key, "channel %s, where %s go, does not exist or is private without the bot; check it, or /invite @%s there", ch, whose, lc.bot)
		case st.archived:
			lc.res.Problem(u.key, "channel %s, where %s go, is archived: nothing can be posted there", label, whose)
		case !st.member:
			lc.res.Problem(u.key, "the bot is not in %s, where %s go; /invite @%s", label, whose, lc.bot)
		default:
			in++
		}
	}
	lc.res.Visible = in
	lc.res.Details = append(lc.res.Details, fmt.Sprintf("bot in %d of %d channel(s)", in, len(order)))
}

// byID asks conversations.info, which needs channels:read (groups:read for private
// channels). Bots installed with only the scopes docs/slack.md lists have channels:history
// instead, so conversations.history answers not_in_channel when they lack that.
func (lc *slackLive) byID(ctx context.Context, id string) channelState {
	c, cancel := lc.ctx(ctx)
	info, err := lc.api.GetConversationInfoContext(c, &slack.GetConversationInfoInput{ChannelID: id})
	cancel()
	switch code := slackCode(err); {
	case err == nil:
		return channelState{id: info.ID, name: info.Name, member: info.IsMember, archived: info.IsArchived}
	case lc.unreachable(err):
		return channelState{}
	case code == "channel_not_found":
		return channelState{id: id, notFound: true}
	case code != "missing_scope":
		lc.res.Problem("slack.bot_token", "conversations.info %s: %v", id, err)
		return channelState{id: id, failed: true}
	}
	c, cancel = lc.ctx(ctx)
	defer cancel()
	_, err = lc.api.GetConversationHistoryContext(c, &slack.GetConversationHistoryParameters{ChannelID: id, Limit: 1})
	switch code := slackCode(err); {
	case err == nil:
		return channelState{id: id, member: true}
	case lc.unreachable(err):
		return channelState{}
	case code == "not_in_channel":
		return channelState{id: id}
	case code == "channel_not_found":
		return channelState{id: id, notFound: true}
	case code == "missing_scope":
		return channelState{id: id, noAccess: true}
	default:
		lc.res.Problem("slack.bot_token", "conversations.history %s: %v", id, err)
		return channelState{id: id, failed: true}
	}
}

// maxListPages bounds the walk of conversations.list (1,000 channels a page) for channels
// named rather than given by id.
const maxListPages = 20

// byName lists the workspace's channels once, keyed by lower-case name; the key "" marks a
// token that may not list them, or a listing that failed.
func (lc *slackLive) byName(ctx context.Context) map[string]channelState {
	out := map[string]channelState{}
	cursor := ""
	for range maxListPages {
		c, cancel := lc.ctx(ctx)
		chans, next, err := lc.api.GetConversationsContext(c, &slack.GetConversationsParameters{
			Cursor: cursor, ExcludeArchived: false, Limit: 1000, Types: []string{"public_channel", "private_channel"}})
		cancel()
		if err != nil {
			switch {
			case lc.unreachable(err):
				out[""] = channelState{failed: true}
			case slackCode(err) == "missing_scope":
				out[""] = channelState{noAccess: true}
			default:
				out[""] = channelState{failed: true}
				lc.res.Problem("slack.bot_token", "conversations.list: %v", err)
			}
			return out
		}
		for _, ch := range chans {
			out[strings.ToLower(ch.Name)] = channelState{id: ch.ID, name: ch.Name, member: ch.IsMember, archived: ch.IsArchived}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return out
}
