package smtpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// fakeSubmitter records what it is given and can be told to fail.
type fakeSubmitter struct {
	mu      sync.Mutex
	envs    []*queue.Envelope
	content []string
	err     error // returned after reading the message
	panics  bool
}

// SubmitSMTP runs the DATA check on the header as cleanup would, with
// no authentication results.
func (f *fakeSubmitter) SubmitSMTP(ctx context.Context, env *queue.Envelope, r io.Reader, check policy.DataCheck) (queue.ID, error) {
	b, rerr := io.ReadAll(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics {
		panic("fake submitter exploded")
	}
	if rerr != nil {
		return "", rerr
	}
	if check != nil {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(b)))
		if st := check(ctx, &h, nil); st != nil {
			return "", st
		}
	}
	if f.err != nil {
		return "", f.err
	}
	f.envs = append(f.envs, env)
	f.content = append(f.content, string(b))
	return env.ID, nil
}

func (f *fakeSubmitter) calls() ([]*queue.Envelope, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*queue.Envelope(nil), f.envs...), append([]string(nil), f.content...)
}

// testServer runs a Server on 127.0.0.1:0 with one "smtp" and one
// "submission" listener; it is shut down when the test ends.
type testServer struct {
	srv        *Server
	sub        *fakeSubmitter
	smtp, subm string // addresses
	logs       *syncBuffer
}

func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	local, _ := NewDomainSet("local.example")
	logs := &syncBuffer{}
	ts := &testServer{sub: &fakeSubmitter{}, logs: logs}
	cfg := Config{
		Hostname: "mx.local.example",
		Listeners: []Listener{
			{Name: "smtp", Addr: "127.0.0.1:0"},
			{Name: "submission", Addr: "127.0.0.1:0", Submission: true},
		},
		LocalDomains: local,
		Submitter:    ts.sub,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		IdleTimeout:  5 * time.Second,
		// No error pauses unless a test asks for them.
		ErrorSleepTime: -1,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ts.srv = srv
	addrs := srv.Addrs()
	ts.smtp = addrs[0].String()
	if len(addrs) > 1 {
		ts.subm = addrs[1].String()
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ts
}

// syncBuffer is a log sink tests can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// client is a raw SMTP dialogue over a socket.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// dialReady dials, checks the 220 banner and says EHLO.
func dialReady(t *testing.T, addr string) *client {
	t.Helper()
	cl := dial(t, addr)
	cl.expect("220 ")
	cl.cmd("EHLO client.example").expect("250 ")
	return cl
}

func (cl *client) send(s string) *client {
	cl.t.Helper()
	if _, err := io.WriteString(cl.c, s); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
	return cl
}

func (cl *client) cmd(line string) *client { return cl.send(line + "\r\n") }

// startData opens a transaction from a@b.example to rcpt, up to the 354.
func (cl *client) startData(rcpt string) {
	cl.t.Helper()
	cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<" + rcpt + ">").expect("250 ")
	cl.cmd("DATA").expect("354 ")
}

// reply reads one (possibly multi-line) reply and returns its lines.
func (cl *client) reply() []string {
	cl.t.Helper()
	var lines []string
	for {
		l, err := cl.br.ReadString('\n')
		if err != nil {
			cl.t.Fatalf("read reply: %v (so far %q)", err, lines)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if len(l) < 4 || l[3] != '-' {
			return lines
		}
	}
}

// expect reads a reply and checks its last line starts with prefix.
func (cl *client) expect(prefix string) string {
	cl.t.Helper()
	lines := cl.reply()
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, prefix) {
		cl.t.Fatalf("got %q, want prefix %q", lines, prefix)
	}
	return strings.Join(lines, "\n")
}

// expectClosed checks the server closed the connection.
func (cl *client) expectClosed() {
	cl.t.Helper()
	if l, err := cl.br.ReadString('\n'); err == nil {
		cl.t.Fatalf("connection still open, got %q", l)
	}
}

func selfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.local.example"},
		DNSNames:     []string{"mx.local.example"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// startTLS upgrades a raw dialogue after EHLO and says EHLO again.
func (cl *client) startTLS() *client {
	cl.t.Helper()
	cl.cmd("STARTTLS").expect("220 ")
	return cl.wrapTLS()
}

// wrapTLS starts a TLS client handshake on the connection.
func (cl *client) wrapTLS() *client {
	cl.t.Helper()
	tc := tls.Client(cl.c, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		cl.t.Fatal(err)
	}
	cl.c, cl.br = tc, bufio.NewReader(tc)
	return cl
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// staticAuth accepts one user.
type staticAuth struct {
	user, pass string
	err        error
}

func (a staticAuth) Authenticate(_ context.Context, user, pass string) (bool, error) {
	if a.err != nil {
		return false, a.err
	}
	return user == a.user && pass == a.pass, nil
}

var errBoom = errors.New("boom")
