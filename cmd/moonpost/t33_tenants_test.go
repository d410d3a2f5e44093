package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// gatedSink is an SMTP sink that notes each message's sender when its
// DATA starts, in that order, then holds the reply until the test lets
// one through (or closes the gate): deliveries stay in flight as long as
// the test wants, and the order they started in is the scheduler's.
type gatedSink struct {
	mu      sync.Mutex
	order   []string // senders, in the order their DATA began
	done    int      // messages answered
	gate    chan struct{}
	started chan struct{}
	addr    string
}

func newGatedSink(t *testing.T) *gatedSink {
	t.Helper()
	g := &gatedSink{gate: make(chan struct{}), started: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &gatedSession{g: g}, nil }))
	srv.Domain = "sink.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *gatedSink) port() string { _, p, _ := net.SplitHostPort(g.addr); return p }

// waitStarts waits until n deliveries have begun their DATA.
func (g *gatedSink) waitStarts(t *testing.T, d *daemon, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		g.mu.Lock()
		got := len(g.order)
		g.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-g.started:
		case <-deadline:
			t.Fatalf("%d deliveries started, want %d\n%s", got, n, d.logs())
		}
	}
}

type gatedSession struct {
	g    *gatedSink
	from string
}

func (x *gatedSession) Reset()                                   { x.from = "" }
func (x *gatedSession) Logout() error                            { return nil }
func (x *gatedSession) Rcpt(string, *smtp.RcptOptions) error     { return nil }
func (x *gatedSession) Mail(f string, _ *smtp.MailOptions) error { x.from = f; return nil }

func (x *gatedSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	g := x.g
	g.mu.Lock()
	g.order = append(g.order, x.from)
	g.mu.Unlock()
	g.started <- struct{}{}
	select {
	case <-g.gate:
	case <-time.After(60 * time.Second): // a test that failed half-way lets go
	}
	g.mu.Lock()
	g.done++
	g.mu.Unlock()
	return nil
}

// tenantScript puts each connection in the tenant named by the sender's
// local part at MAIL; cleanup moves a message with the subject "vip" to
// the tenant "vip"; the delivery event logs the tenant.
const tenantScript = `
local log = require("log")
mta.on("mail", function(s, from) s:set_tenant((from:match("^([^@]+)@"))) end)
mta.on("cleanup", function(msg)
  if msg:header("Subject") == "vip" then msg:set_tenant("vip") end
end)
mta.on("delivered", function(ev) log.info("tenant delivered", {tenant = ev.tenant or "none"}) end)
`

// Scenario 33: one tenant's flood to a destination does not hold back
// another tenant's message to it. The real engine delivers to a sink
// that holds every reply until the test lets it go: with the
// destination's concurrency c busy with the flood, the other tenant's
// message is the (c+2)th delivery started (c in flight, one more of the
// flood's turn, then its own), not the last. Meanwhile queue list, the
// REPL and the log name each message's tenant.
func TestT33TenantFairness(t *testing.T) {
	const n, c = 40, 2
	g := newGatedSink(t)
	d := newDaemon(t, fmt.Sprintf("relayhost = \"[127.0.0.1]:%s\"\n[hooks]\ndir = \"scripts\"\n[smtp]\ntls = \"none\"\n"+
		"[queue]\ndestination_concurrency = %d\ninitial_concurrency = %d", g.port(), c, c))
	if err := os.MkdirAll(filepath.Join(d.dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, "scripts", "10-tenant.lua"), []byte(tenantScript), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	bulk := dial(t, d.addr)
	bulk.expect("EHLO client.test", 250)
	for i := range n {
		if code, text := bulk.message("bulk@local.test", []string{fmt.Sprintf("r%d@remote.test", i)}, fmt.Sprintf("Subject: flood %d\r\n\r\nx", i)); code != 250 {
			t.Fatalf("flood message %d: %d %s", i, code, text)
		}
	}
	bulk.expect("QUIT", 221)
	g.waitStarts(t, d, c)

	one := dial(t, d.addr)
	one.expect("EHLO client.test", 250)
	code, text := one.message("single@local.test", []string{"one@remote.test"}, "Subject: vip\r\n\r\nx")
	if code != 250 {
		t.Fatalf("the single message: %d %s", code, text)
	}
	id := queuedID(text)
	one.expect("QUIT", 221)

	// The operator's views, while the flood waits.
	if rc, out := d.run("", "queue", "list", "--json", "--tenant", "bulk"); rc != 0 || strings.Count(out, `"tenant":"bulk"`) != n {
		t.Errorf("queue list --tenant bulk: %d, %d of %d messages\n%s", rc, strings.Count(out, `"tenant":"bulk"`), n, out)
	}
	if rc, out := d.run("", "queue", "list", "--tenant", "vip"); rc != 0 || !strings.Contains(out, id) || strings.Contains(out, "bulk@") {
		t.Errorf("queue list --tenant vip: %d\n%s", rc, out)
	}
	if rc, out := d.run("", "queue", "list", "--tenant", "a b"); rc == 0 {
		t.Errorf("a bad tenant name was accepted: %s", out)
	}
	if rc, out := d.run("", "queue", "show", id); rc != 0 || !strings.Contains(out, "\ntenant: vip\n") {
		t.Errorf("queue show: %d\n%s", rc, out)
	}
	if rc, out := d.run("", "repl", "-e", `local l = queue.list{tenant = "vip"}
print(#l, l[1].tenant, queue.get(l[1].id).tenant, #queue.list{tenant = "bulk"})`); rc != 0 || !strings.Contains(out, fmt.Sprintf("1\tvip\tvip\t%d", n)) {
		t.Errorf("REPL: %d\n%s", rc, out)
	}

	// Let the deliveries finish one at a time: each frees the slot the
	// next one takes.
	for i := 0; i < n && !g.seen("single@local.test"); i++ {
		select {
		case g.gate <- struct{}{}:
		case <-time.After(20 * time.Second):
			t.Fatalf("no delivery waiting at the sink\n%s", d.logs())
		}
		g.waitStarts(t, d, c+i+1)
	}
	close(g.gate)
	d.waitLog(id+": removed", 1)
	g.mu.Lock()
	order := append([]string(nil), g.order...)
	g.mu.Unlock()
	at := -1
	for i, from := range order {
		if from == "single@local.test" {
			at = i
		}
	}
	if at+1 != c+2 {
		t.Fatalf("the vip message was delivery %d, want %d (two tenants, concurrency %d): %v", at+1, c+2, c, order)
	}
	d.waitLog(", tenant=bulk, status=sent", n)
	d.waitLog(", tenant=vip, status=sent", 1)
	d.waitLog(`msg="tenant delivered"`, n+1)
	events := map[string]int{}
	for _, l := range strings.Split(d.logs(), "\n") {
		if strings.Contains(l, `msg="tenant delivered"`) {
			events[l[strings.LastIndex(l, " tenant=")+1:]]++
		}
	}
	if events["tenant=bulk"] != n || events["tenant=vip"] != 1 {
		t.Errorf("delivery events by tenant: %v", events)
	}
}

func (g *gatedSink) seen(from string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, f := range g.order {
		if f == from {
			return true
		}
	}
	return false
}
