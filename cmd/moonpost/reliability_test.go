package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Helpers shared by the reliability scenarios (t12 and later): the long
// switch, a seeded random source, a load generator that survives the
// daemon dying under it, and /proc readings of the daemon process.

// long reports whether the long forms were asked for (MOONPOST_LONG=1);
// CI runs the short forms, which prove the same properties on fewer
// rounds.
func long() bool { return os.Getenv("MOONPOST_LONG") == "1" }

// pick returns short or, under MOONPOST_LONG=1, long.
func pick(short, lng int) int {
	if long() {
		return lng
	}
	return short
}

// seeded returns a random source whose seed is logged and can be fixed
// with MOONPOST_SEED, so a failing kill schedule can be replayed.
func seeded(t *testing.T) *rand.Rand {
	seed := time.Now().UnixNano()
	if s, err := strconv.ParseInt(os.Getenv("MOONPOST_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("MOONPOST_SEED=%d", seed)
	return rand.New(rand.NewSource(seed))
}

// loadGen sends one message per connection from several workers until
// stopped, through kills and restarts: a failed transaction is simply
// not acknowledged, and the worker tries again a moment later. Each
// message carries its own Message-ID so the sink can spot duplicates.
type loadGen struct {
	addr  string
	stop  chan struct{}
	wg    sync.WaitGroup
	seq   atomic.Int64
	mu    sync.Mutex
	acked map[string]string // Message-ID → queue ID from the 250 reply
}

func startLoad(addr string, workers int) *loadGen {
	g := &loadGen{addr: addr, stop: make(chan struct{}), acked: map[string]string{}}
	for w := 0; w < workers; w++ {
		g.wg.Add(1)
		go g.worker()
	}
	return g
}

func (g *loadGen) worker() {
	defer g.wg.Done()
	for {
		select {
		case <-g.stop:
			return
		default:
		}
		mid := fmt.Sprintf("<load-%d@load.test>", g.seq.Add(1))
		id, ok := sendTagged(g.addr, mid)
		if !ok {
			time.Sleep(10 * time.Millisecond) // the daemon is down or refusing
			continue
		}
		g.mu.Lock()
		g.acked[mid] = id
		g.mu.Unlock()
	}
}

// halt stops the workers and returns what was acknowledged.
func (g *loadGen) halt() map[string]string {
	close(g.stop)
	g.wg.Wait()
	return g.acked
}

func (g *loadGen) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.acked) }

// sendTagged runs one transaction to a remote recipient and returns the
// queue ID of a 250; ok is false for anything else.
func sendTagged(addr, mid string) (string, bool) {
	c, err := dialQuiet(addr)
	if err != nil {
		return "", false
	}
	defer c.Close()
	for _, l := range []string{"EHLO load.test", "MAIL FROM:<load@example.org>", "RCPT TO:<sink@remote.test>", "DATA"} {
		if _, err := c.cmd(l); err != nil {
			return "", false
		}
	}
	body := "Message-ID: " + mid + "\r\nSubject: load\r\n\r\n" + strings.Repeat("0123456789abcdef", 32)
	code, text, err := c.data(body)
	if err != nil || code != 250 {
		return "", false
	}
	return queuedID(text), true
}

// byMessageID counts the sink's messages per Message-ID.
func byMessageID(msgs []sinkMsg) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		head, _, _ := strings.Cut(m.Data, "\r\n\r\n")
		for _, l := range strings.Split(head, "\r\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Message-ID") {
				n[strings.TrimSpace(v)]++
			}
		}
	}
	return n
}

// pid returns the running daemon's process ID.

// fds counts the daemon's open file descriptors.
func (d *daemon) fds() int {
	des, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.pid()))
	if err != nil {
		d.t.Fatalf("reading the daemon's fds: %v", err)
	}
	return len(des)
}

// procStatus reads one "Key: value kB" field of /proc/PID/status, in kB
// (or the plain number for counts such as Threads).
func (d *daemon) procStatus(key string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.pid()))
	if err != nil {
		d.t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	d.t.Fatalf("no %s in /proc/%d/status", key, d.pid())
	return 0
}

// settleFDs waits (bounded) for the daemon's descriptor count to fall to
// at most want, and returns the last count: closing sockets after a
// failed delivery is asynchronous, so one reading could be early.
func (d *daemon) settleFDs(want int) int {
	n := d.fds()
	for deadline := time.Now().Add(10 * time.Second); n > want && time.Now().Before(deadline); n = d.fds() {
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// queueIDs lists the committed files of the given queue directories.
func (d *daemon) queueIDs(states ...string) map[string]bool {
	ids := map[string]bool{}
	for _, st := range states {
		for _, p := range d.queued(st) {
			ids[filepath.Base(p)] = true
		}
	}
	return ids
}

// waitEmpty waits until no message is queued anywhere but corrupt/.
func (d *daemon) waitEmpty(timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := d.queueIDs("maildrop", "incoming", "active", "deferred", "hold")
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			_, out := d.run("", "queue", "list")
			d.t.Fatalf("%d messages still queued:\n%s", len(left), out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
