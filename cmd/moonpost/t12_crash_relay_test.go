package main

import (
	"fmt"
	"math/rand"
	"syscall"
	"testing"
	"time"
)

// crashConfig relays everything to the sink and retries quickly, so that
// mail recovered or deferred across a restart flows again within the test.
func crashConfig(s *sink) string {
	return fmt.Sprintf(`relayhost = "[127.0.0.1]:%s"
[smtp]
tls = "none"
connect_timeout = "2s"
command_timeout = "10s"
[queue]
min_backoff = "1s"
max_backoff = "2s"
scan_interval = "1s"`, s.port())
}

// crashRun is the outcome of a kill schedule.
type crashRun struct {
	rounds   int
	acked    map[string]string // Message-ID → queue ID
	inflight map[string]bool   // queue IDs in active/ at some kill
}

// interrupt runs load against the daemon while sending it sig at random
// moments, restarting it after each; the daemon is left running.
func interrupt(t *testing.T, d *daemon, sig syscall.Signal, rounds int, rng *rand.Rand) crashRun {
	run := crashRun{rounds: rounds, inflight: map[string]bool{}}
	d.start()
	g := startLoad(d.addr, 6)
	for r := 0; r < rounds; r++ {
		// Wait for a random moment, and for at least some traffic, so
		// that every round kills something in motion.
		time.Sleep(time.Duration(150+rng.Intn(600)) * time.Millisecond)
		for n := g.count(); g.count() == n; {
			time.Sleep(5 * time.Millisecond)
		}
		d.signal(sig)
		// After SIGKILL the spool is exactly as the process left it: what
		// is in active/ was in the middle of delivery.
		for id := range d.queueIDs("active") {
			run.inflight[id] = true
		}
		d.start()
	}
	run.acked = g.halt()
	return run
}

// verify waits for everything acknowledged to reach the sink and the
// queue to empty, then checks loss, duplicates and corrupt/. It returns
// the number of duplicated messages.
func (run crashRun) verify(t *testing.T, d *daemon, s *sink) int {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var got map[string]int
	for {
		got = byMessageID(s.received())
		missing := 0
		for mid := range run.acked {
			if got[mid] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			_, out := d.run("", "queue", "list")
			t.Fatalf("%d of %d acknowledged messages never reached the sink\nqueue:\n%s", missing, len(run.acked), out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.waitEmpty(30 * time.Second)
	if n := len(d.queued("corrupt")); n != 0 {
		t.Errorf("%d files in corrupt/", n)
	}
	dups := 0
	for mid, n := range got {
		if n < 2 {
			continue
		}
		dups++
		if id, ok := run.acked[mid]; ok && !run.inflight[id] {
			t.Errorf("%s (queue ID %s) delivered %d times but was not in flight at any kill", mid, id, n)
		}
	}
	return dups
}

// Scenario 12: SIGKILL the daemon at random moments while a load
// generator sends and the daemon relays to a sink. Every message that got
// a 250 reaches the sink; only messages in active/ at a kill may arrive
// twice; nothing is corrupt or left queued.
func TestT12KillWhileRelaying(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, crashConfig(s))
	run := interrupt(t, d, syscall.SIGKILL, pick(6, 40), seeded(t))
	if len(run.acked) < 50 {
		t.Fatalf("only %d messages acknowledged; the load did not run", len(run.acked))
	}
	dups := run.verify(t, d, s)
	t.Logf("FIGURES crash/SIGKILL: rounds=%d kills=%d acknowledged=%d received=%d in_flight_at_kills=%d duplicates=%d",
		run.rounds, run.rounds, len(run.acked), len(s.received()), len(run.inflight), dups)
}

// Scenario 12b: the same with SIGTERM. A graceful shutdown lets the
// transactions and deliveries in progress finish and records their
// outcomes, so nothing is lost and nothing arrives twice.
func TestT12TermWhileRelaying(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, crashConfig(s))
	run := interrupt(t, d, syscall.SIGTERM, pick(3, 20), seeded(t))
	if len(run.acked) < 50 {
		t.Fatalf("only %d messages acknowledged; the load did not run", len(run.acked))
	}
	dups := run.verify(t, d, s)
	if dups != 0 {
		t.Errorf("%d messages delivered twice across graceful shutdowns", dups)
	}
	t.Logf("FIGURES crash/SIGTERM: rounds=%d acknowledged=%d received=%d duplicates=%d",
		run.rounds, len(run.acked), len(s.received()), dups)
}
