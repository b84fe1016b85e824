package bot

import (
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack"
)

// Slack's Block Kit limits (docs.slack.dev/reference/block-kit/blocks): a message holds at
// most 50 blocks; a section's text at most 3000 characters, each of its at most 10 fields
// 2000; a header 150; a context at most 10 elements.
const (
	maxBlocks      = 50
	maxSectionText = 3000
	maxFieldText   = 2000
	maxHeaderText  = 150
	maxContextElts = 10
	maxFallback    = 3000 // the notification text; Slack cuts longer ones in notifications anyway
)

// Message is a Slack message: Blocks for the client, Text for notifications and clients
// that cannot show blocks. Every user-controlled string in both is already escaped.
type Message struct {
	Text   string       `json:"text"`
	Blocks slack.Blocks `json:"blocks"`
}

// MarshalJSON writes blocks as an array, an empty one when there are none.
func (m Message) MarshalJSON() ([]byte, error) {
	blocks := m.Blocks.BlockSet
	if blocks == nil {
		blocks = []slack.Block{}
	}
	return json.Marshal(struct {
		Text   string        `json:"text"`
		Blocks []slack.Block `json:"blocks"`
	}{m.Text, blocks})
}

// Validate checks the message against Slack's limits, so a renderer bug fails a test rather
// than a post (Slack answers invalid_blocks and the message would be dead).
func (m Message) Validate() error {
	if len(m.Blocks.BlockSet) > maxBlocks {
		return fmt.Errorf("%d blocks, Slack allows %d", len(m.Blocks.BlockSet), maxBlocks)
	}
	if len(m.Text) > maxFallback {
		return fmt.Errorf("fallback text of %d bytes, over %d", len(m.Text), maxFallback)
	}
	for i, b := range m.Blocks.BlockSet {
		switch b := b.(type) {
		case *slack.HeaderBlock:
			if n := len([]rune(b.Text.Text)); n > maxHeaderText {
				return fmt.Errorf("block %d: header of %d characters, over %d", i, n, maxHeaderText)
			}
		case *slack.SectionBlock:
			if b.Text != nil && len([]rune(b.Text.Text)) > maxSectionText {
				return fmt.Errorf("block %d: section text of %d characters, over %d", i, len([]rune(b.Text.Text)), maxSectionText)
			}
			if len(b.Fields) > 10 {
				return fmt.Errorf("block %d: %d fields, over 10", i, len(b.Fields))
			}
			for _, f := range b.Fields {
				if len([]rune(f.Text)) > maxFieldText {
					return fmt.Errorf("block %d: field of %d characters, over %d", i, len([]rune(f.Text)), maxFieldText)
				}
			}
		case *slack.ContextBlock:
			if n := len(b.ContextElements.Elements); n > maxContextElts {
				return fmt.Errorf("block %d: context of %d elements, over %d", i, n, maxContextElts)
			}
		}
	}
	return nil
}

// blocks accumulates a message's blocks.
type blocks struct{ set []slack.Block }

// header adds a plain_text header. Plain text is shown literally (no links, no mentions),
// so it takes the raw string; only control characters are dropped.
func (b *blocks) header(text string) {
	b.set = append(b.set, slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clipRunes(plain(text), maxHeaderText), true, false)))
}

// section adds mrkdwn text (already escaped). verbatim stops Slack from turning bare URLs
// and #channel names in user text into links.
func (b *blocks) section(text string) {
	b.set = append(b.set, slack.NewSectionBlock(mrkdwn(Truncate(text, maxSectionText)), nil, nil))
}

func (b *blocks) fields(texts []string) {
	for len(texts) > 0 {
		n := min(len(texts), 10)
		fs := make([]*slack.TextBlockObject, n)
		for i := range n {
			fs[i] = mrkdwn(Truncate(texts[i], maxFieldText))
		}
		b.set = append(b.set, slack.NewSectionBlock(nil, fs, nil))
		texts = texts[n:]
	}
}

func (b *blocks) context(texts ...string) {
	var els []slack.MixedElement
	for _, t := range texts {
		if t != "" && len(els) < maxContextElts {
			els = append(els, mrkdwn(Truncate(t, maxSectionText)))
		}
	}
	if len(els) > 0 {
		b.set = append(b.set, slack.NewContextBlock("", els...))
	}
}

func (b *blocks) divider() { b.set = append(b.set, slack.NewDividerBlock()) }

func (b *blocks) add(bl slack.Block) { b.set = append(b.set, bl) }

func (b *blocks) room() int { return maxBlocks - len(b.set) }

func (b *blocks) message(fallback string) Message {
	return Message{Text: Truncate(fallback, maxFallback), Blocks: slack.Blocks{BlockSet: b.set}}
}

func mrkdwn(text string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, text, false, true)
}

func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
