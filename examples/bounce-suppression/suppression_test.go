package suppression

import (
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

func TestMain(m *testing.M) { e2e.Main(m) }

// A recipient that bounces as unknown is refused at RCPT for the tenant
// whose mail bounced, and only for it; the site's own rule classifies
// a reply the shipped rules do not know.
func TestSuppressAfterInvalidRecipient(t *testing.T) {
	sink := e2e.NewSink(t, false)
	sink.Refuse(func(rcpt string) error {
		switch {
		case strings.HasPrefix(rcpt, "gone@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "The email account that you tried to reach does not exist."}
		case strings.HasPrefix(rcpt, "closed@"):
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 0, 0}, Message: "account closed by its owner"}
		case strings.HasPrefix(rcpt, "full@"):
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}
		}
		return nil
	})
	_, port, _ := net.SplitHostPort(sink.Addr)
	d := e2e.Setup(t, ".", "[127.0.0.1]:2626", "[127.0.0.1]:"+port)
	d.Start()
	e2e.Mail(t, d.Addr, "news@tenant-a.test", []string{"gone@remote.test", "closed@remote.test", "full@remote.test", "ok@remote.test"},
		"Subject: first\r\n\r\nhello\r\n")
	d.WaitLog("recipient suppressed", 2)
	logs := d.Logs()
	for _, want := range []string{"to=<gone@remote.test>", "to=<closed@remote.test>"} {
		if !strings.Contains(logs, want) || !strings.Contains(lineOf(logs, want), "class=invalid_recipient") {
			t.Errorf("%s: no bounce line with class=invalid_recipient:\n%s", want, logs)
		}
	}
	if l := lineOf(logs, "to=<full@remote.test>"); !strings.Contains(l, "class=mailbox_full") {
		t.Errorf("full mailbox line: %q", l)
	}

	c := e2e.Dial(t, d.Addr)
	c.Expect("EHLO client.test", 250)
	c.Expect("MAIL FROM:<news@tenant-a.test>", 250)
	for _, rcpt := range []string{"gone@remote.test", "Closed@Remote.test"} {
		if code, text := c.Cmd("RCPT TO:<" + rcpt + ">"); code != 550 || !strings.Contains(text, "suppressed") {
			t.Errorf("tenant a, %s: %d %s, want 550 suppressed", rcpt, code, text)
		}
	}
	c.Expect("RCPT TO:<full@remote.test>", 250) // a full mailbox is not a dead address
	c.Expect("RSET", 250)
	c.Expect("MAIL FROM:<shop@tenant-b.test>", 250)
	c.Expect("RCPT TO:<gone@remote.test>", 250) // another tenant's list
	c.Expect("QUIT", 221)
}

// lineOf is the first log line containing s.
func lineOf(logs, s string) string {
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
