package milter

import (
	"context"
	"io"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	gomilter "github.com/emersion/go-milter"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/queue"
)

// fakeMilter is a milter written with go-milter's server side; each
// field, when set, answers that phase.
type fakeMilter struct {
	gomilter.NoOpMilter
	t       *fakeServer
	connect gomilter.Response
	rcpt    gomilter.Response
	header  gomilter.Response
	eom     func(m *gomilter.Modifier) (gomilter.Response, error)
	headers textproto.MIMEHeader
	body    strings.Builder
	// connMacros are the macros as sent with connect.
	connMacros map[string]string
}

func (f *fakeMilter) Connect(_ string, _ string, _ uint16, _ net.IP, m *gomilter.Modifier) (gomilter.Response, error) {
	f.connMacros = map[string]string{}
	for k, v := range m.Macros {
		f.connMacros[k] = v
	}
	return orContinue(f.connect), nil
}

func (f *fakeMilter) RcptTo(string, *gomilter.Modifier) (gomilter.Response, error) {
	return orContinue(f.rcpt), nil
}

func (f *fakeMilter) Headers(h textproto.MIMEHeader, m *gomilter.Modifier) (gomilter.Response, error) {
	f.headers = h
	return orContinue(f.header), nil
}

func (f *fakeMilter) BodyChunk(b []byte, _ *gomilter.Modifier) (gomilter.Response, error) {
	f.body.Write(b)
	return gomilter.RespContinue, nil
}

func (f *fakeMilter) Body(m *gomilter.Modifier) (gomilter.Response, error) {
	f.t.record(f, m.Macros)
	if f.eom == nil {
		return gomilter.RespAccept, nil
	}
	return f.eom(m)
}

func orContinue(r gomilter.Response) gomilter.Response {
	if r == nil {
		return gomilter.RespContinue
	}
	return r
}

// fakeServer serves a fresh fakeMilter made by mk per connection and
// records what the last one saw at end of message.
type fakeServer struct {
	addr   string
	mu     sync.Mutex
	seen   *fakeMilter
	macros map[string]string
	n      int // messages that reached end of message
}

func (s *fakeServer) record(f *fakeMilter, macros map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen, s.n = f, s.n+1
	s.macros = map[string]string{}
	for k, v := range macros {
		s.macros[k] = v
	}
}

func (s *fakeServer) last() (*fakeMilter, map[string]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen, s.macros, s.n
}

func serve(t *testing.T, mk func() *fakeMilter) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{addr: "inet:" + ln.Addr().String()}
	srv := &gomilter.Server{
		NewMilter: func() gomilter.Milter { f := mk(); f.t = fs; return f },
		Actions:   v2Actions,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return fs
}

// rawServer accepts connections and hands each to fn, for milters that
// misbehave below the protocol.
func rawServer(t *testing.T, fn func(net.Conn, <-chan struct{})) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() { <-done; c.Close() }()
				fn(c, done)
			}()
		}
	}()
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	return "inet:" + ln.Addr().String()
}

// setup builds a cleanup over a fresh queue with the milters in front.
func setup(t *testing.T, cfgs ...Config) (*cleanup.Cleanup, *Filter) {
	t.Helper()
	s, err := queue.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range cfgs {
		if cfgs[i].Name == "" {
			cfgs[i].Name = "test"
		}
		if !cfgs[i].Local {
			cfgs[i].Smtpd = true
		}
		if cfgs[i].CommandTimeout == 0 {
			cfgs[i].CommandTimeout = 5 * time.Second
		}
		if cfgs[i].MessageTimeout == 0 {
			cfgs[i].MessageTimeout = 10 * time.Second
		}
	}
	f, err := New(cfgs, "mx.example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cleanup.Cleanup{Store: s, Hostname: "mx.example.com", SizeLimit: 1 << 20, Filter: f}, f
}

const testMessage = "Received: from client\r\nSubject: hello\r\nFrom: alice@example.org\r\nTo: bob@example.com\r\nX-Old: one\r\nX-Old: two\r\n\r\nbody line\r\n"

func smtpEnv(rcpts ...string) *queue.Envelope {
	e := &queue.Envelope{Sender: "alice@example.org",
		Client: queue.Client{Name: "client.example.org", Addr: "192.0.2.7", Helo: "client.example.org", Proto: "ESMTP"}}
	for _, r := range rcpts {
		e.Recipients = append(e.Recipients, queue.Recipient{Addr: r, State: queue.Pending})
	}
	return e
}

func submit(t *testing.T, c *cleanup.Cleanup, env *queue.Envelope) (queue.ID, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c.Submit(ctx, env, strings.NewReader(testMessage))
}

// stored reads a committed message back.
func stored(t *testing.T, c *cleanup.Cleanup, st queue.State, id queue.ID) (*queue.Envelope, string) {
	t.Helper()
	m, err := c.Store.Read(st, id)
	if err != nil {
		t.Fatalf("read %s/%s: %v", st, id, err)
	}
	defer m.Close()
	b, _ := io.ReadAll(m.Open())
	return &m.Envelope, string(b)
}

// count is how many messages are in state st.
func count(t *testing.T, c *cleanup.Cleanup, st queue.State) int {
	t.Helper()
	es, err := c.Store.List(st)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}
