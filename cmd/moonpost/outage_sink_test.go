package main

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// smtpSink is a loopback SMTP server standing for a remote MX: while
// down it answers every RCPT with 451; up, it accepts and records each
// message by recipient.
type smtpSink struct {
	ln   net.Listener
	mu   sync.Mutex
	down bool
	got  map[string]int // messages received per recipient
}

func newOutageSink(t *testing.T) *smtpSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln, got: map[string]int{}}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s
}

func (s *smtpSink) port() string {
	return s.ln.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):]
}

func (s *smtpSink) setDown(d bool) { s.mu.Lock(); s.down = d; s.mu.Unlock() }

func (s *smtpSink) count(rcpt string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.got[rcpt] }

func (s *smtpSink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *smtpSink) session(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	say := func(line string) { c.Write([]byte(line + "\r\n")) }
	say("220 sink.test ESMTP")
	var rcpts []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "EHLO", "HELO":
			say("250 sink.test")
		case "MAIL":
			rcpts = nil
			say("250 2.1.0 ok")
		case "RCPT":
			s.mu.Lock()
			down := s.down
			s.mu.Unlock()
			if down {
				say("451 4.3.0 sink is down for maintenance")
				continue
			}
			rcpts = append(rcpts, strings.Trim(strings.TrimSpace(line[strings.Index(line, ":")+1:]), "<>"))
			say("250 2.1.5 ok")
		case "DATA":
			say("354 go on")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			for _, r := range rcpts {
				s.got[r]++
			}
			s.mu.Unlock()
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}
