package smtp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// content is an in-memory message.
type content string

func (c content) Open() io.Reader { return strings.NewReader(string(c)) }
func (c content) Size() int64     { return int64(len(c)) }

const msg = "From: a@src.test\r\nSubject: hi\r\n\r\nline one\r\n.leading dot\r\nend\r\n"

// received is one message as a go-smtp peer saw it.
type received struct {
	from     string
	mailOpts gosmtp.MailOptions
	rcpts    []string
	rcptOpts []gosmtp.RcptOptions
	data     string
	tls      bool
	peer     string // the client's address as the peer saw it
	helo     string // the client's EHLO name
}

// backend is a go-smtp peer that records mail and refuses on demand.
type backend struct {
	mu       sync.Mutex
	conns    int
	msgs     []received
	rcptErr  map[string]*gosmtp.SMTPError // by recipient address
	dataErr  *gosmtp.SMTPError
	lmtpErrs map[string]*gosmtp.SMTPError // LMTP: per-recipient replies after DATA
	// together, when set, holds each DATA until that many sessions are
	// in DATA at once (5 s at most), so concurrent deliveries hold
	// concurrent connections.
	together *barrier
}

// barrier lets n arrivals through at once; the ones after pass freely.
type barrier struct {
	mu      sync.Mutex
	n       int
	arrived int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

func (b *barrier) arrive() {
	b.mu.Lock()
	b.arrived++
	switch {
	case b.arrived == b.n:
		close(b.all)
	case b.arrived > b.n:
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(5 * time.Second):
	}
}

func (b *backend) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	_, isTLS := c.TLSConnectionState() // a new session starts after STARTTLS
	return &peerSession{b: b, cur: received{tls: isTLS, peer: c.Conn().RemoteAddr().String(), helo: c.Hostname()}}, nil
}

func (b *backend) snapshot() (int, []received) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conns, append([]received(nil), b.msgs...)
}

type peerSession struct {
	b   *backend
	cur received
}

func (s *peerSession) Reset() {
	s.cur = received{tls: s.cur.tls, peer: s.cur.peer, helo: s.cur.helo}
}
func (s *peerSession) Logout() error { return nil }

func (s *peerSession) Mail(from string, opts *gosmtp.MailOptions) error {
	s.cur.from, s.cur.mailOpts = from, *opts
	return nil
}

func (s *peerSession) Rcpt(to string, opts *gosmtp.RcptOptions) error {
	s.b.mu.Lock()
	err := s.b.rcptErr[to]
	s.b.mu.Unlock()
	if err != nil {
		return err
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	s.cur.rcptOpts = append(s.cur.rcptOpts, *opts)
	return nil
}

func (s *peerSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	together := s.b.together
	s.b.mu.Unlock()
	if together != nil {
		together.arrive()
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	s.cur.data = string(data)
	s.b.msgs = append(s.b.msgs, s.cur)
	return nil
}

// listen binds ip:port; port 0 picks one.
func listen(t *testing.T, ip string, port int) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("listen %s:%d: %v", ip, port, err)
	}
	return ln
}

// listenSamePort opens one listener on each address, all on one port.
// The port is chosen free on the first address; another process may
// hold it on a later one, so a few ports are tried.
func listenSamePort(t *testing.T, ips ...string) ([]net.Listener, int) {
	t.Helper()
	for try := 0; try < 20; try++ {
		first := listen(t, ips[0], 0)
		port := portOf(first)
		lns := []net.Listener{first}
		for _, ip := range ips[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(ips) {
			return lns, port
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no port free on all of %v after 20 tries", ips)
	return nil, 0
}

func portOf(ln net.Listener) int { return ln.Addr().(*net.TCPAddr).Port }

// serveGoSMTP runs a go-smtp peer on ln until the test ends.
func serveGoSMTP(t *testing.T, ln net.Listener, b *backend, tune func(*gosmtp.Server)) {
	srv := gosmtp.NewServer(b)
	srv.Domain = "peer.test"
	srv.AllowInsecureAuth = true
	if tune != nil {
		tune(srv)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(&countingListener{ln, b}) }()
	// Close the socket too: go-smtp's Close only closes listeners its
	// Serve registered, and Serve may not have got that far yet.
	t.Cleanup(func() { srv.Close(); ln.Close(); <-done })
}

// countingListener counts accepted connections in the backend.
type countingListener struct {
	net.Listener
	b *backend
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.b.mu.Lock()
		l.b.conns++
		l.b.mu.Unlock()
	}
	return c, err
}

// rawPeer is a scripted SMTP server for misbehaviour go-smtp's server
// will not produce.
type rawPeer struct {
	greeting string   // "" never greets
	caps     []string // EHLO keywords after the first line
	// reply answers a command ("MAIL FROM:<a>"); "" means the default.
	reply func(cmd string) string
	// afterDot answers the final dot ("" means 250); "close" hangs up.
	afterDot string
	// brokenTLS accepts STARTTLS, then answers the TLS ClientHello with
	// plain text and hangs up.
	brokenTLS bool
}

// serveRaw runs p on ln until the test ends (see servePeer).
func serveRaw(t *testing.T, ln net.Listener, p rawPeer) { servePeer(t, ln, p.serve) }

func (p rawPeer) serve(c net.Conn, r *bufio.Reader) {
	if p.greeting == "" {
		_, _ = io.Copy(io.Discard, r) // silent until the client gives up
		return
	}
	fmt.Fprintf(c, "%s\r\n", p.greeting)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		if p.brokenTLS && strings.EqualFold(cmd, "STARTTLS") {
			fmt.Fprintf(c, "220 2.0.0 go ahead\r\n")
			_, _ = r.ReadByte() // the ClientHello has started
			fmt.Fprintf(c, "500 this is not TLS\r\n")
			return
		}
		if out := p.answer(cmd, r); out != "" {
			if out == "close" {
				return
			}
			fmt.Fprintf(c, "%s\r\n", out)
		}
	}
}

func (p rawPeer) answer(cmd string, r *bufio.Reader) string {
	if p.reply != nil {
		if out := p.reply(cmd); out != "" {
			return out
		}
	}
	verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0])
	switch verb {
	case "EHLO":
		lines := append([]string{"peer.test"}, p.caps...)
		for i := range lines[:len(lines)-1] {
			lines[i] = "250-" + lines[i]
		}
		lines[len(lines)-1] = "250 " + lines[len(lines)-1]
		return strings.Join(lines, "\r\n")
	case "DATA":
		return "354 go ahead"
	case "QUIT":
		return "221 bye"
	case ".":
		if p.afterDot != "" {
			return p.afterDot
		}
		return "250 2.0.0 Ok: queued"
	}
	if strings.HasPrefix(cmd, ".") || !isCommand(verb) {
		return "" // message body
	}
	return "250 2.0.0 Ok"
}

func isCommand(v string) bool {
	switch v {
	case "MAIL", "RCPT", "RSET", "NOOP", "HELO", "STARTTLS":
		return true
	}
	return false
}

// env is one test's DNS server, agent and peers' common port.
type env struct {
	dns   *dnstest.Server
	port  int
	agent *Agent
	dials *dialCounter
}

// dialCounter wraps the dialer to count and keep client connections.
type dialCounter struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := net.Dialer{}
	if ip, ok := LocalAddr(ctx); ok {
		nd.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
	}
	c, err := nd.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *dialCounter) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

func newEnv(t *testing.T, port int, tune func(*Config), zone ...string) *env {
	t.Helper()
	e := &env{dns: dnstest.NewServer(t), port: port, dials: &dialCounter{}}
	e.dns.Add(t, zone...)
	cfg := Config{
		Helo:     "client.test",
		Resolver: dns.New(dnsConfig(e.dns.Addr)),
		Dialer:   e.dials.dial,
		Port:     port,
		// Short enough that silent peers cost little, long enough for -race.
		ConnectTimeout: 2 * time.Second, HeloTimeout: 2 * time.Second,
		CommandTimeout: 2 * time.Second, DataTimeout: 2 * time.Second,
		MaxIdle: time.Minute,
	}
	if tune != nil {
		tune(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.agent = a
	return e
}

func dnsConfig(addr string) dns.Config {
	return dns.Config{Servers: []string{addr}, Timeout: time.Second, Attempts: 1}
}

func request(nexthop string, rcpts ...string) *deliver.Request {
	req := &deliver.Request{QueueID: "0123456789ABCDEF01", Sender: "a@src.test", Nexthop: nexthop, Content: content(msg)}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, deliver.Recipient{Addr: r})
	}
	return req
}

// want checks one result's reply code, enhanced code and relay.
func want(t *testing.T, res []deliver.Result, i int, code int, enh, relay string) {
	t.Helper()
	if i >= len(res) {
		t.Fatalf("only %d results", len(res))
	}
	st := res[i].Status
	if st == nil || st.Code != code || st.Enhanced.String() != enh {
		t.Errorf("result %d = %v, want %d %s", i, st, code, enh)
	}
	if relay != "" && res[i].Relay != relay {
		t.Errorf("result %d relay = %q, want %q", i, res[i].Relay, relay)
	}
}
