package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smtpConn is a raw SMTP dialogue for exact reply checks.
type smtpConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *smtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpConn{t: t, c: c, br: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if code, text := s.reply(); code != 220 {
		t.Fatalf("greeting %d %s", code, text)
	}
	return s
}

// reply reads one (possibly multi-line) reply.
func (s *smtpConn) reply() (int, string) {
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

func (s *smtpConn) send(raw string) {
	s.t.Helper()
	if _, err := s.c.Write([]byte(raw)); err != nil {
		s.t.Fatal(err)
	}
}

// cmd sends one command line and returns the reply.
func (s *smtpConn) cmd(line string) (int, string) {
	s.t.Helper()
	s.send(line + "\r\n")
	return s.reply()
}

// expect sends a command and checks the reply code.
func (s *smtpConn) expect(line string, code int) string {
	s.t.Helper()
	got, text := s.cmd(line)
	if got != code {
		s.t.Fatalf("%q: got %d %s, want %d", line, got, text, code)
	}
	return text
}

// message runs one whole transaction and returns the final reply.
func (s *smtpConn) message(from string, to []string, data string) (int, string) {
	s.t.Helper()
	s.expect("MAIL FROM:<"+from+">", 250)
	for _, r := range to {
		s.expect("RCPT TO:<"+r+">", 250)
	}
	s.expect("DATA", 354)
	s.send(data + "\r\n.\r\n")
	return s.reply()
}

// queuedID extracts the ID from "2.0.0 Ok: queued as ID".
func queuedID(text string) string {
	i := strings.LastIndex(text, " ")
	return text[i+1:]
}

// quietConn is an SMTP client for load: errors are returned, not fatal.
type quietConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialQuiet(addr string) (*quietConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	q := &quietConn{c: c, br: bufio.NewReader(c)}
	if code, _, err := q.reply(); err != nil || code != 220 {
		c.Close()
		return nil, fmt.Errorf("greeting %d: %v", code, err)
	}
	return q, nil
}

func (q *quietConn) Close() error { return q.c.Close() }

func (q *quietConn) reply() (int, string, error) {
	q.c.SetDeadline(time.Now().Add(30 * time.Second))
	var text []string
	for {
		line, err := q.br.ReadString('\n')
		if err != nil {
			return 0, "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			return 0, "", fmt.Errorf("short reply %q", line)
		}
		text = append(text, line[4:])
		if line[3] == ' ' {
			code, _ := strconv.Atoi(line[:3])
			return code, strings.Join(text, "\n"), nil
		}
	}
}

func (q *quietConn) cmd(line string) (int, error) {
	if _, err := q.c.Write([]byte(line + "\r\n")); err != nil {
		return 0, err
	}
	code, _, err := q.reply()
	if err == nil && code >= 400 {
		err = fmt.Errorf("%q: %d", line, code)
	}
	return code, err
}

func (q *quietConn) data(body string) (int, string, error) {
	if _, err := q.c.Write([]byte(body + "\r\n.\r\n")); err != nil {
		return 0, "", err
	}
	return q.reply()
}
