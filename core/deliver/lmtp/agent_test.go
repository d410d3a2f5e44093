package lmtp

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
)

type content string

func (c content) Open() io.Reader { return strings.NewReader(string(c)) }
func (c content) Size() int64     { return int64(len(c)) }

const msg = "From: a@src.test\r\nSubject: hi\r\n\r\nbody\r\n.dot line\r\n"

// backend is a go-smtp LMTP peer with per-recipient replies after DATA.
type backend struct {
	mu       sync.Mutex
	rcptErr  map[string]*gosmtp.SMTPError // refused at RCPT
	afterDot map[string]*gosmtp.SMTPError // refused after DATA
	got      map[string]string            // delivered: rcpt → content
	mailOpts []gosmtp.MailOptions         // each MAIL's parameters
	rcptOpts []gosmtp.RcptOptions         // each accepted RCPT's parameters
	sessions []bool                       // one per session: was it over TLS
}

func (b *backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	b.mu.Lock()
	b.sessions = append(b.sessions, isTLS)
	b.mu.Unlock()
	return &sess{b: b}, nil
}

type sess struct {
	b     *backend
	rcpts []string
}

func (s *sess) Reset()               { s.rcpts = nil }
func (s *sess) Logout() error        { return nil }
func (s *sess) Data(io.Reader) error { panic("LMTP peer got plain DATA") }
func (s *sess) Mail(_ string, opts *gosmtp.MailOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.mailOpts = append(s.b.mailOpts, *opts)
	return nil
}
func (s *sess) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if err := s.b.rcptErr[to]; err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, to)
	s.b.rcptOpts = append(s.b.rcptOpts, *opts)
	return nil
}

func (s *sess) LMTPData(r io.Reader, status gosmtp.StatusCollector) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	for _, rc := range s.rcpts {
		if e := s.b.afterDot[rc]; e != nil {
			status.SetStatus(rc, e)
			continue
		}
		if s.b.got == nil {
			s.b.got = map[string]string{}
		}
		s.b.got[rc] = string(data)
		status.SetStatus(rc, nil)
	}
	return nil
}

func serve(t *testing.T, ln net.Listener, b *backend, tune ...func(*gosmtp.Server)) {
	srv := gosmtp.NewServer(b)
	srv.LMTP = true
	srv.Domain = "lmtp.test"
	for _, f := range tune {
		f(srv)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); ln.Close(); <-done }) // Serve may not have registered ln yet
}

func newAgent(t *testing.T) *Agent {
	a, err := New(Config{Lhlo: "client.test", ConnectTimeout: 2 * time.Second,
		CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func request(nexthop string, rcpts ...string) *deliver.Request {
	req := &deliver.Request{QueueID: "0123456789ABCDEF01", Sender: "a@src.test", Nexthop: nexthop, Content: content(msg)}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, deliver.Recipient{Addr: r})
	}
	return req
}

func want(t *testing.T, res []deliver.Result, i, code int, enh string) {
	t.Helper()
	if st := res[i].Status; st == nil || st.Code != code || st.Enhanced.String() != enh {
		t.Errorf("result %d = %v, want %d %s", i, st, code, enh)
	}
}

func TestMixedRepliesOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{
		rcptErr: map[string]*gosmtp.SMTPError{"nobody@x.test": {Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
		afterDot: map[string]*gosmtp.SMTPError{
			"full@x.test": {Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 2, 2}, Message: "over quota"},
			"spam@x.test": {Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 7, 1}, Message: "rejected by sieve"},
		},
	}
	serve(t, ln, b)
	res := newAgent(t).Deliver(context.Background(),
		request("unix:"+sock, "ok@x.test", "nobody@x.test", "full@x.test", "spam@x.test", "ok2@x.test"))
	want(t, res, 0, 250, "2.0.0")
	want(t, res, 1, 550, "5.1.1")
	want(t, res, 2, 452, "4.2.2")
	want(t, res, 3, 554, "5.7.1")
	want(t, res, 4, 250, "2.0.0")
	if res[0].Relay != "unix:"+sock {
		t.Errorf("relay = %q", res[0].Relay)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.got) != 2 || b.got["ok@x.test"] != msg {
		t.Errorf("delivered = %v", b.got)
	}
}

func TestDeliverOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{}
	serve(t, ln, b)
	for _, hop := range []string{"inet:" + ln.Addr().String(), "[127.0.0.1]:" + strings.Split(ln.Addr().String(), ":")[1]} {
		res := newAgent(t).Deliver(context.Background(), request(hop, "a@x.test"))
		want(t, res, 0, 250, "2.0.0")
	}
}

func TestConnectFailureDefers(t *testing.T) {
	res := newAgent(t).Deliver(context.Background(),
		request("unix:"+filepath.Join(t.TempDir(), "missing.sock"), "a@x.test", "b@x.test"))
	want(t, res, 0, 451, "4.4.1")
	want(t, res, 1, 451, "4.4.1")
	res = newAgent(t).Deliver(context.Background(), request("smtp.example", "a@x.test"))
	want(t, res, 0, 451, "4.3.5")
}

func TestSilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	t.Cleanup(func() {
		ln.Close()
		if c, ok := <-accepted; ok {
			c.Close()
		}
	})
	a, _ := New(Config{Lhlo: "c.test", CommandTimeout: 100 * time.Millisecond})
	start := time.Now()
	res := a.Deliver(context.Background(), request("inet:"+ln.Addr().String(), "a@x.test"))
	want(t, res, 0, 451, "4.4.2")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestParseNexthop(t *testing.T) {
	good := map[string]Nexthop{
		"unix:/run/dovecot/lmtp": {"unix", "/run/dovecot/lmtp"},
		"inet:127.0.0.1:24":      {"tcp", "127.0.0.1:24"},
		"inet:mail.example:2003": {"tcp", "mail.example:2003"},
		"[mail.example]:24":      {"tcp", "mail.example:24"},
		"inet:[2001:db8::1]:24":  {"tcp", "[2001:db8::1]:24"},
		"[ipv6:2001:db8::1]:24":  {"tcp", "[2001:db8::1]:24"},
	}
	for in, want := range good {
		if got, err := ParseNexthop(in); err != nil || got != want {
			t.Errorf("ParseNexthop(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "unix:", "inet:", "inet:host", "inet:host:0", "inet:host:99999",
		"[host]", "host:24", "inet:ho st:24", "inet:host:+24", "tcp:host:24"} {
		if got, err := ParseNexthop(in); err == nil {
			t.Errorf("ParseNexthop(%q) = %+v, want error", in, got)
		}
	}
}

func FuzzParseNexthop(f *testing.F) {
	for _, s := range []string{"unix:/x", "inet:h:24", "[h]:24", "inet:[::1]:24", "[ipv6:::1]:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNexthop(s)
		if err != nil {
			return
		}
		if n.Network != "unix" && n.Network != "tcp" || n.Addr == "" {
			t.Fatalf("ParseNexthop(%q) = %+v", s, n)
		}
		if n.Network == "tcp" {
			if _, _, err := net.SplitHostPort(n.Addr); err != nil {
				t.Fatalf("ParseNexthop(%q) gave unusable %q", s, n.Addr)
			}
		}
	})
}

// TestOptionsDefer: lmtp takes no transport option; a route that sets
// one is deferred (4.3.5) rather than delivered as if it had none.
func TestOptionsDefer(t *testing.T) {
	req := request("inet:127.0.0.1:1", "a@x")
	req.Options = map[string]string{"size_limit": "10"}
	want(t, newAgent(t).Deliver(context.Background(), req), 0, 451, "4.3.5")
}
