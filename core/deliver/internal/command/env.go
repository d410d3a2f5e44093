package command

import (
	"strings"

	"github.com/moonpost/moonpost/core/deliver/internal/addr"
)

// Vars are the facts a delivery command gets in its environment, named
// as Postfix local(8) exports them.
type Vars struct {
	QueueID           string
	Sender            string
	Recipient         addr.Parts // zero when a batch has several recipients
	OriginalRecipient string
	Home              string // "" leaves HOME unset
}

// Env builds a complete, minimal environment: nothing of the daemon's own
// environment leaks into the command. Values are addresses as given; the
// command must treat them as data, which is why they travel here and in
// argv, never in a shell command string.
func Env(v Vars) []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"SHELL=/bin/sh",
		"QUEUE_ID=" + v.QueueID,
		"SENDER=" + v.Sender,
	}
	if v.Recipient.Addr != "" {
		env = append(env,
			"RECIPIENT="+v.Recipient.Addr,
			"LOCAL="+v.Recipient.Local,
			"USER="+v.Recipient.User,
			"EXTENSION="+v.Recipient.Extension,
			"DOMAIN="+v.Recipient.Domain,
			"ORIGINAL_RECIPIENT="+v.OriginalRecipient,
		)
	}
	if v.Home != "" {
		env = append(env, "HOME="+v.Home)
	}
	for i, kv := range env {
		// exec refuses NUL in the environment; drop it rather than fail.
		env[i] = strings.ReplaceAll(kv, "\x00", "")
	}
	return env
}
