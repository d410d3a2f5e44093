package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one message a sink accepted.
type Received struct {
	From string
	To   []string
	Data string
}

// Sink is an SMTP (or LMTP) server on a loopback port that keeps what
// it receives: the stand-in for a smarthost or a mailbox server.
type Sink struct {
	Addr string // host:port
	srv  *smtp.Server
	mu   sync.Mutex
	got  []Received
	// refuse answers RCPT TO when set (see Refuse).
	refuse func(rcpt string) error
}

// Refuse makes the sink answer RCPT TO with f's error (an
// *smtp.SMTPError) for the recipients f refuses; nil accepts.
func (s *Sink) Refuse(f func(rcpt string) error) {
	s.mu.Lock()
	s.refuse = f
	s.mu.Unlock()
}

// NewSink starts a sink; lmtp makes it speak LMTP. It stops at the end
// of the test.
func NewSink(t testing.TB, lmtp bool) *Sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{Addr: l.Addr().String()}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.LMTP = lmtp
	s.srv.AllowInsecureAuth = true
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Messages returns what the sink received so far.
func (s *Sink) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// Wait waits until the sink holds n messages.
func (s *Sink) Wait(t testing.TB, n int) []Received {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(s.Messages()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink %s: %d messages, want %d", s.Addr, len(s.Messages()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.Messages()
}

// NewSession implements smtp.Backend.
func (s *Sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct {
	s   *Sink
	cur Received
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.cur = Received{From: from}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	refuse := ss.s.refuse
	ss.s.mu.Unlock()
	if refuse != nil {
		if err := refuse(to); err != nil {
			return err
		}
	}
	ss.cur.To = append(ss.cur.To, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.Data = string(b)
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

// LMTPData gives each recipient its own status, as LMTP requires.
func (ss *sinkSession) LMTPData(r io.Reader, st smtp.StatusCollector) error {
	err := ss.Data(r)
	for _, to := range ss.cur.To {
		st.SetStatus(to, err)
	}
	return nil
}

func (ss *sinkSession) Reset()        { ss.cur = Received{} }
func (ss *sinkSession) Logout() error { return nil }
