package smtpd

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/rate"
)

// dialFrom dials addr from a chosen loopback source address.
func dialFrom(t *testing.T, src, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func connCount(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Under stress (80% of MaxConnections in use) idle connections get the
// short StressIdleTimeout, even those already waiting in a read with the
// long IdleTimeout.
func TestStressShortensIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxConnections = 5
		c.IdleTimeout = time.Hour
		c.StressIdleTimeout = 300 * time.Millisecond
	})
	var cls []*client
	for i := 0; i < 3; i++ {
		cls = append(cls, dialReady(t, ts.smtp))
	}
	if ts.srv.stressed() {
		t.Fatal("stress mode with 3 of 5 connections")
	}
	cls = append(cls, dialReady(t, ts.smtp)) // 4 of 5: stress
	for _, cl := range cls {
		cl.expect("421 4.4.2")
		cl.expectClosed()
	}
	waitFor(t, func() bool { return connCount(ts.srv) == 0 })
	if ts.srv.stressed() {
		t.Error("stress mode outlived the load")
	}
	if logs := ts.logs.String(); !strings.Contains(logs, "stress mode on") || !strings.Contains(logs, "stress mode off") {
		t.Errorf("stress not logged:\n%s", logs)
	}
}

// Under stress a session ends StressSessionTimeout after it began, even
// if it keeps the idle timer alive.
func TestStressShortensSession(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxConnections = 1
		c.StressSessionTimeout = 300 * time.Millisecond
	})
	cl := dialReady(t, ts.smtp)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		cl.cmd("NOOP")
		if r := cl.reply(); strings.HasPrefix(r[0], "421 4.4.2") {
			cl.expectClosed()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("session outlived StressSessionTimeout")
}

// At the limit, a new client takes the slot of the idle connection that
// has done the least; a connection in a transaction is never shed.
func TestShedIdleAtLimit(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnections = 3; c.MyNetworks = loopback; c.shedGrace = 200 * time.Millisecond })
	busy := dialReady(t, ts.smtp)
	busy.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	worked := dialReady(t, ts.smtp)
	worked.cmd("MAIL FROM:<a@b.example>").expect("250 ")
	worked.cmd("RSET").expect("250 ")
	idle := dialReady(t, ts.smtp)
	time.Sleep(ts.srv.config().shedGrace) // let the three grow old enough to be shed
	fresh := dial(t, ts.smtp)
	fresh.expect("220 ")
	idle.expect("421 4.7.0 Error: too many connections")
	idle.expectClosed()
	next := dial(t, ts.smtp)
	next.expect("220 ")
	worked.expect("421 4.7.0")
	worked.expectClosed()

	// The transaction in progress was left alone.
	busy.cmd("RCPT TO:<x@local.example>").expect("250 ")
	busy.cmd("DATA").expect("354 ")
	busy.send("x\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	fresh.cmd("EHLO client.example").expect("250 ")
	if !strings.Contains(ts.logs.String(), "stress: shedding idle client") {
		t.Errorf("shedding not logged:\n%s", ts.logs)
	}
}

// max_connections_per_ip spares LimitExceptions (by default mynetworks),
// as Postfix's smtpd_client_event_limit_exceptions does.
func TestPerIPLimitExceptions(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MaxConnectionsPerIP = 1
		c.MyNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	dialFrom(t, "127.0.0.1", ts.smtp).expect("220 ")
	dialFrom(t, "127.0.0.1", ts.smtp).expect("220 ")
	dialFrom(t, "127.0.0.2", ts.smtp).expect("220 ")
	over := dialFrom(t, "127.0.0.2", ts.smtp)
	over.expect("421 4.7.0 Error: too many connections from your host")
	over.expectClosed()
}

// fakeClock is a settable clock for the anvil windows.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func TestConnectionRateLimit(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	ts := startServer(t, func(c *Config) {
		c.ConnectionRateLimit = 2
		c.Now = clock.Now
		c.LimitExceptions = []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}
	})
	for i := 0; i < 2; i++ {
		cl := dialFrom(t, "127.0.0.2", ts.smtp)
		cl.expect("220 ")
		cl.cmd("QUIT").expect("221 ")
	}
	over := dialFrom(t, "127.0.0.2", ts.smtp)
	over.expect("421 4.7.0")
	over.expectClosed()
	dialFrom(t, "127.0.0.3", ts.smtp).expect("220 ") // another client
	for i := 0; i < 3; i++ {
		dialFrom(t, "127.0.0.9", ts.smtp).expect("220 ") // exempt
	}
	// Refused attempts count: the window restarts only after a quiet unit.
	clock.advance(59 * time.Second)
	dialFrom(t, "127.0.0.2", ts.smtp).expect("421 4.7.0")
	clock.advance(61 * time.Second)
	dialFrom(t, "127.0.0.2", ts.smtp).expect("220 ")
	if got := strings.Count(ts.logs.String(), "Connection rate limit exceeded: 3 from 127.0.0.2"); got != 1 {
		t.Errorf("%d rate limit warnings, want 1:\n%s", got, ts.logs)
	}
}

func TestAnvilWindow(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	a := newAnvil(time.Minute, clock.Now)
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 1; i <= 3; i++ {
		if n := a.authFailure(ip); n != i {
			t.Fatalf("failure %d counted as %d", i, n)
		}
	}
	clock.advance(59 * time.Second)
	if n := a.authFailures(ip); n != 3 {
		t.Errorf("after 59s: %d, want 3", n)
	}
	clock.advance(time.Second)
	if n := a.authFailures(ip); n != 0 {
		t.Errorf("after the unit: %d, want 0", n)
	}
	a.connect(netip.MustParseAddr("192.0.2.2")) // sweeps
	if _, ok := a.clients[ip]; ok {
		t.Error("expired entry not swept")
	}
}

// authFailures makes n failed AUTH PLAIN attempts, one per session.
func authAttempt(t *testing.T, ts *testServer, src, pass string) *client {
	t.Helper()
	cl := dialFrom(t, src, ts.subm)
	cl.expect("220 ")
	cl.cmd("EHLO client.example").expect("250 ")
	cl.startTLS()
	cl.cmd("EHLO client.example").expect("250 ")
	cl.cmd("AUTH PLAIN " + b64("\x00alice\x00"+pass))
	return cl
}

// countingAuth counts the password checks it is asked for.
type countingAuth struct {
	staticAuth
	mu sync.Mutex
	n  int
}

func (a *countingAuth) Authenticate(ctx context.Context, user, pass string) (bool, error) {
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
	return a.staticAuth.Authenticate(ctx, user, pass)
}

func (a *countingAuth) calls() int { a.mu.Lock(); defer a.mu.Unlock(); return a.n }

// Failed AUTH attempts are counted per client across sessions; over
// AuthFailureRateLimit, AUTH gets 421 4.7.0 and the connection closes
// without the password being checked, even the right one.
func TestAuthFailureRateLimit(t *testing.T) {
	auth := &countingAuth{staticAuth: staticAuth{user: "alice", pass: "secret"}}
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	ts := startServer(t, func(c *Config) {
		c.TLSConfig = selfSigned(t)
		c.Auth = auth
		c.AuthFailureRateLimit = 3
		c.Now = clock.Now
		c.MyNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for i := 0; i < 3; i++ {
		authAttempt(t, ts, "127.0.0.2", "wrong").expect("535 5.7.8")
	}
	cl := authAttempt(t, ts, "127.0.0.2", "secret")
	cl.expect("421 4.7.0")
	cl.expectClosed()
	if n := auth.calls(); n != 3 {
		t.Errorf("%d password checks, want 3", n)
	}
	authAttempt(t, ts, "127.0.0.3", "secret").expect("235 ") // another client
	for i := 0; i < 4; i++ {
		authAttempt(t, ts, "127.0.0.1", "wrong").expect("535 ") // mynetworks: exempt
	}
	clock.advance(time.Minute)
	authAttempt(t, ts, "127.0.0.2", "secret").expect("235 ")
	if !strings.Contains(ts.logs.String(), "AUTH failure rate limit exceeded from unknown[127.0.0.2]") {
		t.Errorf("refusal not logged:\n%s", ts.logs)
	}
}

// raiseNoFile lifts RLIMIT_NOFILE to at least n, or skips the test.
func raiseNoFile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("SKIP: cannot read RLIMIT_NOFILE: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	old := lim
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n // needs root (CAP_SYS_RESOURCE)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skipf("SKIP: this test needs %d open files and RLIMIT_NOFILE is %d/%d: %v", n, old.Cur, old.Max, err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// Stress mode ends a tenth of MaxConnections below where it began, so a
// load hovering at 80% does not flip it at every connection.
func TestStressHysteresis(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.MaxConnections = 20 })
	var cls []*client
	for i := 0; i < 16; i++ {
		cls = append(cls, dial(t, ts.smtp))
		cls[i].expect("220 ")
	}
	waitFor(t, func() bool { return connCount(ts.srv) == 16 })
	if !ts.srv.stressed() {
		t.Fatal("no stress mode at 16 of 20")
	}
	closeTo := func(n int) {
		t.Helper()
		for len(cls) > n {
			cls[len(cls)-1].cmd("QUIT").expect("221 ")
			cls = cls[:len(cls)-1]
		}
		waitFor(t, func() bool { return connCount(ts.srv) == n })
	}
	closeTo(14)
	if !ts.srv.stressed() {
		t.Error("stress mode off at 14 of 20, want on until below 14")
	}
	closeTo(13)
	if ts.srv.stressed() {
		t.Error("stress mode still on at 13 of 20")
	}
}

// sharedCounts is a ClientRates two servers share, as two nodes share
// one Redis: N events per key, no refill (the tests stay inside a unit).
type sharedCounts struct {
	mu   sync.Mutex
	n    map[string]int
	fail bool // every call errs, as Redis down and fail_closed
}

func (s *sharedCounts) Allow(_ context.Context, key string, r rate.Rate, _ bool) (bool, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return false, 0, errors.New("redis down")
	}
	if int64(s.n[key]) >= r.N {
		return false, r.Interval(), nil
	}
	s.n[key]++
	return true, 0, nil
}

func (s *sharedCounts) Peek(_ context.Context, key string, r rate.Rate) (bool, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return false, 0, errors.New("redis down")
	}
	return int64(s.n[key]) < r.N, 0, nil
}

// With ClientRates, the connection and failed-AUTH rates of a client
// count across servers: two connections to one and the third to the
// other is refused at the banner; failures on one make the other refuse
// AUTH; a throttle that cannot decide refuses temporarily.
func TestSharedClientRates(t *testing.T) {
	counts := &sharedCounts{n: map[string]int{}}
	node := func(connLimit int) *testServer {
		return startServer(t, func(c *Config) {
			c.TLSConfig = selfSigned(t)
			c.Auth = staticAuth{user: "alice", pass: "secret"}
			c.ConnectionRateLimit = connLimit
			c.AuthFailureRateLimit = 2
			c.ClientRates = counts
			c.MyNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		})
	}
	a, b := node(3), node(3)
	authAttempt(t, a, "127.0.0.2", "wrong").expect("535 5.7.8")
	authAttempt(t, a, "127.0.0.2", "wrong").expect("535 5.7.8")
	cl := authAttempt(t, b, "127.0.0.2", "secret")
	cl.expect("421 4.7.0")
	cl.expectClosed()
	over := dialFrom(t, "127.0.0.2", b.smtp) // the fourth connection from 127.0.0.2
	over.expect("421 4.7.0 Error: too many connections from your host")
	over.expectClosed()
	dialFrom(t, "127.0.0.3", a.smtp).expect("220 ") // another client
	for i := 0; i < 5; i++ {
		dialFrom(t, "127.0.0.1", b.smtp).expect("220 ") // mynetworks: exempt
	}
	if !strings.Contains(b.logs.String(), "Connection rate limit exceeded from 127.0.0.2") ||
		!strings.Contains(b.logs.String(), "AUTH failure rate limit exceeded from unknown[127.0.0.2]") {
		t.Errorf("refusals not logged:\n%s", b.logs)
	}
	counts.mu.Lock()
	counts.fail = true
	counts.mu.Unlock()
	dialFrom(t, "127.0.0.4", a.smtp).expect("421 4.3.0")
	authAttempt(t, node(0), "127.0.0.5", "secret").expect("454 4.7.0")
}
