package main

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// sinkMsg is one message a sink received.
type sinkMsg struct {
	From string
	To   []string
	Data string
	At   time.Time // when the final dot was answered
	Peer string    // the client's address, as the sink saw it
	Helo string    // the name the client greeted with
}

// sink is a receiving SMTP server on loopback. Recipients whose local
// part starts with "reject" get 550, "later" get 451, "full" 452 4.2.2.
type sink struct {
	mu   sync.Mutex
	msgs []sinkMsg
	addr string
	srv  *smtp.Server
}

func newSink(t *testing.T, host string) *sink {
	t.Helper()
	return newSinkOn(t, host+":0")
}

// newSinkOn is newSink on a given address ("127.0.0.4:2525").
func newSinkOn(t *testing.T, addr string) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s, c: c}, nil }))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = true
	srv.EnableDSN = true
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.srv = l.Addr().String(), srv
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) port() string { _, p, _ := net.SplitHostPort(s.addr); return p }

func (s *sink) received() []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMsg(nil), s.msgs...)
}

type sinkSession struct {
	s    *sink
	c    *smtp.Conn
	from string
	to   []string
}

func (x *sinkSession) Reset()        { x.from, x.to = "", nil }
func (x *sinkSession) Logout() error { return nil }
func (x *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "reject"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user here"}
	case strings.HasPrefix(to, "full"):
		return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "The recipient's inbox is out of storage space."}
	case strings.HasPrefix(to, "later"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := sinkMsg{From: x.from, To: x.to, Data: string(b), At: time.Now()}
	if x.c != nil {
		m.Peer, m.Helo = x.c.Conn().RemoteAddr().String(), x.c.Hostname()
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, m)
	x.s.mu.Unlock()
	return nil
}
