package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "moonpost.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultIsValid(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTPD.Listen[0] != "127.0.0.1:2525" || !filepath.IsAbs(c.SpoolDir) {
		t.Fatalf("defaults: %+v", c.SMTPD)
	}
	if c.Queue.MinBackoff.D() != 300*time.Second || c.Queue.MaxBackoff.D() != 4000*time.Second ||
		c.Queue.MaxLifetime.D() != 5*24*time.Hour {
		t.Fatalf("queue defaults: %+v", c.Queue)
	}
	if !c.IsLocal("LOCALHOST.") || c.Origin != c.Hostname || c.Postmaster != "postmaster@"+c.Hostname {
		t.Fatalf("derived defaults: %+v", c)
	}
}

func TestFileOverridesDefaults(t *testing.T) {
	c, err := Load(write(t, `
myhostname = "mx.example.com"
mydestination = ["example.com", "mx.example.com"]
mynetworks = ["10.0.0.0/8", "192.0.2.7"]
[queue]
max_lifetime = "2d"
min_backoff = "1m"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Origin != "mx.example.com" || !c.IsLocal("Example.COM") || c.IsLocal("other.com") {
		t.Fatalf("%+v", c)
	}
	if c.Queue.MaxLifetime.D() != 48*time.Hour || c.Queue.MinBackoff.D() != time.Minute {
		t.Fatalf("queue: %+v", c.Queue)
	}
	if n := c.Networks(); len(n) != 2 || n[1].Bits() != 32 {
		t.Fatalf("networks %v", n)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		`smtpd_listen = ["x"]`:                            "unknown key smtpd_listen",
		"[smtpd]\nlisten = [\"nohost\"]":                  "smtpd.listen[0]",
		"mynetworks = [\"10.0.0.0/33\"]":                  "mynetworks[0]",
		"[queue]\nmin_backoff = \"soon\"":                 "bad duration",
		"[queue]\nmin_backoff=\"1h\"\nmax_backoff=\"1m\"": "queue.max_backoff",
		"[smtp]\ntls = \"maybe\"":                         "smtp.tls",
		"[queue]\nin_flow_delay = \"1m\"":                 "queue.in_flow_delay",
		"[queue]\nsync = \"never\"":                       "queue.sync",
		"[smtpd]\nrecipient_limit = 0":                    "smtpd.recipient_limit",
		"[smtpd]\ntls_cert = \"/x\"":                      "tls_key go together",
		"log_level = \"loud\"":                            "log_level",
		"[local]\nmailbox = \"/var/mail/\"":               "local.mailbox",
		"[local]\nmailbox_dirs = [\"\"]":                  "local.mailbox_dirs[0]",
		"this is not toml":                                "moonpost.toml",
	}
	for body, want := range cases {
		_, err := Load(write(t, body))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want mention of %q", body, err, want)
		}
	}
}

// TestMailboxDirsAbsolute: the roots that confine route mailboxes are
// fixed at load time, not left to follow the working directory.
func TestMailboxDirsAbsolute(t *testing.T) {
	c, err := Load(write(t, "[local]\nmailbox_dirs = [\"mail\", \"/srv/mail\"]"))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if d := c.Local.MailboxDirs; len(d) != 2 || d[0] != filepath.Join(wd, "mail") || d[1] != "/srv/mail" {
		t.Errorf("mailbox_dirs = %v", d)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"300s": 300 * time.Second, "5d": 120 * time.Hour, "1w": 168 * time.Hour, "1h30m": 90 * time.Minute, "0.5d": 12 * time.Hour,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("%q = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1s", "5x", "d", "-2d"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The smtpd error and free-space knobs: Postfix's defaults, and bad
// values named by key.
func TestSMTPDErrorLimits(t *testing.T) {
	c, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	s := c.SMTPD
	if s.ErrorSleepTime.D() != time.Second || s.SoftErrorLimit != 10 || s.HardErrorLimit != 20 ||
		s.AuthFailureLimit != 3 || s.QueueMinFree != 0 {
		t.Errorf("defaults: %+v", s)
	}
	c, err = Load(write(t, "[smtpd]\nerror_sleep_time = \"0\"\nqueue_minfree = -1\nhard_error_limit = 5"))
	if err != nil || c.SMTPD.ErrorSleepTime != 0 || c.SMTPD.QueueMinFree != -1 || c.SMTPD.HardErrorLimit != 5 {
		t.Errorf("overrides: %+v, %v", c.SMTPD, err)
	}
	for body, want := range map[string]string{
		"[smtpd]\nhard_error_limit = 0":       "smtpd.hard_error_limit",
		"[smtpd]\nauth_failure_limit = -1":    "smtpd.auth_failure_limit",
		"[smtpd]\nerror_sleep_time = \"-1s\"": "smtpd.error_sleep_time",
	} {
		if _, err := Load(write(t, body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want mention of %q", body, err, want)
		}
	}
}
