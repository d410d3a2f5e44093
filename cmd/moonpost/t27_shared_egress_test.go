package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/testserver"
)

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
	// Every accepted message, not just as many arrivals: a delivery the
	// kill cut short may arrive twice while a later one is still paced.
	msgs := waitSinkAll(t, nodes[0], s, accepted, 40*time.Second)

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

// waitSinkAll waits until the sink has a message with each subject of
// want, up to limit, and returns what it received.
func waitSinkAll(t *testing.T, d *daemon, s *sink, want map[string]bool, limit time.Duration) []sinkMsg {
	t.Helper()
	for deadline := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		msgs := s.received()
		seen := map[string]bool{}
		for _, m := range msgs {
			seen[subjectOf(m.Data)] = true
		}
		missing := 0
		for key := range want {
			if !seen[key] {
				missing++
			}
		}
		if missing == 0 {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink has %d messages, %d of the %d accepted missing\n%s", len(msgs), missing, len(want), d.logs())
		}
	}
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
