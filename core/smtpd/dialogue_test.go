package smtpd

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/queue"
)

func TestEHLOAdvertises(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.smtp)
	if b := cl.expect("220 "); !strings.Contains(b, "mx.local.example") {
		t.Errorf("banner %q lacks hostname", b)
	}
	ehlo := cl.cmd("EHLO client.example").expect("250 ")
	for _, ext := range []string{"PIPELINING", "8BITMIME", "SIZE 10240000", "ENHANCEDSTATUSCODES", "SMTPUTF8", "DSN"} {
		if !strings.Contains(ehlo, ext) {
			t.Errorf("EHLO lacks %s:\n%s", ext, ehlo)
		}
	}
	for _, no := range []string{"AUTH", "STARTTLS"} {
		if strings.Contains(ehlo, no) {
			t.Errorf("EHLO offers %s without TLS config:\n%s", no, ehlo)
		}
	}
}

func TestPlainMessageQueued(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<sender@remote.example>").expect("250 2.0.0")
	cl.cmd("RCPT TO:<User@Local.Example.>").expect("250 2.0.0")
	cl.cmd("DATA").expect("354 ")
	cl.send("Subject: hi\r\n\r\nbody\r\n..dot\r\n.\r\n")
	r := cl.expect("250 2.0.0 Ok: queued as ")
	cl.cmd("QUIT").expect("221 ")

	envs, content := ts.sub.calls()
	if len(envs) != 1 {
		t.Fatalf("%d submits, want 1", len(envs))
	}
	env := envs[0]
	if !strings.HasSuffix(r, string(env.ID)) || !queue.Valid(string(env.ID)) {
		t.Errorf("reply %q, envelope ID %q", r, env.ID)
	}
	if env.Sender != "sender@remote.example" || env.Recipients[0].Addr != "User@local.example" {
		t.Errorf("envelope %+v", env)
	}
	if env.Recipients[0].State != queue.Pending || env.Client.Proto != "ESMTP" || env.Client.Helo != "client.example" || env.Client.Addr != "127.0.0.1" {
		t.Errorf("envelope %+v", env)
	}
	if !strings.HasSuffix(content[0], "Subject: hi\r\n\r\nbody\r\n.dot\r\n") {
		t.Errorf("content %q", content[0])
	}
	received := regexp.MustCompile(`^Received: from client\.example \(unknown \[127\.0\.0\.1\]\)\r\n` +
		`\tby mx\.local\.example \(moonpost\) with ESMTP id ` + string(env.ID) + `\r\n` +
		`\tfor <User@local\.example>; \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [-+]\d{4} \(\w+\)\r\nSubject: hi`)
	if !received.MatchString(content[0]) {
		t.Errorf("Received header malformed:\n%q", content[0])
	}
	cl.expectClosed()
	waitFor(t, func() bool { return strings.Contains(ts.logs.String(), "disconnect from") })
	for _, want := range []string{"connect from unknown[127.0.0.1]", string(env.ID) + ": client=unknown[127.0.0.1]",
		string(env.ID) + ": from=<sender@remote.example>, size=", "nrcpt=1", "disconnect from unknown[127.0.0.1] helo=1 mail=1 rcpt=1 data=1 commands=4"} {
		if !strings.Contains(ts.logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, ts.logs)
		}
	}
}

func TestPipelining(t *testing.T) {
	ts := startServer(t, nil)
	cl := dialReady(t, ts.smtp)
	cl.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<x@local.example>\r\nRCPT TO:<y@local.example>\r\nDATA\r\n")
	for _, want := range []string{"250 ", "250 ", "250 ", "354 "} {
		cl.expect(want)
	}
	cl.send("Subject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
	cl.expect("250 2.0.0 Ok: queued as")
	cl.expect("221 ")
	envs, content := ts.sub.calls()
	if len(envs) != 1 || len(envs[0].Recipients) != 2 {
		t.Fatalf("envelopes %+v", envs)
	}
	if strings.Contains(content[0], "\tfor <") {
		t.Errorf("Received names a recipient of a multi-recipient message:\n%s", content[0])
	}
}

func TestProtocolErrors(t *testing.T) {
	ts := startServer(t, nil)
	cases := []struct {
		name  string
		setup []string
		cmd   string
		want  string
	}{
		{"MAIL before HELO", nil, "MAIL FROM:<a@b.example>", "503 5.5.1"},
		{"RCPT before MAIL", []string{"EHLO x"}, "RCPT TO:<x@local.example>", "503 5.5.1"},
		{"DATA before RCPT", []string{"EHLO x", "MAIL FROM:<a@b.example>"}, "DATA", "503 5.5.1"},
		{"DATA before MAIL", []string{"EHLO x"}, "DATA", "503 5.5.1"},
		{"unknown command", []string{"EHLO x"}, "FROB me", "500 5.5.2"},
		{"short command", []string{"EHLO x"}, "XY", "500 5.5.2"},
		{"MAIL syntax", []string{"EHLO x"}, "MAIL FROM:a b", "501 5.1.7"},
		{"MAIL no colon", []string{"EHLO x"}, "MAIL <a@b.example>", "501 5.1.7"},
		{"bad sender domain", []string{"EHLO x"}, "MAIL FROM:<a@-bad-.example>", "501 5.1.7"},
		{"RCPT syntax", []string{"EHLO x", "MAIL FROM:<>"}, "RCPT TO:<>", "501 5.1.3"},
		{"RCPT empty domain", []string{"EHLO x", "MAIL FROM:<>"}, "RCPT TO:<a@local.example@>", "501 5.1.3"},
		{"RCPT literal junk", []string{"EHLO x", "MAIL FROM:<>"}, "RCPT TO:<a@[300.1.1.1]>", "501 5.1.3"},
		{"MAIL unknown param", []string{"EHLO x"}, "MAIL FROM:<a@b.example> FOO=1", "501 5.5.4"},
		{"HELO without name", nil, "HELO", "501 5.5.4"},
		{"AUTH on smtp port", []string{"EHLO x"}, "AUTH PLAIN AGZvbwBiYXI=", "503 5.5.1"}, // as docs/smtpd.md says
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := dial(t, ts.smtp)
			cl.expect("220 ")
			for _, s := range c.setup {
				cl.cmd(s).expect("2")
			}
			cl.cmd(c.cmd).expect(c.want)
		})
	}
}

func TestLineTooLong(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxLineLength = 100 })
	cl := dialReady(t, ts.smtp)
	cl.cmd("NOOP " + strings.Repeat("x", 200)).expect("500 5.5.0")
	cl.expectClosed()
}

func TestBareLFCommandsNormalised(t *testing.T) {
	ts := startServer(t, nil)
	cl := dial(t, ts.smtp)
	cl.expect("220 ")
	cl.send("EHLO x\nMAIL FROM:<a@b.example>\nRCPT TO:<x@local.example>\nDATA\n")
	for _, want := range []string{"250 ", "250 ", "250 ", "354 "} {
		cl.expect(want)
	}
	cl.send("hi\r\n.\r\n")
	cl.expect("250 2.0.0 Ok: queued")
}

func TestSizeLimits(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxMessageBytes = 1000 })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example> SIZE=1001").expect("552 5.3.4")
	cl.cmd("MAIL FROM:<a@b.example> SIZE=999").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.cmd("DATA").expect("354 ")
	cl.send(strings.Repeat("0123456789abcdefghi\r\n", 100) + ".\r\n")
	cl.expect("552 5.3.4")
	// The session goes on after the oversized message.
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	if envs, _ := ts.sub.calls(); len(envs) != 0 {
		t.Errorf("oversized message queued: %+v", envs)
	}
}

func TestTooManyRecipients(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxRecipients = 2 })
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	cl.cmd("RCPT TO:<y@local.example>").expect("250 ")
	cl.cmd("RCPT TO:<z@local.example>").expect("452 4.5.3")
}

func TestSubmitErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{dsn.DiskFull, "452 4.3.1"},
		{errBoom, "451 4.3.0"},
		{dsn.BadMessage, "554 5.6.0"},
	} {
		t.Run(fmt.Sprint(c.err), func(t *testing.T) {
			ts := startServer(t, nil)
			ts.sub.err = c.err
			cl := dialReady(t, ts.smtp)
			cl.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\n")
			cl.expect("250 ")
			cl.expect("250 ")
			cl.expect("354 ")
			cl.send("x\r\n.\r\n")
			if r := cl.expect(c.want); strings.Contains(r, "boom") {
				t.Errorf("internal detail leaked to the client: %q", r)
			}
		})
	}
}

func TestSubmitPanic(t *testing.T) {
	ts := startServer(t, nil)
	ts.sub.panics = true
	cl := dialReady(t, ts.smtp)
	cl.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\n")
	cl.expect("250 ")
	cl.expect("250 ")
	cl.expect("354 ")
	cl.send("x\r\n.\r\n")
	cl.expect("421 4.3.0")
	cl.expectClosed()

	ts.sub.mu.Lock()
	ts.sub.panics = false
	ts.sub.mu.Unlock()
	cl2 := dialReady(t, ts.smtp)
	cl2.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	if !strings.Contains(ts.logs.String(), "panic") {
		t.Errorf("panic not logged:\n%s", ts.logs)
	}
}
