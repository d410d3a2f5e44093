package config

import (
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/milter"
)

func TestMilterTables(t *testing.T) {
	c, err := Load(write(t, `
[[milter]]
name = "rspamd"
address = "inet:127.0.0.1:11332"
default_action = "accept"
message_timeout = "2m"

[[milter]]
name = "opendkim"
address = "unix:/run/opendkim/opendkim.sock"
applies_to = ["smtpd", "local"]
macros = ["i", "{auth_authen}"]
`))
	if err != nil {
		t.Fatal(err)
	}
	ms := c.MilterConfigs()
	if len(ms) != 2 || ms[0].Name != "rspamd" || ms[1].Name != "opendkim" {
		t.Fatalf("milters = %+v", ms)
	}
	if !ms[0].Smtpd || ms[0].Local || ms[0].DefaultAction != milter.Accept || ms[0].MessageTimeout != 2*time.Minute {
		t.Errorf("rspamd = %+v", ms[0])
	}
	if !ms[1].Smtpd || !ms[1].Local || ms[1].DefaultAction != milter.Tempfail || len(ms[1].Macros) != 2 {
		t.Errorf("opendkim = %+v", ms[1])
	}
}

func TestMilterTableErrors(t *testing.T) {
	_, err := Load(write(t, `
[[milter]]
name = "a"
address = "127.0.0.1:11332"
default_action = "continue"
applies_to = ["pickup"]
macros = ["{nope}"]

[[milter]]
name = "a"
address = "inet:127.0.0.1:1"
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"milter[0].address", "milter[0].default_action", "milter[0].applies_to",
		"milter[0].macros", "milter[1].name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
