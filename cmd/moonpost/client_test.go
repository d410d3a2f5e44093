package main

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// smtpConn is a raw SMTP dialogue for exact reply checks (e2e.Conn).
type smtpConn struct{ *e2e.Conn }

func dial(t *testing.T, addr string) *smtpConn { return &smtpConn{e2e.Dial(t, addr)} }

func (s *smtpConn) reply() (int, string)                { return s.Reply() }
func (s *smtpConn) send(raw string)                     { s.Raw(raw) }
func (s *smtpConn) cmd(line string) (int, string)       { return s.Cmd(line) }
func (s *smtpConn) expect(line string, code int) string { return s.Expect(line, code) }

// message runs one whole transaction, sending data exactly as given
// (bare LF and all), and returns the final reply.
func (s *smtpConn) message(from string, to []string, data string) (int, string) {
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
