package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
)

// order is what happened, in order, across goroutines; fast is closed
// once both fast domains are delivered.
type order struct {
	mu    sync.Mutex
	lines []string
	fast  chan struct{}
}

func (o *order) add(line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lines = append(o.lines, line)
	n := 0
	for _, l := range o.lines {
		if strings.HasPrefix(l, "delivered ") && !strings.HasSuffix(l, "@slow.test") {
			n++
		}
	}
	if n == 2 && o.fast != nil {
		close(o.fast)
		o.fast = nil
	}
}

func (o *order) index(line string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, l := range o.lines {
		if l == line {
			return i
		}
	}
	return -1
}

// orderAgent delivers everything and notes it.
type orderAgent struct{ o *order }

func (a orderAgent) Deliver(_ context.Context, req *deliver.Request) []deliver.Result {
	res := make([]deliver.Result, len(req.Recipients))
	for i, r := range req.Recipients {
		a.o.add("delivered " + r.Addr)
		res[i] = deliver.Result{Status: dsn.New(250, "2.0.0", "ok"), Relay: req.Nexthop}
	}
	return res
}

// TestSlowTransportScriptDelaysOnlyItsDomain: a Lua transport hook whose
// dns.mx for one domain takes at least 500 ms (its DNS server holds the
// answer until the other domains' mail is delivered) does not delay the
// other domains: the daemon's resolver, scripts and queue manager, with
// the order of events asserted, not wall time.
func TestSlowTransportScriptDelaysOnlyItsDomain(t *testing.T) {
	o := &order{fast: make(chan struct{})}
	ns := dnstest.NewServer(t)
	ns.Add(t, "slow.test. 60 IN MX 10 mx.slow.test.")
	ns.Stall("slow.test", 500*time.Millisecond, o.fast, func() { o.add("answered slow.test") })
	dir := t.TempDir()
	script := `local dns = require("dns")
mta.on("transport", function(rcpt)
  local d = rcpt:match("@(.+)$")
  if d == "slow.test" then
    local mx = dns.mx(d)
    return "smtp:[" .. mx[1].host .. "]"
  end
  return "smtp:[" .. d .. "]"
end)`
	if err := os.WriteFile(filepath.Join(dir, "10-route.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Hostname: "mx.test"}
	cfg.DNS.Servers = []string{ns.Addr}
	cfg.DNS.Timeout = config.Duration(20 * time.Second)
	cfg.Hooks.CallTimeout = config.Duration(20 * time.Second) // the stall must not time the hook out
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng, err := newEngine(cfg, dir, false, newResolver(cfg, log), log)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	store, err := queue.Open(filepath.Join(t.TempDir(), "spool"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	mgr := &qmgr.Manager{Store: store, Agents: map[string]deliver.Agent{"smtp": orderAgent{o}}, Resolver: routeResolver(cfg, eng),
		Config: qmgr.Config{MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxLifetime: time.Hour, BounceLifetime: time.Hour,
			ScanInterval: time.Hour, ActiveLimit: 100, Concurrency: 5, InitConcurrency: 5, RcptLimit: 50,
			DeliveryTimeout: 10 * time.Second, MaxDeliveries: 20}, Log: log}
	mgr.Init()
	clean := &cleanup.Cleanup{Store: store, Hostname: "mx.test", Notify: mgr.Wake, Log: log}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { mgr.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for _, rcpt := range []string{"x@slow.test", "y@one.test", "z@two.test"} {
		env := &queue.Envelope{Sender: "a@s.test", Recipients: []queue.Recipient{{Addr: rcpt}}}
		if _, err := clean.Submit(ctx, env, strings.NewReader("Subject: t\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); o.index("delivered x@slow.test") < 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) || mgr.Stats().Deferred > 0 {
			t.Fatalf("slow domain never delivered: %q, %+v", o.lines, mgr.Stats())
		}
	}
	answered := o.index("answered slow.test")
	for _, fast := range []string{"delivered y@one.test", "delivered z@two.test"} {
		if i := o.index(fast); i < 0 || i > answered {
			t.Errorf("%q: %s only after the slow domain's DNS answer", o.lines, fast)
		}
	}
	if got := o.lines; o.index("delivered x@slow.test") < answered {
		t.Errorf("%q: slow domain delivered before it was resolved", got)
	}
}
