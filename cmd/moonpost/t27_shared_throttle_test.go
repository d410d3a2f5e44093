package main

import (
	"bufio"
	"fmt"
	"net"
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

// destRate is the per-second limit of scenario 27c toward one receiver.
const destRate = 20

// destScript shapes the relay host as one site paced at destRate.
const destScript = `
mta.on("egress", function(d)
  if d.transport == "smtp" then
    return {site = "relay", connection_limit = 4, max_message_rate = "RATE", max_deliveries_per_connection = 1000}
  end
end)
`

// Scenario 27c: the egress rate of a destination holds for all nodes
// together. Three daemons on one Redis each queue a third of the load
// for one receiver, whose site is limited to destRate messages a
// second by the egress hook. The sink's arrival times show the cluster
// delivering what the GCRA allows (the burst plus destRate a second),
// within 5 %, not three times that. One node is killed with SIGKILL
// mid-way: the two others keep the rate; restarted, it delivers its
// queue, and every accepted message reaches the sink.
func TestT27SharedDestinationRate(t *testing.T) {
	const perNode = 100
	redis := testserver.StartRedis(t)
	s := newSink(t, "127.0.0.1")
	var nodes []*daemon
	for i := 0; i < 3; i++ {
		d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[smtp]\ntls = \"none\"\n[queue]\nin_flow_delay = \"0s\"\n"+
			"[hooks]\ndir = \"scripts\"\n[redis]\naddresses = [%q]\n", s.port(), redis.Addr))
		if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
			t.Fatal(err)
		}
		script := strings.Replace(destScript, "RATE", fmt.Sprintf("%d/s", destRate), 1)
		if err := os.WriteFile(filepath.Join(d.dir, "scripts", "30-egress.lua"), []byte(script), 0o644); err != nil {
			t.Fatal(err)
		}
		d.start()
		nodes = append(nodes, d)
	}
	accepted := loadNodes(t, nodes, perNode)

	// Kill one node once the first third has arrived: it has mail queued.
	waitSink(t, nodes[0], s, perNode)
	nodes[2].kill()
	killed := time.Now()
	waitSink(t, nodes[0], s, 2*perNode)
	restarted := time.Now()
	nodes[2].start()
	msgs := waitSinkFor(t, nodes[0], s, len(accepted), 40*time.Second)

	threeNodes := arrivalsBetween(msgs, time.Time{}, killed)
	checkDestRate(t, "three nodes", threeNodes, destRate)
	twoNodes := arrivalsBetween(msgs, killed.Add(200*time.Millisecond), restarted)
	checkDestRate(t, "two nodes after the kill", twoNodes, 0)

	// None lost: every accepted message arrived; the kill may repeat
	// the deliveries it cut short, no more.
	got := map[string]int{}
	for _, m := range msgs {
		got[subjectOf(m.Data)]++
	}
	dups := 0
	for key := range accepted {
		switch n := got[key]; {
		case n == 0:
			t.Errorf("accepted message %s never arrived", key)
		case n > 1:
			dups += n - 1
		}
	}
	if dups > 4 { // connection_limit: the deliveries in flight at the kill
		t.Errorf("%d messages delivered twice; only those in flight at the kill may be", dups)
	}
	t.Logf("FIGURES shared destination rate: %d accepted, %d arrived, %d repeated after the kill", len(accepted), len(msgs), dups)

	// Redis down: fail closed holds the mail, untried and not deferred;
	// once Redis is back it goes.
	redis.Stop()
	keys, err := queueMessages(nodes[0].addr, "down", 3)
	if err != nil {
		t.Fatal(err)
	}
	nodes[0].waitLog("redis throttle check failed", 1)
	if got := len(s.received()); got != len(msgs) {
		t.Fatalf("the sink got %d messages with Redis down and fail_closed, want %d", got, len(msgs))
	}
	redis.Start()
	waitSinkFor(t, nodes[0], s, len(msgs)+len(keys), 20*time.Second)
	if strings.Contains(nodes[0].logs(), "status=deferred") {
		t.Errorf("a delivery held by the shared rate was logged as deferred:\n%s", nodes[0].logs())
	}
}

// loadNodes queues perNode messages on each node, two clients a node,
// and returns the subjects of those accepted.
func loadNodes(t *testing.T, nodes []*daemon, perNode int) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	accepted := map[string]bool{}
	errs := make(chan error, 2*len(nodes))
	for n, d := range nodes {
		for c := 0; c < 2; c++ {
			wg.Add(1)
			go func(n, c int, addr string) {
				defer wg.Done()
				keys, err := queueMessages(addr, fmt.Sprintf("n%dc%d", n, c), perNode/2)
				mu.Lock()
				for _, k := range keys {
					accepted[k] = true
				}
				mu.Unlock()
				if err != nil {
					errs <- err
				}
			}(n, c, d.addr)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return accepted
}

// queueMessages sends n one-recipient messages on one connection, each
// with the subject "t27c PREFIX-I"; it returns the keys accepted.
func queueMessages(addr, prefix string, n int) ([]string, error) {
	q, err := dialQuiet(addr)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	if _, err := q.cmd("EHLO " + prefix + ".client.test"); err != nil {
		return nil, err
	}
	var keys []string
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("%s-%d", prefix, i)
		for _, line := range []string{"MAIL FROM:<a@client.test>", "RCPT TO:<r" + key + "@remote.test>", "DATA"} {
			if _, err := q.cmd(line); err != nil {
				return keys, err
			}
		}
		if code, text, err := q.data("Subject: t27c " + key + "\r\n\r\nbody"); err != nil || code != 250 {
			return keys, fmt.Errorf("end of data: %d %s %v", code, text, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func subjectOf(data string) string {
	_, rest, ok := strings.Cut(data, "Subject: t27c ")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "\r\n")
	return strings.TrimSpace(key)
}

// waitSinkFor is waitSink with a longer bound, for paced delivery.
func waitSinkFor(t *testing.T, d *daemon, s *sink, n int, limit time.Duration) []sinkMsg {
	t.Helper()
	for deadline := time.Now().Add(limit); len(s.received()) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sink has %d messages, want %d\n%s", len(s.received()), n, d.logs())
		}
	}
	return s.received()
}

// arrivalsBetween are the arrival times in [from, to).
func arrivalsBetween(msgs []sinkMsg, from, to time.Time) []time.Time {
	var out []time.Time
	for _, m := range msgs {
		if !m.At.Before(from) && m.At.Before(to) {
			out = append(out, m.At)
		}
	}
	return out
}

// checkDestRate: n arrivals over the span from the first to the last
// may be at most what the GCRA allows, burst + destRate×span, plus 5 %;
// and the cluster must have kept up with the rate, so the limit is
// reached, not just never approached (at least 80 % of destRate×span).
// The burst is destRate for a fresh bucket, 0 for one already drained.
func checkDestRate(t *testing.T, what string, at []time.Time, burst int) {
	t.Helper()
	if len(at) < 2*destRate {
		t.Fatalf("%s: %d arrivals, too few to measure", what, len(at))
	}
	span := at[len(at)-1].Sub(at[0]).Seconds()
	allowed := float64(burst) + destRate*span + 1
	rate := float64(len(at)-1) / span
	t.Logf("FIGURES shared destination rate, %s: %d arrivals in %.2f s, %.1f/s (GCRA allows %.0f, limit %d/s)", what, len(at), span, rate, allowed, destRate)
	if float64(len(at)) > 1.05*allowed {
		t.Errorf("%s: %d arrivals, over the %.0f the shared limit allows (+5 %%)", what, len(at), allowed)
	}
	if float64(len(at)) < 0.8*destRate*span {
		t.Errorf("%s: %d arrivals in %.2f s: far below the limit of %d/s", what, len(at), span, destRate)
	}
}
