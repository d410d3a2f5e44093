package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// measureRecovery runs the recovery workload: p.n messages to
// recoveryDomains domains, each its own next hop, injected while no next
// hop listens, so the MTA defers them all; then every sink comes up, the
// MTA is flushed, and the drain is timed. accept is the injection rate,
// relay the drain rate (from the flush to the last message at the sink);
// CPU and peak memory are the drain's.
func measureRecovery(s setup, m mta, p point) result {
	dir, err := os.MkdirTemp(s.work, "relaybench-")
	if err != nil {
		return result{err: err}
	}
	defer atExit(func() { os.RemoveAll(dir) })()
	route := &routing{domains: recoveryDomains, rcpts: 1}
	hops := route.nexthops()
	routes := map[string]string{}
	for k, h := range hops {
		routes[domain(k)] = h
	}
	rt, ok := m.(routed)
	fl, canFlush := m.(flusher)
	if !ok || !canFlush {
		return result{err: fmt.Errorf("%s cannot be routed per domain or flushed", m.Name())}
	}
	rt.setRoutes(routes)
	defer spoolFor(p.n)() // the whole outage's mail queued at once
	unmount, err := mountSpool(s.spool, dir)
	if err != nil {
		return result{err: fmt.Errorf("spool file system (-spoolfs none avoids the loop mount): %v", err)}
	}
	defer unmount()
	target := freeAddr()
	if err := m.Start(dir, target, hops[0]); err != nil {
		return result{err: err}
	}
	defer m.Stop()

	// The outage: nothing listens on any next hop.
	var r result
	// The whole outage's mail is injected in one go: bound it by -limit,
	// not by the generator's own default.
	argv := append(generatorArgv(s.gen, s.bin, target, p.n, p.clients, p.size), "-domains", strconv.Itoa(recoveryDomains))
	if s.gen == genSmtpload {
		argv = append(argv, "-timeout", s.limit.String())
	}
	t0 := time.Now()
	out, err := runGenerator(argv, s.limit)
	if err != nil {
		return result{err: err}
	}
	r.p50, r.p99 = latencyOf(out)
	r.accept = float64(p.n) / time.Since(t0).Seconds()
	if err := waitDeferred(m, p.n, s.limit); err != nil {
		return result{err: err}
	}
	logf("%s: %d messages deferred to %d next hops; the receivers come back", m.Name(), p.n, recoveryDomains)

	// The receivers are back; flush.
	timeline := filepath.Join(dir, "timeline")
	sinkStart := time.Now()
	sk, err := startSink(s.sink, s.bin, strings.Join(hops, ","), p.n, "-timeline", timeline)
	if err != nil {
		return result{err: err}
	}
	defer sk.Finish()
	cpu0 := mtaCPU(m)
	mem := sampleMemory(m.Root, 250*time.Millisecond)
	r.started = time.Now()
	// Each sample walks the whole queue: once a second is enough.
	qs := sampleQueue(m, r.started, time.Second)
	if err := fl.Flush(); err != nil {
		qs.Stop()
		mem.Stop()
		return result{err: err}
	}
	select {
	case t := <-sk.reached:
		r.relay = float64(p.n) / t.Sub(r.started).Seconds()
	case <-time.After(s.limit):
		r.err = fmt.Errorf("the sink did not get %d messages in %v after the flush", p.n, s.limit)
	}
	if err := waitDrained(m, 30*time.Second); err != nil && r.err == nil {
		r.err = err
	}
	r.queue = qs.Stop()
	r.cpuMsg = (mtaCPU(m) - cpu0) / float64(p.n) * 1000
	r.peakMiB = float64(mem.Stop()) / (1 << 20)
	time.Sleep(time.Second)
	r.received, r.dups, _ = sk.Finish()
	r.timeline = readTimeline(timeline, r.started.Sub(sinkStart).Seconds())
	if r.err == nil && !r.ok(p.n) {
		r.err = fmt.Errorf("sink received %d of %d (%d duplicates)", r.received, p.n, r.dups)
	}
	if r.err != nil {
		logf("%s failed: %v; the end of its log:\n%s", m.Name(), r.err, m.LogTail())
	}
	return r
}

// waitDeferred waits until all n messages are in the MTA's deferred
// queue, each tried once.
func waitDeferred(m mta, n int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		q, d := m.Queued()
		if d >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d deferred (%d queued) after %v", m.Name(), d, n, q, limit)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
