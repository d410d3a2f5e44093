package e2e

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Conn is a raw SMTP dialogue, for exact reply checks.
type Conn struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

// Dial connects and reads the greeting.
func Dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := &Conn{t: t, c: c, br: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if code, text := s.Reply(); code != 220 {
		t.Fatalf("greeting %d %s", code, text)
	}
	return s
}

// Reply reads one (possibly multi-line) reply.
func (s *Conn) Reply() (int, string) {
	s.t.Helper()
	s.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var text []string
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading reply: %v (so far %q)", err, text)
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			s.t.Fatalf("short reply line %q", line)
		}
		text = append(text, line[4:])
		if line[3] == ' ' {
			code, _ := strconv.Atoi(line[:3])
			return code, strings.Join(text, "\n")
		}
	}
}

// Raw writes bytes as they are, for dialogues that must send what a
// well-behaved client would not.
func (s *Conn) Raw(b string) {
	s.t.Helper()
	if _, err := s.c.Write([]byte(b)); err != nil {
		s.t.Fatal(err)
	}
}

// Cmd sends one command line and returns the reply.
func (s *Conn) Cmd(line string) (int, string) {
	s.t.Helper()
	if _, err := s.c.Write([]byte(line + "\r\n")); err != nil {
		s.t.Fatal(err)
	}
	return s.Reply()
}

// Expect sends a command and fails the test unless the reply has code.
func (s *Conn) Expect(line string, code int) string {
	s.t.Helper()
	got, text := s.Cmd(line)
	if got != code {
		s.t.Fatalf("%q: got %d %s, want %d", line, got, text, code)
	}
	return text
}

// Data sends DATA, the message and the final dot; it returns the reply.
func (s *Conn) Data(msg string) (int, string) {
	s.t.Helper()
	s.Expect("DATA", 354)
	msg = strings.ReplaceAll(strings.ReplaceAll(msg, "\r\n", "\n"), "\n", "\r\n")
	if _, err := s.c.Write([]byte(msg + "\r\n.\r\n")); err != nil {
		s.t.Fatal(err)
	}
	return s.Reply()
}

// Send runs one whole transaction (after EHLO, which it sends once) and
// returns the final reply; every RCPT must be accepted.
func (s *Conn) Send(from string, to []string, msg string) (int, string) {
	s.t.Helper()
	s.Expect("MAIL FROM:<"+from+">", 250)
	for _, r := range to {
		s.Expect("RCPT TO:<"+r+">", 250)
	}
	return s.Data(msg)
}

// Mail opens a connection, says EHLO and sends one message; the final
// reply must be 250.
func Mail(t testing.TB, addr, from string, to []string, msg string) {
	t.Helper()
	c := Dial(t, addr)
	c.Expect("EHLO client.test", 250)
	if code, text := c.Send(from, to, msg); code != 250 {
		t.Fatalf("message from %s to %v: %d %s", from, to, code, text)
	}
	c.Cmd("QUIT")
}
