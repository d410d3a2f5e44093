package smtpd

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession sends arbitrary bytes as a client's side of a dialogue to
// a live server: the command reader, the line guard, BDAT and the DATA
// reader all see them. The session must end without a panic (which the
// server would answer with 421 4.3.0 internal error) and the server must
// keep serving.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n",
		"HELO x\nMAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\nRCPT TO:<x@local.example> NOTIFY=SUCCESS ORCPT=rfc822;x@y\nDATA\n\n.\n",
		"EHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<x@local.example>\r\nBDAT 5 LAST\r\nhello",
		"EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@local.example>\r\nDATA\r\nhello\n.\nMAIL FROM:<e@x>\r\n.\r\n",
		"EHLO x\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nSTARTTLS\r\nVRFY root\r\nEXPN all\r\nRSET\r\nNOOP\r\n",
		"EHLO x\r\nMAIL FROM:<\"quoted\\\"@\"@b.example>\r\nRCPT TO:<@route:x@local.example>\r\n",
		strings.Repeat("A", 3000) + "\r\n",
		"HELO a\x00b\r\nEHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<PostMaster> NOTIFY=NEVER\r\nMAIL FROM:<b@c>\r\nDATA\r\n.\r\nBDAT\t3\r\n",
		"EHLO x\r\nSTARTTLS\r\n\x16\x03\x01\x00\x05hello",
		"HELO x\r\nMAIL FROM:<a@b.example> SIZE=1\r\nFROB\r\nFROB\r\nFROB\r\nFROB\r\nFROB\r\n",
	} {
		f.Add([]byte(s))
	}
	ts := startServer(f, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		c.MaxMessageBytes = 64 << 10
		c.IdleTimeout = 2 * time.Second
		c.TLSConfig = selfSigned(f) // STARTTLS then meets the fuzzer's bytes as a ClientHello
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", ts.smtp)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		go func() { c.Write(in); c.(*net.TCPConn).CloseWrite() }()
		out, _ := io.ReadAll(c)
		if bytes.Contains(out, []byte("internal error")) {
			t.Fatalf("session panicked; replies:\n%s", out)
		}
		c2, err := net.DialTimeout("tcp", ts.smtp, 5*time.Second)
		if err != nil {
			t.Fatalf("server stopped accepting: %v", err)
		}
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		if l, _ := bufio.NewReader(c2).ReadString('\n'); !strings.HasPrefix(l, "220 ") {
			t.Fatalf("after the session the banner is %q", l)
		}
		c2.Close()
	})
}
