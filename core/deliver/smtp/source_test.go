package smtp

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
)

func withSources(c *Config) {
	c.Sources = []Source{
		{Name: "s1", Addr: netip.MustParseAddr("127.0.0.5"), Helo: "out1.example.test"},
		{Name: "s2", Addr: netip.MustParseAddr("127.0.0.6"), Helo: "out2.example.test"},
	}
	c.Pools = []Pool{{Name: "p1", Sources: []string{"s1", "s2"}}, {Name: "heavy", Sources: []string{"s1", "s2"}, Weights: []int{2, 1}}}
}

func egress(req *deliver.Request, e deliver.Egress) *deliver.Request {
	req.Egress = &e
	return req
}

func peerIP(t *testing.T, m received) string {
	t.Helper()
	host, _, err := net.SplitHostPort(m.peer)
	if err != nil {
		t.Fatalf("peer address %q: %v", m.peer, err)
	}
	return host
}

// A named source binds the connection to its address and says its EHLO
// name; a literal address binds too, with the agent's name.
func TestSourceAddressAndEHLO(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), withSources)
	for _, spec := range []string{"s1", "s2", "127.0.0.7", ""} {
		res := e.agent.Deliver(context.Background(), egress(request("[127.0.0.1]", "x@example.test"), deliver.Egress{Source: spec}))
		want(t, res, 0, 250, "2.0.0", "")
	}
	_, msgs := b.snapshot()
	if len(msgs) != 4 {
		t.Fatalf("peer got %d messages", len(msgs))
	}
	wantFrom := []struct{ ip, helo string }{
		{"127.0.0.5", "out1.example.test"}, {"127.0.0.6", "out2.example.test"},
		{"127.0.0.7", "client.test"}, {"127.0.0.1", "client.test"},
	}
	for i, w := range wantFrom {
		if got := peerIP(t, msgs[i]); got != w.ip || msgs[i].helo != w.helo {
			t.Errorf("message %d came from %s as %q, want %s as %q", i, got, msgs[i].helo, w.ip, w.helo)
		}
	}
	// Four sources, four connections: the cache never hands one
	// source's connection to another.
	if conns, _ := b.snapshot(); conns != 4 {
		t.Errorf("connections = %d, want 4", conns)
	}
}

// A pool takes its sources in turn, by weight; connections are cached
// per source, so a second round reuses them.
func TestSourcePoolRoundRobin(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), withSources)
	for i := 0; i < 6; i++ {
		want(t, e.agent.Deliver(context.Background(), egress(request("[127.0.0.1]", "x@example.test"), deliver.Egress{Source: "heavy"})), 0, 250, "2.0.0", "")
	}
	conns, msgs := b.snapshot()
	count := map[string]int{}
	for _, m := range msgs {
		count[peerIP(t, m)]++
	}
	if count["127.0.0.5"] != 4 || count["127.0.0.6"] != 2 {
		t.Errorf("weighted pool sent %v, want 4 from .5 and 2 from .6", count)
	}
	if conns != 2 {
		t.Errorf("connections = %d, want one per source", conns)
	}
}

// An unknown source defers every recipient with a configuration error
// and connects nowhere.
func TestUnknownSourceDefers(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), withSources)
	res := e.agent.Deliver(context.Background(), egress(request("[127.0.0.1]", "x@example.test", "y@example.test"), deliver.Egress{Source: "nosuch"}))
	want(t, res, 0, 451, "4.3.5", "none")
	want(t, res, 1, 451, "4.3.5", "none")
	if e.dials.count() != 0 {
		t.Errorf("dialled %d times for an unknown source", e.dials.count())
	}
	for spec, ok := range map[string]bool{"": true, "s1": true, "p1": true, "127.0.0.9": true, "::1": true, "nosuch": false, "fe80::1%eth0": false} {
		if err := e.agent.CheckSource(spec); (err == nil) != ok {
			t.Errorf("CheckSource(%q) = %v", spec, err)
		}
	}
}

// An IPv4 source never sends to an IPv6 server from another address.
func TestSourceFamilyMismatchSkipsServer(t *testing.T) {
	e := newEnv(t, 25, withSources)
	res := e.agent.Deliver(context.Background(), egress(request("[ipv6:::1]:25", "x@example.test"), deliver.Egress{Source: "s1"}))
	want(t, res, 0, 451, "4.4.4", "")
	if e.dials.count() != 0 {
		t.Errorf("dialled %d times", e.dials.count())
	}
}

func TestBadSourcesRefused(t *testing.T) {
	for name, tune := range map[string]func(*Config){
		"pool of unknown source": func(c *Config) { c.Pools = []Pool{{Name: "p", Sources: []string{"zz"}}} },
		"duplicate source": func(c *Config) {
			withSources(c)
			c.Sources = append(c.Sources, c.Sources[0])
		},
		"weights mismatch": func(c *Config) {
			withSources(c)
			c.Pools = []Pool{{Name: "p", Sources: []string{"s1", "s2"}, Weights: []int{1}}}
		},
		"pool named as a source": func(c *Config) {
			withSources(c)
			c.Pools = []Pool{{Name: "s1", Sources: []string{"s2"}}}
		},
	} {
		cfg := Config{Helo: "c.test", LMTP: true}
		tune(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// max_deliveries_per_connection closes a connection after that many
// transactions; the next delivery opens a new one.
func TestMaxDeliveriesPerConnection(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), nil)
	for i := 0; i < 5; i++ {
		req := egress(request("[127.0.0.1]", "x@example.test"), deliver.Egress{MaxDeliveriesPerConnection: 2})
		want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", "")
	}
	if conns, msgs := b.snapshot(); conns != 3 || len(msgs) != 5 {
		t.Errorf("connections = %d for %d messages, want 3 (2+2+1)", conns, len(msgs))
	}
}

// The agent's own bound applies without an egress policy.
func TestMaxDeliveriesPerConnectionDefault(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), func(c *Config) { c.MaxDeliveriesPerConnection = 1 })
	for i := 0; i < 3; i++ {
		want(t, e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test")), 0, 250, "2.0.0", "")
	}
	if conns, _ := b.snapshot(); conns != 3 {
		t.Errorf("connections = %d, want 3", conns)
	}
}

// The egress policy's idle_timeout replaces the cache's: a connection
// idle longer is not reused, one idle less is.
func TestEgressIdleTimeout(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	e := newEnv(t, portOf(ln), func(c *Config) { c.Clock = clk; c.MaxIdle = time.Minute })
	send := func() {
		req := egress(request("[127.0.0.1]", "x@example.test"), deliver.Egress{IdleTimeout: 10 * time.Second})
		want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", "")
	}
	send()
	clk.Advance(5 * time.Second)
	send() // within 10s: reused
	if conns, _ := b.snapshot(); conns != 1 {
		t.Fatalf("connections = %d, want 1", conns)
	}
	clk.Advance(11 * time.Second) // past the egress idle timeout, within MaxIdle
	send()
	if conns, _ := b.snapshot(); conns != 2 {
		t.Errorf("connections after the egress idle timeout = %d, want 2", conns)
	}
}
