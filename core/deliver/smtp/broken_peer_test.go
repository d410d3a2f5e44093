package smtp

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// The broken-peer suite: every way a remote server or DNS can misbehave
// ends in a deferral (never a loss, never a false success), and leaves
// no goroutine or descriptor behind once the agent is closed.

// servePeer runs fn on every connection to ln until the test ends,
// closing connections and waiting for every goroutine it started.
func servePeer(t *testing.T, ln net.Listener, fn func(net.Conn, *bufio.Reader)) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); fn(c, bufio.NewReader(c)) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
}

// dialogue answers a normal SMTP dialogue up to DATA's 354, then hands
// over to atData (with the reader positioned at the content).
func dialogue(atData func(net.Conn, *bufio.Reader)) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 peer.test ESMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "DATA":
				fmt.Fprint(c, "354 go ahead\r\n")
				atData(c, r)
				return
			case "QUIT":
				fmt.Fprint(c, "221 bye\r\n")
				return
			default:
				fmt.Fprint(c, "250 ok\r\n")
			}
		}
	}
}

// readDot reads the content up to the final dot.
func readDot(r *bufio.Reader) bool {
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if l == ".\r\n" {
			return true
		}
	}
}

// brokenPeers are the misbehaving servers; each must make Deliver defer.
var brokenPeers = map[string]func(net.Conn, *bufio.Reader){
	"never greets": func(c net.Conn, r *bufio.Reader) { r.WriteTo(discard{}) },
	"greets with 421": func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "421 4.7.0 too busy\r\n")
		r.WriteTo(discard{})
	},
	"drops in the middle of DATA": dialogue(func(c net.Conn, r *bufio.Reader) { r.ReadString('\n') }),
	"answers garbage": func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 peer.test\r\n")
		r.ReadString('\n')
		fmt.Fprint(c, "\x00\xffgarbage without a code\r\nmore garbage\r\n")
		r.WriteTo(discard{})
	},
	"answers extremely slowly": func(c net.Conn, r *bufio.Reader) {
		for _, b := range []byte("220 peer.test ESMTP\r\n") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	},
	"accepts then times out": dialogue(func(c net.Conn, r *bufio.Reader) {
		if readDot(r) {
			r.WriteTo(discard{}) // never says 250
		}
	}),
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// leakCheck runs body in a subtest (whose cleanups stop every peer and
// server it started) and then waits, bounded, for the goroutine and
// descriptor counts to return to what they were before.
func leakCheck(t *testing.T, name string, body func(t *testing.T)) {
	t.Helper()
	g0, f0 := runtime.NumGoroutine(), openFDs(t)
	t.Run(name, body)
	g, f := g0, f0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if g, f = runtime.NumGoroutine(), openFDs(t); g <= g0 && f <= f0 {
			return
		}
	}
	t.Errorf("%s: leaked %d goroutines and %d descriptors", name, g-g0, f-f0)
}

func openFDs(t *testing.T) int {
	des, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("SKIP: no /proc/self/fd to count descriptors: %v", err)
	}
	return len(des)
}

func fastTimeouts(c *Config) {
	c.HeloTimeout, c.CommandTimeout, c.DataTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
}

func TestBrokenPeersDeferWithoutLeaks(t *testing.T) {
	for name, fn := range brokenPeers {
		leakCheck(t, name, func(t *testing.T) {
			ln := listen(t, "127.0.0.1", 0)
			servePeer(t, ln, fn)
			e := newEnv(t, portOf(ln), fastTimeouts)
			for i := 0; i < 3; i++ { // repeated, so a per-attempt leak adds up
				res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test"))
				if len(res) != 1 || res[0].Status == nil || !res[0].Status.Temporary() {
					t.Fatalf("attempt %d: %+v, want a deferral", i, res)
				}
			}
			e.agent.Close()
		})
	}
}

func TestBrokenDNSDefersWithoutLeaks(t *testing.T) {
	cases := map[string]struct {
		servers func(t *testing.T, ns *dnstest.Server) []string
		code    int
	}{
		"SERVFAIL": {func(t *testing.T, ns *dnstest.Server) []string {
			ns.SetRcode("example.test", mdns.RcodeServerFailure)
			return []string{ns.Addr}
		}, 451},
		"time-out": {func(t *testing.T, _ *dnstest.Server) []string { return []string{dnstest.Blackhole(t)} }, 451},
		// A truncated UDP answer is retried over TCP, which has the
		// records: the mail goes through.
		"truncated": {func(t *testing.T, ns *dnstest.Server) []string {
			ns.Truncate("example.test")
			return []string{ns.Addr}
		}, 250},
	}
	for name, tc := range cases {
		leakCheck(t, name, func(t *testing.T) {
			ln := listen(t, "127.0.0.1", 0)
			serveGoSMTP(t, ln, &backend{}, nil)
			ns := dnstest.NewServer(t)
			ns.Add(t, "example.test. 60 IN MX 10 mx.example.test.", "mx.example.test. 60 IN A 127.0.0.1")
			cfg := dnsConfig("")
			cfg.Servers, cfg.Timeout = tc.servers(t, ns), 300*time.Millisecond
			e := newEnv(t, portOf(ln), func(c *Config) { fastTimeouts(c); c.Resolver = dns.New(cfg) })
			for i := 0; i < 3; i++ {
				res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
				if len(res) != 1 || res[0].Status == nil || res[0].Status.Code != tc.code {
					t.Fatalf("attempt %d: %+v, want %d", i, res, tc.code)
				}
			}
			e.agent.Close()
		})
	}
}

// The same broken servers behind the client in LMTP mode (the lmtp
// agent's path): every one a deferral, nothing leaked.
func TestBrokenPeersDeferWithoutLeaksLMTP(t *testing.T) {
	for name, fn := range brokenPeers {
		leakCheck(t, name, func(t *testing.T) {
			ln := listen(t, "127.0.0.1", 0)
			servePeer(t, ln, fn)
			cfg := Config{LMTP: true, Helo: "client.test", ConnectTimeout: 2 * time.Second}
			fastTimeouts(&cfg)
			a, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			hop := ln.Addr().String()
			for i := 0; i < 3; i++ {
				res := a.DeliverTo(context.Background(), request("", "x@example.test", "y@example.test"), hop,
					[]Target{{Network: "tcp", Addr: hop, Host: "127.0.0.1", Relay: hop}})
				if len(res) != 2 || res[0].Status == nil || !res[0].Status.Temporary() || !res[1].Status.Temporary() {
					t.Fatalf("attempt %d: %+v, want deferrals", i, res)
				}
			}
		})
	}
}
