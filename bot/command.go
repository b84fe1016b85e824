package bot

import (
	"strings"

	"github.com/releaseops/releaseops/scoring"
)

// CommandKind is what a /readiness invocation asks for.
type CommandKind int

const (
	CmdHelp      CommandKind = iota // no argument, or help
	CmdScorecard                    // <service> [env]
	CmdWhy                          // why <service> <dimension>
	CmdWorst                        // worst
	CmdUsage                        // malformed: answer Problem and the usage
	CmdRisk                         // risk <service> [version]
	CmdWindow                       // window <service>
	CmdExempt                       // exempt <service> <signal> <days> <reason>
)

// Command is a parsed /readiness text. Parsing is pure; lookups happen later.
type Command struct {
	Kind      CommandKind
	Service   string
	Env       string
	Dimension string // as typed; ResolveDimension maps it to an id
	// Version is what CmdRisk deploys, as typed: versions are case-sensitive tags.
	Version string
	Problem string // for CmdUsage: what was wrong, unescaped
	// Exempt is what CmdExempt asks for.
	Exempt *ExemptArgs
}

// ParseCommand parses the text after /readiness.
func ParseCommand(text string) Command {
	args := strings.Fields(text)
	if len(args) == 0 {
		return Command{Kind: CmdHelp}
	}
	switch strings.ToLower(args[0]) {
	case "help", "-h", "--help", "?":
		if len(args) == 1 {
			return Command{Kind: CmdHelp}
		}
	case "worst":
		if len(args) == 1 {
			return Command{Kind: CmdWorst}
		}
		return Command{Kind: CmdUsage, Problem: "worst takes no argument"}
	case "why":
		switch len(args) {
		case 1:
			return Command{Kind: CmdUsage, Problem: "why needs a service and a dimension"}
		case 2:
			return Command{Kind: CmdUsage, Problem: "why needs a dimension after the service"}
		}
		return Command{Kind: CmdWhy, Service: strings.ToLower(args[1]), Dimension: strings.Join(args[2:], " ")}
	case "risk":
		switch len(args) {
		case 1:
			return Command{Kind: CmdUsage, Problem: "risk needs a service"}
		case 2, 3:
			c := Command{Kind: CmdRisk, Service: strings.ToLower(args[1])}
			if len(args) == 3 {
				c.Version = args[2]
			}
			return c
		}
		return Command{Kind: CmdUsage, Problem: "risk takes a service and at most a version"}
	case "exempt":
		return parseExempt(args)
	case "window":
		switch len(args) {
		case 1:
			return Command{Kind: CmdUsage, Problem: "window needs a service"}
		case 2:
			return Command{Kind: CmdWindow, Service: strings.ToLower(args[1])}
		}
		return Command{Kind: CmdUsage, Problem: "window takes one service"}
	}
	if len(args) > 2 {
		return Command{Kind: CmdUsage, Problem: "too many arguments"}
	}
	c := Command{Kind: CmdScorecard, Service: strings.ToLower(args[0])}
	if len(args) == 2 {
		c.Env = strings.ToLower(args[1])
	}
	return c
}

// ResolveDimension maps what a user typed to a dimension id: the id, the name, or an
// unambiguous prefix or word of either ("rollback", "drift", "Branch governance").
func ResolveDimension(typed string) (string, bool) {
	t := strings.ToLower(strings.Join(strings.Fields(strings.ReplaceAll(typed, "-", "_")), "_"))
	if t == "" {
		return "", false
	}
	var match []string
	for _, d := range scoring.Dimensions {
		name := strings.ToLower(strings.ReplaceAll(d.Name, " ", "_"))
		if t == d.ID || t == name {
			return d.ID, true
		}
		if strings.HasPrefix(d.ID, t) || strings.HasPrefix(name, t) || containsWord(d.ID, t) {
			match = append(match, d.ID)
		}
	}
	if len(match) == 1 {
		return match[0], true
	}
	return "", false
}

func containsWord(id, w string) bool {
	for _, part := range strings.Split(id, "_") {
		if strings.HasPrefix(part, w) {
			return true
		}
	}
	return false
}
