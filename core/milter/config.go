package milter

import (
	"fmt"
	"strings"
	"time"
)

// Config is one milter, as in a [[milter]] table.
type Config struct {
	Name    string // for logs and the Lua hook
	Address string // "inet:host:port" or "unix:/path"
	// Smtpd and Local say which mail the milter sees: mail from the
	// network, local submission (sendmail, HTTP API).
	Smtpd, Local   bool
	ConnectTimeout time.Duration // dialling; default 30s
	CommandTimeout time.Duration // each reply; default 30s
	MessageTimeout time.Duration // the whole conversation; default 300s
	// Macros are the macro names sent ("j", "{client_addr}", ...); nil
	// sends DefaultMacros.
	Macros []string
	// DefaultAction applies when the milter is down, slow or broken.
	DefaultAction DefaultAction
}

// DefaultAction is what a failed milter means for the message.
type DefaultAction int

const (
	Tempfail DefaultAction = iota // 451 4.7.1
	Accept                        // skip the milter
	Reject                        // 550 5.7.1
)

// ParseDefaultAction reads "tempfail" (also ""), "accept" or "reject".
func ParseDefaultAction(s string) (DefaultAction, error) {
	switch s {
	case "", "tempfail":
		return Tempfail, nil
	case "accept":
		return Accept, nil
	case "reject":
		return Reject, nil
	}
	return 0, fmt.Errorf("default_action %q: want tempfail, accept or reject", s)
}

func (a DefaultAction) String() string {
	return [...]string{"tempfail", "accept", "reject"}[a]
}

// ParseAddress splits "inet:host:port" or "unix:/path" into a network
// and an address for net.Dial. Postfix's "inet:port@host" is accepted too.
func ParseAddress(s string) (network, addr string, err error) {
	kind, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok || rest == "":
	case kind == "unix" || kind == "local":
		return "unix", rest, nil
	case kind == "inet" || kind == "inet6":
		if port, host, at := strings.Cut(rest, "@"); at {
			rest = host + ":" + port
			if strings.Contains(host, ":") {
				rest = "[" + host + "]:" + port
			}
		}
		return "tcp", rest, nil
	}
	return "", "", fmt.Errorf("milter address %q: want inet:host:port or unix:/path", s)
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.ConnectTimeout <= 0 {
		d.ConnectTimeout = 30 * time.Second
	}
	if d.CommandTimeout <= 0 {
		d.CommandTimeout = 30 * time.Second
	}
	if d.MessageTimeout <= 0 {
		d.MessageTimeout = 300 * time.Second
	}
	if d.Macros == nil {
		d.Macros = DefaultMacros
	}
	return d
}
