package hooks

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
)

func TestBreakerStateMachine(t *testing.T) {
	now := time.Unix(1000, 0)
	b := newBreaker(3, 10*time.Second, time.Second)
	run := func(failed bool) (ran bool) {
		ok, probe := b.allow(now)
		if ok {
			b.done(now, probe, failed)
		}
		return ok
	}
	state := func(want string) {
		t.Helper()
		if got := b.status("rcpt").State; got != want {
			t.Fatalf("state %s, want %s", got, want)
		}
	}
	// Successes reset the count: failures must come in a row.
	for _, failed := range []bool{true, true, false, true, true} {
		if !run(failed) {
			t.Fatal("closed breaker refused a call")
		}
	}
	state("closed")
	run(true) // the third in a row
	state("open")
	if run(false) {
		t.Fatal("open breaker let a call run")
	}
	now = now.Add(9 * time.Second)
	if run(false) {
		t.Fatal("let a call run before the cooldown")
	}
	now = now.Add(time.Second)
	// Half-open: one probe at a time; the others are refused meanwhile.
	ok, probe := b.allow(now)
	if !ok || !probe {
		t.Fatalf("after the cooldown: ok=%v probe=%v, want the probe", ok, probe)
	}
	state("half-open")
	if ok2, _ := b.allow(now); ok2 {
		t.Fatal("a second call ran beside the probe")
	}
	if ch := b.done(now, true, true); ch != "open" {
		t.Fatalf("failed probe: %q, want open", ch)
	}
	state("open")
	now = now.Add(10 * time.Second)
	ok, probe = b.allow(now)
	if ch := b.done(now, probe, false); !ok || ch != "closed" {
		t.Fatalf("good probe: ok=%v change %q", ok, ch)
	}
	state("closed")
	// A call let in while closed that ends after the breaker opened
	// does not change it.
	ok1, p1 := b.allow(now)
	for range 3 {
		run(true)
	}
	state("open")
	b.done(now, p1, false)
	if !ok1 || b.status("rcpt").State != "open" {
		t.Fatal("a late success closed an open breaker")
	}
}

func TestLogLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := logLimiter{every: 10 * time.Second}
	if ok, n := l.allow(now); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for range 99 {
		if ok, _ := l.allow(now.Add(time.Second)); ok {
			t.Fatal("a second line inside the interval")
		}
	}
	if ok, n := l.allow(now.Add(10 * time.Second)); !ok || n != 99 {
		t.Fatalf("after the interval: %v, %d held back, want 99", ok, n)
	}
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
	last   map[string][]slog.Attr
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[r.Message]++
	var attrs []slog.Attr
	r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a); return true })
	h.last[r.Message] = attrs
	return nil
}

func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

func (h *countingHandler) attr(msg, key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.last[msg] {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

const breakerScript = `
mta.on("rcpt", function(s, to)
  if to == "bad" then error("broken") end
  if to == "slow" then while true do end end
  return mta.reject(550, "5.1.1", "fine")
end)
mta.on("helo", function(s, helo) return nil end)
`

// TestBreakerComponent drives a failing rcpt handler through the engine
// with a fake clock: the breaker opens after the threshold, calls then
// fail without running Lua, a probe after the cooldown closes it, a
// reload starts closed, and the error log holds one line per interval
// with a count of the rest.
func TestBreakerComponent(t *testing.T) {
	logs := &countingHandler{counts: map[string]int{}, last: map[string][]slog.Attr{}}
	e := newEngine(t, map[string]string{"10-b.lua": breakerScript}, func(c *Config) {
		c.Logger = slog.New(logs)
		c.BreakerThreshold = 5
		c.BreakerCooldown = 30 * time.Second
		c.ErrorLogInterval = 10 * time.Second
		c.CallTimeout = 100 * time.Millisecond
	})
	now := time.Unix(1000, 0)
	e.now = func() time.Time { return now }
	s := &policy.Session{}
	for range 5 {
		_, err := e.Rcpt(ctx(t), s, "bad")
		wantErrContains(t, err, "broken")
	}
	if got := breakerOf(e, "rcpt"); got != "open" {
		t.Fatalf("after 5 failures: %s", got)
	}
	// Open: even a good call fails at once, without running Lua.
	for range 200 {
		_, err := e.Rcpt(ctx(t), s, "slow")
		wantErrContains(t, err, "circuit breaker open")
	}
	if breakerOf(e, "helo") != "closed" {
		t.Error("another event's breaker opened too")
	}
	if n := logs.count("hook failed"); n != 1 {
		t.Errorf("%d error lines for 205 failures within one interval, want 1", n)
	}
	if n := logs.count("circuit breaker open: handlers not run until a probe call succeeds"); n != 1 {
		t.Errorf("%d lines for the opening, want 1", n)
	}
	now = now.Add(10 * time.Second)
	_, _ = e.Rcpt(ctx(t), s, "slow")
	if n, held := logs.count("hook failed"), logs.attr("hook failed", "suppressed"); n != 2 || held != "204" {
		t.Errorf("after the interval: %d lines, suppressed=%s; want 2 and 204", n, held)
	}
	now = now.Add(20 * time.Second) // the cooldown is over: one probe
	st, err := e.Rcpt(ctx(t), s, "ok")
	if err != nil || st == nil || st.Code != 550 {
		t.Fatalf("probe: %v, %v", st, err)
	}
	if got := breakerOf(e, "rcpt"); got != "closed" {
		t.Fatalf("after a good probe: %s", got)
	}
	for range 5 {
		e.Rcpt(ctx(t), s, "bad")
	}
	if breakerOf(e, "rcpt") != "open" {
		t.Fatal("did not open again")
	}
	L := e.NewState() // the REPL's view
	defer L.Close()
	if err := L.DoString(`return hooks.breakers().rcpt.state, hooks.breakers().helo.state`); err != nil {
		t.Fatal(err)
	}
	if rcpt, helo := L.Get(1).String(), L.Get(2).String(); rcpt != "open" || helo != "closed" {
		t.Errorf("hooks.breakers(): rcpt %s, helo %s", rcpt, helo)
	}
	if got := e.BreakerStates()["rcpt"]; got != "open" {
		t.Errorf("BreakerStates: rcpt %s", got)
	}
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := breakerOf(e, "rcpt"); got != "closed" {
		t.Errorf("new generation starts %s", got)
	}
}

func TestBreakerFallbackSkip(t *testing.T) {
	e := newEngine(t, map[string]string{"10-b.lua": breakerScript}, func(c *Config) {
		c.BreakerThreshold = 2
		c.BreakerFallback = FallbackSkip
	})
	for range 2 {
		e.Rcpt(ctx(t), &policy.Session{}, "bad")
	}
	st, err := e.Rcpt(ctx(t), &policy.Session{}, "bad")
	if err != nil || st != nil {
		t.Fatalf("open breaker with skip: %v, %v; want no decision", st, err)
	}
}

func breakerOf(e *Engine, event string) string {
	for _, b := range e.Breakers() {
		if b.Event == event {
			return b.State
		}
	}
	return "none"
}

// BenchmarkBreakerUnrelated measures the throughput of unrelated calls
// (rewrite, on the same engine) while 4 goroutines call rcpt, each
// waiting a millisecond between calls as an SMTP client waits for its
// round trip: with no such load, with a working rcpt handler, and with
// one that loops until its 1s deadline, the breaker on (measured once it
// has opened) and off. It reports rewrites per second.
//
//	go test -run '^$' -bench BreakerUnrelated -benchtime 3s ./hooks/
func BenchmarkBreakerUnrelated(b *testing.B) {
	for _, tc := range []struct {
		name      string
		rcpt      string // "": no rcpt load
		threshold int
	}{{"idle", "", 5}, {"working_rcpt", "ok", 5}, {"looping_rcpt_breaker", "slow", 5}, {"looping_rcpt_no_breaker", "slow", -1}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEngine(b, map[string]string{"10-b.lua": breakerScript + `
mta.on("rewrite", function(addr) return addr:lower() end)`}, func(c *Config) {
				c.CallTimeout = time.Second
				c.BreakerThreshold = tc.threshold
			})
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; tc.rcpt != "" && i < 4; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						e.Rcpt(context.Background(), &policy.Session{}, tc.rcpt)
						time.Sleep(time.Millisecond)
					}
				}()
			}
			if tc.threshold > 0 && tc.rcpt == "slow" {
				for deadline := time.Now().Add(10 * time.Second); breakerOf(e, "rcpt") != "open"; {
					if time.Now().After(deadline) {
						b.Fatal("breaker did not open")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			addr := strings.Repeat("A", 20) + "@EXAMPLE.COM"
			start := time.Now()
			n := 0
			for b.Loop() {
				if _, err := e.Rewrite(context.Background(), addr, policy.AddrContext{}); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rewrites/s")
			close(stop)
			wg.Wait()
		})
	}
}
