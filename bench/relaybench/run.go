package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// point is one cell of the matrix.
type point struct {
	size    int // message size in bytes
	clients int // concurrent SMTP clients
	n       int // messages
}

// setup says which instruments a run uses.
type setup struct {
	bin   string        // built binaries: moonpost, smtpload, smtpsink, diskbench
	work  string        // parent of the per-run directories
	spool string        // the spool's file system: spoolShared, spoolExt4, spoolExt4NoJnl
	gen   string        // generator: smtpload or smtp-source
	sink  string        // sink: smtpsink or smtp-sink
	limit time.Duration // bound on each phase of a run
	// tls, when set, puts STARTTLS on both hops with this certificate
	// (the "tls" workload).
	tls *tlsFiles
	// route, when set, gives each domain its own next hop (the fanout
	// and tarpit workloads).
	route *routing
	// sizeLimit, when set, is both MTAs' message size limit (the large
	// workload: the defaults, 10240000 bytes, are below 10 MiB).
	sizeLimit int64
}

// result is what one run measured.
type result struct {
	accept   float64  // messages/s until the generator had its last 250
	relay    float64  // messages/s until the sink had all n
	cpuMsg   float64  // MTA CPU milliseconds per message (0: not measured)
	helpMsg  float64  // of which the helper processes' (OpenDKIM, rspamd, redis-server)
	peakMiB  float64  // peak summed PSS of the MTA's processes
	received int      // the sink's final count
	dups     int      // duplicates by Message-ID; -1 when the sink cannot tell
	p50, p99 float64  // end of DATA to 250, ms, as the generator saw it (0: not measured)
	timeline []sample // the sink's count over time since the load started (smtpsink only)
	queue    []sample // the MTA's queue files over time, same clock (tarpit, recovery)
	started  time.Time
	want     int // the sink's target when it is not one per message (fanout, tarpit)
	maxConns int // fanout: the most connections to one destination at once
	err      error
}

// ok reports a clean run: no error, every message received exactly once.
func (r result) ok(n int) bool {
	if r.want > 0 {
		n = r.want
	}
	return r.err == nil && r.received == n && r.dups <= 0
}

// measure runs one benchmark: the sink, then the MTA (nil: the load
// goes straight into the sink), then the generator.
func measure(s setup, m mta, p point) result {
	dir, err := os.MkdirTemp(s.work, "relaybench-")
	if err != nil {
		return result{err: err}
	}
	removeDir := atExit(func() { os.RemoveAll(dir) })
	defer removeDir()
	sinkAddr := freeAddr()
	want := ""
	if w, ok := m.(interface{ wantHeader() string }); ok {
		want = w.wantHeader()
	}
	extra := append(tlsArgs(s.tls, "-tls-cert", "-tls-key"), sinkWantArgs(want)...)
	timeline := filepath.Join(dir, "timeline")
	if s.sink == sinkSmtpsink {
		extra = append(extra, "-timeline", timeline)
	}
	sinkTarget, sinkAddrs := p.n, sinkAddr
	var tarpit *sink
	var nd0 int // messages for the tarpit's domain
	if s.route != nil {
		hops := s.route.nexthops()
		routes := map[string]string{}
		for k, h := range hops {
			routes[domain(k)] = h
		}
		if rt, ok := m.(routed); ok {
			rt.setRoutes(routes)
		}
		sinkTarget, sinkAddrs = s.route.mainTarget(p.n), strings.Join(hops, ",")
		if s.route.domains == tarpitDomains {
			nd0 = p.n - sinkTarget
			delay := "0s"
			if s.route.tarpit {
				delay = tarpitDelay.String()
			}
			tp, err := startSink(s.sink, s.bin, hops[0], nd0, "-delay", delay)
			if err != nil {
				return result{err: err}
			}
			defer tp.Finish()
			tarpit, sinkAddrs = tp, strings.Join(hops[1:], ",")
		}
	}
	sinkStart := time.Now()
	sk, err := startSink(s.sink, s.bin, sinkAddrs, sinkTarget, extra...)
	if err != nil {
		return result{err: err}
	}
	defer sk.Finish()
	target := sinkAddr
	if m != nil {
		unmount, err := mountSpool(s.spool, dir)
		if err != nil {
			return result{err: fmt.Errorf("spool file system (-spoolfs none avoids the loop mount): %v", err)}
		}
		defer unmount()
		target = freeAddr()
		if err := m.Start(dir, target, sinkAddr); err != nil {
			return result{err: err}
		}
		defer m.Stop()
	}
	r := drive(s, m, p, sk, target, sinkTarget)
	if sinkTarget != p.n {
		r.want = sinkTarget
	}
	if tarpit != nil && m != nil && r.err == nil {
		// The tarpit's mail is still on its way or deferred, never lost.
		queued, _ := m.Queued()
		got, _, _ := tarpit.Finish()
		if queued+got < nd0 {
			r.err = fmt.Errorf("tarpit: %d messages for it, %d delivered and %d still queued: %d lost", nd0, got, queued, nd0-got-queued)
		}
	}
	if r.err != nil && m != nil {
		logf("%s failed: %v; the end of its log:\n%s", m.Name(), r.err, m.LogTail())
	}
	// Anything late (an excess delivery, a duplicate) still reaches the
	// sink, which keeps counting for this second.
	time.Sleep(time.Second)
	var missing int
	r.received, r.dups, missing = sk.Finish()
	r.timeline = readTimeline(timeline, r.started.Sub(sinkStart).Seconds())
	if r.err == nil && !r.ok(p.n) {
		r.err = fmt.Errorf("sink received %d of %d (%d duplicates)", r.received, sinkTarget, r.dups)
	}
	if r.err == nil && missing > 0 {
		r.err = fmt.Errorf("sink received %d messages without a %s header", missing, want)
	}
	if s.route != nil && s.route.domains == fanoutDomains && m != nil {
		// Each domain is its own next hop: the most connections one
		// sink address had at once is the MTA's concurrency toward
		// one destination, which must stay within both MTAs' limit.
		r.maxConns = sk.MaxConns()
		if r.err == nil && r.maxConns > destinationConcurrency {
			r.err = fmt.Errorf("%d connections at once to one destination, limit %d", r.maxConns, destinationConcurrency)
		}
	}
	return r
}

// drive sends the load and times it; for an MTA it also measures CPU
// and peak memory from just before the load until the queue is empty.
func drive(s setup, m mta, p point, sk *sink, target string, sinkTarget int) (r result) {
	var cpu0, help0 float64
	var mem *memSampler
	if m != nil {
		cpu0, help0 = mtaCPU(m), helperCPU(m)
		mem = sampleMemory(m.Root, 250*time.Millisecond)
	}
	t0 := time.Now()
	r.started = t0
	if m != nil && s.route != nil && s.route.domains == tarpitDomains {
		qs := sampleQueue(m, t0, 500*time.Millisecond)
		defer func() { r.queue = qs.Stop() }()
	}
	argv := generatorArgv(s.gen, s.bin, target, p.n, p.clients, p.size)
	if s.tls != nil {
		argv = append(argv, "-tls")
	}
	if s.route != nil {
		argv = append(argv, "-domains", strconv.Itoa(s.route.domains), "-rcpts", strconv.Itoa(s.route.rcpts))
	}
	out, err := runGenerator(argv, s.limit)
	r.err = err
	r.p50, r.p99 = latencyOf(out)
	r.accept = float64(p.n) / time.Since(t0).Seconds()
	wait := s.limit
	if r.err != nil {
		wait = 30 * time.Second // some messages were never accepted
	}
	select {
	case t := <-sk.reached:
		r.relay = float64(sinkTarget) / t.Sub(t0).Seconds()
	case <-time.After(wait):
		if r.err == nil {
			r.err = fmt.Errorf("the sink did not get %d messages in %v", sinkTarget, wait)
		}
	}
	if m == nil {
		return r
	}
	if s.route == nil || s.route.domains != tarpitDomains {
		// (With a tarpit the queue keeps its mail: measure checks it.)
		if err := waitDrained(m, 30*time.Second); err != nil && r.err == nil {
			r.err = err
		}
	}
	r.cpuMsg = (mtaCPU(m) - cpu0) / float64(p.n) * 1000
	r.helpMsg = (helperCPU(m) - help0) / float64(p.n) * 1000
	r.peakMiB = float64(mem.Stop()) / (1 << 20)
	return r
}

// mtaCPU is the CPU seconds of the MTA's process tree and of the helper
// processes outside it that do its work (OpenDKIM, rspamd, redis-server).
func mtaCPU(m mta) float64 { return treeCPU(m.Root()) + helperCPU(m) }

// helperCPU is the CPU seconds of the helper processes alone.
func helperCPU(m mta) float64 {
	var cpu float64
	if h, ok := m.(interface{ helpers() []int }); ok {
		for _, pid := range h.helpers() {
			cpu += treeCPU(pid)
		}
	}
	return cpu
}

// queueSampler records an MTA's queue size (its queue files, as
// mta.Queued counts them: for Postfix the files under maildrop/,
// incoming/, active/, deferred/ and hold/) every interval.
type queueSampler struct {
	stop chan struct{}
	done chan []sample
}

func sampleQueue(m mta, t0 time.Time, every time.Duration) *queueSampler {
	q := &queueSampler{stop: make(chan struct{}), done: make(chan []sample, 1)}
	go func() {
		var out []sample
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			n, _ := m.Queued()
			out = append(out, sample{time.Since(t0).Seconds(), n})
			select {
			case <-q.stop:
				// The last sample is the moment sampling stops: what
				// is left queued then (a tarpit's mail) shows.
				n, _ := m.Queued()
				q.done <- append(out, sample{time.Since(t0).Seconds(), n})
				return
			case <-t.C:
			}
		}
	}()
	return q
}

// Stop ends sampling and returns the samples.
func (q *queueSampler) Stop() []sample {
	close(q.stop)
	return <-q.done
}

// waitDrained waits until the MTA has no message left in its queue.
func waitDrained(m mta, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		q, d := m.Queued()
		if q == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still has %d queued (%d deferred) after %v", m.Name(), q, d, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
