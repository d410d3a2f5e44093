package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// peerModes are remote servers that misbehave, keyed by the domain whose
// MX points at them. Each runs on its own 127.0.0.N with a shared port
// (the daemon's smtp.port).
var peerModes = []struct {
	domain string
	serve  func(c net.Conn, r *bufio.Reader)
}{
	{"silent.test", func(c net.Conn, r *bufio.Reader) { r.WriteTo(nopWriter{}) }},
	{"busy.test", func(c net.Conn, r *bufio.Reader) { fmt.Fprint(c, "421 4.7.0 too busy\r\n"); r.WriteTo(nopWriter{}) }},
	{"drop.test", peerUntilData(func(c net.Conn, r *bufio.Reader) { r.ReadString('\n') })},
	{"garbage.test", func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 peer\r\n")
		r.ReadString('\n')
		fmt.Fprint(c, "\x00\xffnot smtp at all\r\n")
		r.WriteTo(nopWriter{})
	}},
	{"hang.test", peerUntilData(func(c net.Conn, r *bufio.Reader) { r.WriteTo(nopWriter{}) })},
}

type nopWriter struct{}

func (nopWriter) Write(b []byte) (int, error) { return len(b), nil }

// peerUntilData plays a normal server up to DATA's 354, then atData.
func peerUntilData(atData func(net.Conn, *bufio.Reader)) func(net.Conn, *bufio.Reader) {
	return func(c net.Conn, r *bufio.Reader) {
		fmt.Fprint(c, "220 peer ESMTP\r\n")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(strings.ToUpper(line), "DATA") {
				fmt.Fprint(c, "354 go ahead\r\n")
				atData(c, r)
				return
			}
			fmt.Fprint(c, "250 ok\r\n")
		}
	}
}

// listenSamePort opens n listeners on 127.0.0.2.. at one port. The
// port is chosen free on the first address; another process may hold it
// on a later one, so a few ports are tried.
func listenSamePort(t *testing.T, n int) ([]net.Listener, string) {
	t.Helper()
	for try := 0; try < 20; try++ {
		first, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(first.Addr().String())
		lns := []net.Listener{first}
		for i := 1; i < n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:%s", 2+i, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == n {
			return lns, port
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatalf("no port free on 127.0.0.2..127.0.0.%d after 20 tries", n+1)
	return nil, ""
}

// servePeers starts every mode on 127.0.0.(2+i) at one port and returns
// the port; everything stops when the test ends.
func servePeers(t *testing.T, ns *dnstest.Server) string {
	lns, port := listenSamePort(t, len(peerModes))
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // registered first, so it runs after the closes below
	for i, m := range peerModes {
		ln := lns[i]
		ns.Add(t, fmt.Sprintf("%s. 60 IN MX 10 mx.%s.", m.domain, m.domain), fmt.Sprintf("mx.%s. 60 IN A 127.0.0.%d", m.domain, 2+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			var conns sync.WaitGroup
			defer conns.Wait()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				conns.Add(1)
				go func() {
					defer conns.Done()
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second)) // bound a peer the daemon never hangs up on
					m.serve(c, bufio.NewReader(c))
				}()
			}
		}()
		t.Cleanup(func() { ln.Close() })
	}
	return port
}

// Scenario 14: the daemon delivers to broken servers and through broken
// DNS. Every message is deferred (kept, with a reason), the daemon's
// descriptor count returns to where it was, and it keeps serving.
func TestT14BrokenPeers(t *testing.T) {
	ns := dnstest.NewServer(t)
	port := servePeers(t, ns)
	ns.SetRcode("servfail.test", mdns.RcodeServerFailure)
	ns.Add(t, "truncated.test. 60 IN MX 10 mx.silent.test.")
	ns.Truncate("truncated.test")
	d := newDaemon(t, fmt.Sprintf(`[smtp]
tls = "none"
port = %s
connect_timeout = "1s"
helo_timeout = "1s"
command_timeout = "1s"
data_timeout = "1s"
[dns]
servers = [%q]
timeout = "1s"`, port, ns.Addr))
	d.start()
	c := dial(t, d.addr) // one idle session, so the baseline counts a client
	c.expect("EHLO client.test", 250)
	base := d.fds()

	domains := []string{"servfail.test", "truncated.test"}
	for _, m := range peerModes {
		domains = append(domains, m.domain)
	}
	ids := map[string]string{}
	for round := 0; round < 2; round++ {
		for _, dom := range domains {
			code, text := c.message("alice@local.test", []string{"bob@" + dom}, "Subject: to "+dom+"\r\n\r\nbody")
			if code != 250 {
				t.Fatalf("%s: %d %s", dom, code, text)
			}
			ids[queuedID(text)] = dom
		}
	}
	// Every attempt ends within the 1 s timeouts; wait for the deferrals.
	var deferred map[string]bool
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if deferred = d.queueIDs("deferred"); len(deferred) == len(ids) {
			break
		}
	}
	for id, dom := range ids {
		if !deferred[id] {
			t.Errorf("message to %s (%s) is not in deferred/", dom, id)
		}
	}
	if n := d.settleFDs(base); n > base {
		t.Errorf("daemon holds %d descriptors after the failures, %d before", n, base)
	}
	c.expect("NOOP", 250) // still serving
	t.Logf("FIGURES broken-peers: modes=%d messages=%d deferred=%d fds_before=%d fds_after=%d threads=%d",
		len(domains), len(ids), len(deferred), base, d.fds(), d.procStatus("Threads"))
}
