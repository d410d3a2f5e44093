package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/testserver"
	shipped "github.com/moonpost/moonpost/scripts"
)

// tenantRate is the per-minute limit of scenario 17: large enough that
// 5 % is several messages, small enough that the load exceeds it.
const tenantRate = 120

// Scenario 17: three daemons share one Redis; a mail hook limits each
// tenant to tenantRate messages a minute with throttle.check. Clients
// spread over the nodes send more than that: the nodes together accept
// what the GCRA allows (the burst plus the refill over the run, within
// 5 %), refuse the rest with 450 4.7.1 and a retry hint, and the sink
// gets exactly the accepted messages. With one node killed, the other
// two hold the limit of a fresh tenant the same way, and the exhausted
// tenant stays limited.
func TestT27SharedTenantLimit(t *testing.T) {
	redis := testserver.StartRedis(t)
	s := newSink(t, "127.0.0.1")
	scripts := t.TempDir() // the shipped policy plus the tenant limit
	if _, err := shipped.Export(scripts, false); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/throttle/10-tenant-limit.lua")
	if err != nil {
		t.Fatal(err)
	}
	script := strings.Replace(string(src), `"RATE"`, fmt.Sprintf(`"%d/min"`, tenantRate), 1)
	if err := os.WriteFile(filepath.Join(scripts, "50-tenant-limit.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var nodes []*daemon
	for i := 0; i < 3; i++ {
		// The load sends many messages a session, most refused with 450:
		// the error limits that would end such a session are out of the way.
		d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtpd]\nhard_error_limit = 100000\nsoft_error_limit = 100000\n"+
			"[smtp]\ntls = \"none\"\n[queue]\nin_flow_delay = \"0s\"\n"+
			"[hooks]\ndir = %q\n[redis]\naddresses = [%q]\n", s.port(), scripts, redis.Addr))
		d.start()
		nodes = append(nodes, d)
	}
	addrs := func(ds []*daemon) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.addr)
		}
		return out
	}

	first := tenantLoad(t, addrs(nodes), "acme.example", 300)
	checkLimit(t, "three nodes", first)
	waitSink(t, nodes[0], s, first.accepted)

	nodes[2].kill()
	live := nodes[:2]
	second := tenantLoad(t, addrs(live), "globex.example", 300)
	checkLimit(t, "two nodes after a kill", second)
	again := tenantLoad(t, addrs(live), "acme.example", 24)
	if max := 2 + int((first.elapsed+second.elapsed+again.elapsed).Seconds()*tenantRate/60); again.accepted > max {
		t.Errorf("the exhausted tenant got %d of 24 through after the kill, want at most %d", again.accepted, max)
	}
	msgs := waitSink(t, nodes[0], s, first.accepted+second.accepted+again.accepted)
	perTenant := map[string]int{}
	for _, m := range msgs {
		perTenant[m.From[strings.IndexByte(m.From, '@')+1:]]++
	}
	if perTenant["acme.example"] != first.accepted+again.accepted || perTenant["globex.example"] != second.accepted {
		t.Fatalf("sink per tenant %v; SMTP accepted %d+%d and %d", perTenant, first.accepted, again.accepted, second.accepted)
	}

	// Redis down: fail closed, a temporary refusal, never an accept.
	redis.Stop()
	c := dial(t, live[0].addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.cmd("MAIL FROM:<x@initech.example>"); code != 451 || !strings.Contains(text, "4.3.0") {
		t.Fatalf("MAIL with Redis down: %d %s, want 451 4.3.0", code, text)
	}
	// Restarted (counters lost): the limit works again.
	redis.Start()
	c.expect("RSET", 250)
	c.expect("MAIL FROM:<x@initech.example>", 250)
}

// loadResult is what a load run saw.
type loadResult struct {
	accepted, refused int
	elapsed           time.Duration // first MAIL to last reply
	hint              string        // one 450 reply text
}

// tenantLoad sends n messages from tenant, from six clients spread over
// addrs, each on its own connection; a 450 to MAIL is followed by RSET.
func tenantLoad(t *testing.T, addrs []string, tenant string, n int) loadResult {
	t.Helper()
	var res loadResult
	if n == 0 {
		return res
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	const clients = 6
	errs := make(chan error, clients)
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			acc, ref, hint, err := sendAll(addrs[c%len(addrs)], tenant, n/clients, c)
			mu.Lock()
			res.accepted += acc
			res.refused += ref
			if hint != "" {
				res.hint = hint
			}
			mu.Unlock()
			if err != nil {
				errs <- err
			}
		}(c)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return res
}

func sendAll(addr, tenant string, n, client int) (accepted, refused int, hint string, err error) {
	q, err := dialQuiet(addr)
	if err != nil {
		return 0, 0, "", err
	}
	defer q.Close()
	if _, err := q.cmd("EHLO client" + fmt.Sprint(client) + ".test"); err != nil {
		return 0, 0, "", err
	}
	for i := 0; i < n; i++ {
		if _, err := q.c.Write([]byte(fmt.Sprintf("MAIL FROM:<c%d@%s>\r\n", client, tenant))); err != nil {
			return accepted, refused, hint, err
		}
		code, text, err := q.reply()
		switch {
		case err != nil:
			return accepted, refused, hint, err
		case code == 450:
			refused++
			hint = text
			if _, err := q.cmd("RSET"); err != nil {
				return accepted, refused, hint, err
			}
			continue
		case code != 250:
			return accepted, refused, hint, fmt.Errorf("MAIL: %d %s", code, text)
		}
		if _, err := q.cmd("RCPT TO:<rcpt@remote.test>"); err != nil {
			return accepted, refused, hint, err
		}
		if _, err := q.cmd("DATA"); err != nil {
			return accepted, refused, hint, err
		}
		if code, text, err := q.data(fmt.Sprintf("Subject: t17 %s %d/%d\r\n\r\nbody", tenant, client, i)); err != nil || code != 250 {
			return accepted, refused, hint, fmt.Errorf("end of data: %d %s %v", code, text, err)
		}
		accepted++
	}
	return accepted, refused, hint, nil
}

// checkLimit: the GCRA allows the burst (tenantRate) plus the refill
// over the run; the nodes together must stay within 5 % of that and
// reach at least 95 % of the burst.
func checkLimit(t *testing.T, what string, r loadResult) {
	t.Helper()
	allowed := tenantRate + int(r.elapsed.Seconds()*tenantRate/60) + 1
	t.Logf("%s: %d accepted, %d refused in %v (GCRA allows %d)", what, r.accepted, r.refused, r.elapsed, allowed)
	if float64(r.accepted) > 1.05*float64(allowed) || float64(r.accepted) < 0.95*tenantRate {
		t.Fatalf("%s: %d accepted, want %d..%d", what, r.accepted, int(0.95*tenantRate), int(1.05*float64(allowed)))
	}
	if !strings.Contains(r.hint, "4.7.1 sending limit of tenant") || !strings.Contains(r.hint, "retry in ") {
		t.Fatalf("%s: refusal text %q", what, r.hint)
	}
}

// Scenario 27b: the engine's own limit, [[smtpd.rate_limit]] with no
// script, counts in the same shared throttle: three daemons on one
// Redis accept together what one limit of engineRate messages a minute
// per sender domain allows, within 5 %, and refuse the rest with
// 450 4.7.1 and the time to wait.
func TestT27EngineRateLimitShared(t *testing.T) {
	const engineRate, connRate = 60, 4
	redis := testserver.StartRedis(t)
	s := newSink(t, "127.0.0.1")
	var addrs []string
	var first *daemon
	for i := 0; i < 3; i++ {
		d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtpd]\nhard_error_limit = 100000\nsoft_error_limit = 100000\n"+
			"client_connection_rate_limit = %d\nclient_event_limit_exceptions = [\"127.0.0.1/32\"]\n"+
			"[[smtpd.rate_limit]]\nper = \"sender_domain\"\ncount = \"messages\"\nrate = \"%d/min\"\n"+
			"[smtp]\ntls = \"none\"\n[queue]\nin_flow_delay = \"0s\"\n[redis]\naddresses = [%q]\n", s.port(), connRate, engineRate, redis.Addr))
		d.start()
		if first == nil {
			first = d
		}
		addrs = append(addrs, d.addr)
	}
	r := tenantLoad(t, addrs, "engine.example", 150)
	allowed := engineRate + int(r.elapsed.Seconds()*engineRate/60) + 1
	t.Logf("%d accepted, %d refused in %v (GCRA allows %d)", r.accepted, r.refused, r.elapsed, allowed)
	if float64(r.accepted) > 1.05*float64(allowed) || float64(r.accepted) < 0.95*engineRate {
		t.Fatalf("%d accepted, want %d..%d", r.accepted, int(0.95*engineRate), int(1.05*float64(allowed)))
	}
	if !strings.Contains(r.hint, "4.7.1 Error: too many messages from sender domain engine.example, try again in") {
		t.Fatalf("refusal text %q", r.hint)
	}
	waitSink(t, first, s, r.accepted)

	// The per-client connection rate counts in the same throttle: nine
	// connections from one address, spread over the nodes, and the
	// nodes together let connRate through (GCRA: the burst, and one more
	// per 60 s / connRate), not connRate each.
	passed := 0
	for i := 0; i < 9; i++ {
		if greetedFrom(t, "127.0.0.2", addrs[i%len(addrs)]) {
			passed++
		}
	}
	if passed != connRate && passed != connRate+1 {
		t.Fatalf("%d of 9 connections from one client passed three nodes with client_connection_rate_limit = %d", passed, connRate)
	}
}

// greetedFrom connects from src and reports whether the banner was 220
// (false for 421 4.7.0, anything else fails the test).
func greetedFrom(t *testing.T, src, addr string) bool {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	switch {
	case strings.HasPrefix(line, "220 "):
		return true
	case strings.HasPrefix(line, "421 4.7.0"):
		return false
	}
	t.Fatalf("banner from %s: %q %v", addr, line, err)
	return false
}

// Scenario 27d: failed AUTH counts in the shared throttle, so a client
// guessing passwords is limited by the nodes together: two failures on
// two different nodes, and the third node refuses even the right
// password with 421 4.7.0. A client at another address is not
// affected.
func TestT27SharedAuthFailureLimit(t *testing.T) {
	redis := testserver.StartRedis(t)
	dir := t.TempDir()
	cert, key := writeTestCert(t, dir)
	pw := filepath.Join(dir, "passwd")
	var subs []string
	var nodes []*daemon
	for i := 0; i < 3; i++ {
		sub := freePort(t)
		d := newDaemon(t, fmt.Sprintf("\n[smtpd]\nsubmission_listen = [%q]\npassword_file = %q\ntls_cert = %q\ntls_key = %q\n"+
			"client_auth_failure_rate_limit = 2\nclient_event_limit_exceptions = []\n[redis]\naddresses = [%q]\n",
			sub, pw, cert, key, redis.Addr))
		subs, nodes = append(subs, sub), append(nodes, d)
	}
	code, line := nodes[0].run("secret\n", "passwd", "alice")
	if code != 0 {
		t.Fatalf("moonpost passwd: %d %s", code, line)
	}
	if err := os.WriteFile(pw, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range nodes {
		d.start()
	}
	auth := func(src, addr, pass string) error {
		t.Helper()
		dl := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		conn, err := dl.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		c, err := smtp.NewClient(conn, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err != nil {
			t.Fatal(err)
		}
		return c.Auth(smtp.PlainAuth("", "alice", pass, "127.0.0.1"))
	}
	for i := 0; i < 2; i++ {
		if err := auth("127.0.0.2", subs[i], "wrong"); replyCode(err) != "535 5.7.8" {
			t.Fatalf("wrong password on node %d: %v, want 535", i+1, err)
		}
	}
	if err := auth("127.0.0.2", subs[2], "secret"); replyCode(err) != "421 4.7.0" {
		t.Errorf("right password on node 3 after a failure on each of the others: %v, want 421 4.7.0", err)
	}
	nodes[2].waitLog("AUTH failure rate limit exceeded from unknown[127.0.0.2]", 1)
	if err := auth("127.0.0.3", subs[2], "secret"); err != nil {
		t.Errorf("another client on node 3: %v", err)
	}
}
