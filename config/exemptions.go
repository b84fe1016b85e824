package config

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultExemptionMaxDays is exemptions.max_days when the config leaves it out.
const DefaultExemptionMaxDays = 30

// Exemptions are the requests made in Slack with /readiness exempt: who may approve them,
// for how long at most, and where the approvers are asked. With no approvers the command
// answers that exemptions are not set up.
type Exemptions struct {
	// Approvers are the Slack user ids who may approve or deny any request.
	Approvers []string `yaml:"approvers"`
	// MaxDays is the longest exemption one may request (default 30).
	MaxDays int `yaml:"max_days"`
	// Channel is where requests are posted to the approvers; empty: slack.default_channel.
	Channel string `yaml:"channel"`
}

var slackUserIDPattern = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// ExemptionMaxDays is exemptions.max_days with its default.
func (c *Config) ExemptionMaxDays() int {
	if c.Exemptions.MaxDays == 0 {
		return DefaultExemptionMaxDays
	}
	return c.Exemptions.MaxDays
}

// ExemptionChannel is where requests are posted: exemptions.channel, else
// slack.default_channel.
func (c *Config) ExemptionChannel() string {
	if c.Exemptions.Channel != "" {
		return c.Exemptions.Channel
	}
	return c.Slack.DefaultChannel
}

// ExemptionsEnabled reports whether /readiness exempt takes requests.
func (c *Config) ExemptionsEnabled() bool { return len(c.Exemptions.Approvers) > 0 }

func (c *Config) validateExemptions(add func(path, format string, args ...any)) {
	e := c.Exemptions
	for i, a := range e.Approvers {
		if !slackUserIDPattern.MatchString(a) {
			add(fmt.Sprintf("exemptions.approvers[%d]", i), "want a Slack user id such as U024BE7LH, got %q", a)
		}
	}
	if e.MaxDays < 0 {
		add("exemptions.max_days", "must be at least 1 (the default is %d), got %d", DefaultExemptionMaxDays, e.MaxDays)
	}
	if e.MaxDays > 365 {
		add("exemptions.max_days", "at most 365 days, got %d: a longer exemption belongs in scoring.waivers, reviewed with the config", e.MaxDays)
	}
	if strings.TrimSpace(e.Channel) != e.Channel {
		add("exemptions.channel", "has leading or trailing spaces: %q", e.Channel)
	}
	if len(e.Approvers) > 0 && c.ExemptionChannel() == "" {
		add("exemptions.channel", "required when exemptions.approvers is set and slack.default_channel is empty: the approvers are asked there")
	}
}
