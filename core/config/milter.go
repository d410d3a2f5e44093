package config

import (
	"fmt"
	"slices"

	"github.com/moonpost/moonpost/core/milter"
)

// Milter is one [[milter]] table: a content filter speaking the milter
// protocol (rspamd, OpenDKIM, clamav-milter), like an entry of Postfix's
// smtpd_milters / non_smtpd_milters.
type Milter struct {
	// name: for logs and the Lua "milter" event; required, unique.
	Name string `toml:"name"`
	// address: "inet:host:port" or "unix:/path"; required.
	Address string `toml:"address"`
	// applies_to: "smtpd" (mail from the network), "local" (sendmail and
	// the HTTP API). Default ["smtpd"].
	AppliesTo []string `toml:"applies_to"`
	// connect_timeout, command_timeout, message_timeout: dialling, each
	// reply, the whole conversation about one message. Defaults 30s, 30s,
	// 300s, as Postfix's milter_*_timeout.
	ConnectTimeout Duration `toml:"connect_timeout"`
	CommandTimeout Duration `toml:"command_timeout"`
	MessageTimeout Duration `toml:"message_timeout"`
	// macros: the macro names sent ("j", "{client_addr}", "i", ...);
	// default all that moonpost knows (docs/filtering.md).
	Macros []string `toml:"macros"`
	// default_action: "tempfail" (default), "accept" or "reject" when the
	// milter is down, slow or broken (Postfix's milter_default_action).
	DefaultAction string `toml:"default_action"`
}

// MilterConfigs converts the tables for milter.New.
func (c *Config) MilterConfigs() []milter.Config {
	var out []milter.Config
	for _, m := range c.Milters {
		def, _ := milter.ParseDefaultAction(m.DefaultAction) // validated
		applies := m.AppliesTo
		if applies == nil {
			applies = []string{"smtpd"}
		}
		out = append(out, milter.Config{
			Name: m.Name, Address: m.Address,
			Smtpd: slices.Contains(applies, "smtpd"), Local: slices.Contains(applies, "local"),
			ConnectTimeout: m.ConnectTimeout.D(), CommandTimeout: m.CommandTimeout.D(),
			MessageTimeout: m.MessageTimeout.D(), Macros: m.Macros, DefaultAction: def,
		})
	}
	return out
}

func (c *Config) validateMilters(p *problems) {
	seen := map[string]bool{}
	for i, m := range c.Milters {
		key := fmt.Sprintf("milter[%d]", i)
		switch {
		case m.Name == "":
			p.bad(key+".name", "is required")
		case seen[m.Name]:
			p.bad(key+".name", "%q is used twice", m.Name)
		}
		seen[m.Name] = true
		if _, _, err := milter.ParseAddress(m.Address); err != nil {
			p.bad(key+".address", "%v", err)
		}
		if _, err := milter.ParseDefaultAction(m.DefaultAction); err != nil {
			p.bad(key+".default_action", "%v", err)
		}
		for _, a := range m.AppliesTo {
			if a != "smtpd" && a != "local" {
				p.bad(key+".applies_to", "%q: want \"smtpd\" or \"local\"", a)
			}
		}
		for _, name := range m.Macros {
			if !milter.KnownMacro(name) {
				p.bad(key+".macros", "unknown macro %q", name)
			}
		}
		for _, d := range []Duration{m.ConnectTimeout, m.CommandTimeout, m.MessageTimeout} {
			if d < 0 {
				p.bad(key, "negative timeout")
			}
		}
	}
}
