package smtpd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

// A second MAIL inside a transaction is refused and changes nothing:
// the first sender keeps its recipients.
func TestNestedMail(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<first@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.cmd("MAIL FROM:<second@b.example>").expect("503 5.5.1")
	cl.cmd("RCPT TO:<y@local.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: n\r\n\r\nx\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	envs, _ := ts.sub.calls()
	if len(envs) != 1 || envs[0].Sender != "first@b.example" || len(envs[0].Recipients) != 2 {
		t.Fatalf("envelopes %+v", envs)
	}
}

// ESMTP parameters need EHLO: after HELO they get 555 5.5.4.
func TestOptionsAfterHelo(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.smtp)
	cl.expect("220 ")
	cl.cmd("HELO client.example").expect("250 ")
	for _, opt := range []string{"SIZE=100", "BODY=8BITMIME", "SMTPUTF8", "RET=HDRS", "ENVID=x"} {
		cl.cmd("MAIL FROM:<a@b.example> " + opt).expect("555 5.5.4")
	}
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example> NOTIFY=SUCCESS").expect("555 5.5.4")
	cl.cmd("RCPT TO:<x@local.example> ORCPT=rfc822;x@local.example").expect("555 5.5.4")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")

	// The same parameters after EHLO are fine.
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("MAIL FROM:<a@b.example> SIZE=100 BODY=8BITMIME RET=HDRS").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example> NOTIFY=SUCCESS").expect("250 ")
}

// TestSMTPDCodes pins smtpd's own replies.
func TestSMTPDCodes(t *testing.T) {
	want := map[*dsn.Status]string{
		nestedMail: "503 5.5.1", optionAfterHelo: "555 5.5.4", badBase64: "501 5.5.2",
		nulInCommand: "500 5.5.2", tooManyErrors: "421 4.7.0", noStorage: "452 4.3.1",
	}
	for st, w := range want {
		if got := fmt.Sprintf("%d %s", st.Code, st.Enhanced); got != w {
			t.Errorf("%q = %s, want %s", st.Text, got, w)
		}
	}
}

// AUTH on the plain MX listener is "not enabled" (503 5.5.1), with or
// without TLS, as docs/smtpd.md says; never "STARTTLS first".
func TestAuthOnMXListener(t *testing.T) {
	ts := authServer(t)
	cl := dialReady(t, ts.smtp)
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("503 5.5.1")
	cl.startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("503 5.5.1")
}

// A SASL response that is not base64 is 501 5.5.2 (RFC 4954), as an
// initial response and as an answer to a challenge, under TLS.
func TestAuthBadBase64(t *testing.T) {
	ts := authServer(t)
	cl := dialReady(t, ts.subm).startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("AUTH PLAIN not*base64").expect("501 5.5.2")
	cl.cmd("AUTH LOGIN").expect("334 ")
	cl.cmd("%%%").expect("501 5.5.2")
	cl.cmd("AUTH LOGIN").expect("334 ")
	cl.cmd("*").expect("501 5.7.0")
	cl.cmd("AUTH").expect("501 5.5.4")
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00secret")).expect("235 ")
}

// A NUL byte in a command line is refused with 500 5.5.2 and the line is
// never echoed, in the clear and under TLS.
func TestNULInCommand(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t) })
	cl := dial(t, ts.smtp)
	cl.expect("220 ")
	for _, line := range []string{"HELO evil\x00name", "EHLO a\x00b", "FR\x00B"} {
		if r := cl.cmd(line).expect("500 5.5.2"); strings.ContainsRune(r, 0) || strings.Contains(r, "evil") {
			t.Errorf("%q echoed: %q", line, r)
		}
	}
	cl.cmd("EHLO client.example").expect("250 ")
	cl.startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("MAIL FROM:<a@b.example\x00>").expect("500 5.5.2")
	cl.cmd("NOOP\x00").expect("500 5.5.2")
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
}

// An over-long command line gets a readable 500 5.5.0, then the close,
// in the clear and under TLS (where the limit used to count ciphertext,
// so a 1 MB command line passed), also when the client sends all of its
// line before it reads.
func TestLineTooLongIsReadable(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t) })
	for _, tls := range []bool{false, true} {
		cl := dialReady(t, ts.smtp)
		if tls {
			cl.startTLS()
			cl.cmd("EHLO client.example").expect("250 ")
		}
		_, _ = cl.c.Write([]byte("NOOP " + strings.Repeat("x", 1<<20) + "\r\n"))
		cl.expect("500 5.5.0 Error: line too long")
		cl.expectClosed()
	}
}

// A large message over STARTTLS is queued whole: the command line limit
// used to count the ciphertext of the content and refuse it.
func TestLargeMessageUnderTLS(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t); c.MaxMessageBytes = 20 << 20 })
	cl := dialReady(t, ts.smtp).startTLS()
	_ = cl.c.SetDeadline(time.Now().Add(60 * time.Second))
	cl.cmd("EHLO client.example").expect("250 ")
	cl.startData("x@local.example")
	body := strings.Repeat(strings.Repeat("y", 76)+"\r\n", (5<<20)/78)
	go func() { _, _ = cl.c.Write([]byte("Subject: big\r\n\r\n" + body + ".\r\n")) }()
	cl.expect("250 2.0.0 Ok: queued")
	if _, content := ts.sub.calls(); len(content) != 1 || !strings.HasSuffix(content[0], body) {
		t.Fatalf("%d messages queued, or content changed", len(content))
	}
}

// RCPT TO:<postmaster> without a domain, any case, is accepted and goes
// to the postmaster of PostmasterDomain, in the clear and under TLS.
func TestBarePostmaster(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.PostmasterDomain = "local.example"
	})
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@remote.example>").expect("250 ")
	cl.cmd("RCPT TO:<Postmaster>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: pm\r\n\r\nx\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	cl.startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("MAIL FROM:<a@remote.example>").expect("250 ")
	cl.cmd("RCPT TO: <POSTMASTER>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: pm\r\n\r\nx\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	envs, _ := ts.sub.calls()
	if len(envs) != 2 {
		t.Fatalf("%d messages", len(envs))
	}
	for _, e := range envs {
		if len(e.Recipients) != 1 || e.Recipients[0].Addr != "postmaster@local.example" {
			t.Errorf("recipients %+v", e.Recipients)
		}
	}
}

// STARTTLS is ours: offered until used, what the client pipelined after
// it is dropped, and the client must greet again before MAIL.
func TestStartTLSByConn(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t) })
	cl := dialReady(t, ts.smtp)
	if ehlo := cl.cmd("EHLO client.example").expect("250 "); !strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("EHLO lacks STARTTLS:\n%s", ehlo)
	}
	cl.cmd("STARTTLS now").expect("501 5.5.4")
	cl.send("STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n").expect("220 ")
	cl.wrapTLS()
	cl.cmd("MAIL FROM:<a@b.example>").expect("503 5.5.1")
	if ehlo := cl.cmd("EHLO client.example").expect("250 "); strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("STARTTLS offered under TLS:\n%s", ehlo)
	}
	cl.cmd("STARTTLS").expect("554 5.5.1")
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: t\r\n\r\nx\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	envs, _ := ts.sub.calls()
	if len(envs) != 1 || envs[0].Sender != "a@b.example" || envs[0].Client.Proto != "ESMTPS" {
		t.Fatalf("envelopes %+v", envs)
	}
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "bytes sent after STARTTLS") })
}

// heloPolicy refuses the HELO name refused.example and records what it saw.
type heloPolicy struct {
	AllowAll
	seen chan *policy.Session
}

func (p *heloPolicy) Helo(_ context.Context, s *policy.Session, name string) (*dsn.Status, error) {
	p.seen <- s
	if name == "refused.example" {
		return dsn.New(550, "5.7.1", "go away"), nil
	}
	return nil, nil
}

// The greeting after STARTTLS is checked like the first one, with TLS
// set, and its rejection answers MAIL and AUTH.
func TestGreetingAfterStartTLS(t *testing.T) {
	p := &heloPolicy{seen: make(chan *policy.Session, 10)}
	ts := startServer(t, func(c *Config) { c.TLSConfig = selfSigned(t); c.Policy = p })
	cl := dialReady(t, ts.smtp)
	if s := <-p.seen; s.TLS || s.Helo != "client.example" {
		t.Errorf("first greeting: %+v", s)
	}
	cl.startTLS()
	cl.cmd("EHLO refused.example").expect("250 ")
	if s := <-p.seen; !s.TLS || s.Helo != "refused.example" {
		t.Errorf("greeting under TLS: %+v", s)
	}
	cl.cmd("MAIL FROM:<a@b.example>").expect("550 5.7.1")
	cl.cmd("RSET").expect("250 ")
	if len(p.seen) != 0 {
		t.Error("RSET taken for a greeting")
	}
}
