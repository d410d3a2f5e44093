package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The million workload (issue 20, workload 6): a deferred queue of N
// messages (a million by default), then what it costs to live with it:
// listing it (`moonpost queue list`, `postqueue -p`; moonpost's REPL
// `queue.list{}` too), starting the MTA until it accepts a message, and
// the MTA's memory once started. moonpost's queue is filled by
// bench/queuefill through the queue package (1 KiB messages, one
// recipient each over 50 domains, next attempt in an hour); Postfix's,
// which has no such tool, by smtpload into a Postfix whose relay host is
// down, so every message is deferred after one attempt: up to
// postfixSeed messages, and copies of those queue files beyond that
// (replicateDeferred).
const (
	workloadMillion = "million"
	// idleAfter is how long after the start the idle memory is taken:
	// the start's deferred scan is over by then.
	idleAfter = 15 * time.Second
)

// millionResult is what one million run measured.
type millionResult struct {
	n        int
	fill     float64 // seconds to fill the queue
	listS    float64 // queue list / postqueue -p: wall seconds
	listRSS  float64 // its peak RSS, MiB (the client's ru_maxrss)
	listPeak float64 // the MTA's peak PSS meanwhile, MiB (Postfix's showq works for postqueue)
	listed   int     // messages the listing showed
	replS    float64 // moonpost's REPL `return #queue.list{}`: wall seconds
	replPeak float64 // the daemon's peak PSS meanwhile, MiB
	replErr  string  // why the REPL did not list them all
	// the same for the streaming form, queue.list({}, fn)
	streamS, streamPeak float64
	streamErr           string
	startS              float64 // exec of the MTA to the 250 of a message
	startPeak           float64 // the MTA's peak PSS from its start to idleAfter, MiB
	idle                float64 // its PSS at idleAfter, MiB
	err                 error
}

// measureMillion runs the million workload for one MTA.
func measureMillion(s setup, m mta, n, clients int) (r millionResult) {
	r.n = n
	dir, err := os.MkdirTemp(s.work, "relaybench-")
	if err != nil {
		return millionResult{err: err}
	}
	defer atExit(func() { os.RemoveAll(dir) })()
	unmount, err := mountSpool(s.spool, dir)
	if err != nil {
		return millionResult{err: fmt.Errorf("spool file system (-spoolfs none avoids the loop mount): %v", err)}
	}
	defer unmount()
	listen, down := freeAddr(), freeAddr() // nothing listens on down: the relay host is out
	defer func() {
		if r.err != nil {
			logf("%s failed: %v; the end of its log:\n%s", m.Name(), r.err, m.LogTail())
		}
	}()
	switch mt := m.(type) {
	case *moonpost:
		t0 := time.Now()
		out, err := exec.Command(filepath.Join(s.bin, "queuefill"), "-spool", filepath.Join(dir, "spool"),
			"-n", strconv.Itoa(n)).CombinedOutput()
		if err != nil {
			return millionResult{err: fmt.Errorf("queuefill: %v\n%s", err, out)}
		}
		r.fill = time.Since(t0).Seconds()
		logf("%s: %d deferred messages filled in %.1f s", m.Name(), n, r.fill)
		if r.startS, r.startPeak, r.idle, r.err = timeStart(m, func() error { return m.Start(dir, listen, down) }, listen); r.err != nil {
			return r
		}
		defer m.Stop()
		cfg := filepath.Join(dir, "moonpost.toml")
		r.listS, r.listRSS, r.listPeak, r.listed, r.err = timeListing(m,
			exec.Command(filepath.Join(s.bin, "moonpost"), "queue", "list", "-c", cfg), countMailq)
		if r.err != nil {
			return r
		}
		// The REPL runs inside the daemon: its cost is the daemon's. The
		// streaming form first: the table form leaves the daemon's heap
		// large (its garbage is collected against a goal five times the
		// live heap, GOGC=400), which would count against the other.
		// The streaming form asks for the longest chunk deadline (an
		// admin walking a big queue would); the table form keeps the
		// default 10 s, as it holds every entry (about 5 KB each).
		r.streamS, r.streamPeak, r.streamErr = timeREPL(m, s.bin, cfg, "return queue.list({}, function(e) end)", n, "1h")
		r.replS, r.replPeak, r.replErr = timeREPL(m, s.bin, cfg, "return #queue.list{}", n, "")
	case *postfix:
		if err := mt.Start(dir, listen, down); err != nil {
			return millionResult{err: err}
		}
		defer m.Stop()
		// Filling over SMTP is slow (200–250 msg/s on a small machine):
		// up to postfixSeed messages come that way (the bound on it grows
		// with them, at 50 msg/s, above -limit), the rest are copies.
		seeded := min(n, postfixSeed)
		limit := max(s.limit, time.Duration(seeded/50)*time.Second)
		t0 := time.Now()
		argv := append(generatorArgv(genSmtpload, s.bin, listen, seeded, clients, 1024), "-timeout", limit.String())
		if _, err := runGenerator(argv, limit); err != nil {
			return millionResult{err: err}
		}
		if err := waitDeferred(m, seeded, limit); err != nil {
			return millionResult{err: err}
		}
		logf("%s: %d messages deferred over SMTP in %.1f s", m.Name(), seeded, time.Since(t0).Seconds())
		if n > seeded {
			if err := mt.stopWait(); err != nil {
				return millionResult{err: err}
			}
			if err := replicateDeferred(mt.etc(), filepath.Join(dir, "spool"), n); err != nil {
				return millionResult{err: err}
			}
			if err := command("postfix", "-c", mt.etc(), "start"); err != nil {
				return millionResult{err: err}
			}
			if err := waitListening(listen, time.Minute); err != nil {
				return millionResult{err: err}
			}
			if _, d := m.Queued(); d < n {
				return millionResult{err: fmt.Errorf("%d of %d deferred after the copies", d, n)}
			}
		}
		r.fill = time.Since(t0).Seconds()
		logf("%s: %d messages deferred in %.1f s", m.Name(), n, r.fill)
		r.listS, r.listRSS, r.listPeak, r.listed, r.err = timeListing(m,
			exec.Command("postqueue", "-c", mt.etc(), "-p"), countMailq)
		if r.err != nil {
			return r
		}
		if err := mt.stopWait(); err != nil {
			return millionResult{err: err}
		}
		r.startS, r.startPeak, r.idle, r.err = timeStart(m, func() error {
			if err := command("postfix", "-c", mt.etc(), "start"); err != nil {
				return err
			}
			return waitListening(listen, 20*time.Second)
		}, listen)
	default:
		return millionResult{err: fmt.Errorf("%s: no million workload", m.Name())}
	}
	return r
}

// timeREPL runs one chunk that returns how many messages it listed,
// and returns its wall time, the daemon's peak PSS and why it fell
// short of n ("" when it did not).
func timeREPL(m mta, bin, cfg, code string, n int, timeout string) (secs, peak float64, why string) {
	argv := []string{"repl", "-c", cfg, "-e", code}
	if timeout != "" {
		argv = append(argv, "-timeout", timeout)
	}
	secs, _, peak, got, err := timeListing(m, exec.Command(filepath.Join(bin, "moonpost"), argv...), countNumber)
	switch {
	case err != nil:
		why = firstLineOf(err.Error())
	case got < n:
		why = fmt.Sprintf("listed %d of %d", got, n)
	}
	return secs, peak, why
}

// timeStart starts the MTA and times it until a message sent to listen
// has its 250; then it samples the MTA's memory until idleAfter.
func timeStart(m mta, start func() error, listen string) (secs, peak, idle float64, err error) {
	t0 := time.Now()
	if err := start(); err != nil {
		return 0, 0, 0, err
	}
	mem := sampleMemory(m.Root, 250*time.Millisecond)
	for {
		err = sendOne(listen)
		if err == nil || time.Since(t0) > 60*time.Second {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	secs = time.Since(t0).Seconds()
	if err != nil {
		mem.Stop()
		return secs, 0, 0, fmt.Errorf("no message accepted %.0f s after the start: %v", secs, err)
	}
	time.Sleep(time.Until(t0.Add(idleAfter)))
	peak = float64(mem.Stop()) / (1 << 20)
	var sum int64
	for pid := range tree(m.Root()) {
		sum += pss(pid)
	}
	return secs, peak, float64(sum) / (1 << 20), nil
}

// sendOne sends one small message to addr: greeting, EHLO, MAIL, RCPT,
// DATA, 250.
func sendOne(addr string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("load.example.org"); err != nil {
		return err
	}
	if err := c.Mail("load@example.org"); err != nil {
		return err
	}
	if err := c.Rcpt("sink@remote.test"); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	io.WriteString(w, "From: <load@example.org>\r\nSubject: start\r\nMessage-ID: <start@load.example.org>\r\n\r\nhello\r\n")
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// timeListing runs a listing command with its output counted by count,
// and returns its wall time, its peak RSS (VmHWM), the MTA's peak PSS
// meanwhile and the count.
func timeListing(m mta, cmd *exec.Cmd, count func(io.Reader) int) (secs, rss, peak float64, n int, err error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	mem := sampleMemory(m.Root, 100*time.Millisecond)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		mem.Stop()
		return 0, 0, 0, 0, err
	}
	stop := atExit(func() { cmd.Process.Kill() })
	hwm := sampleHWM(cmd.Process.Pid)
	n = count(out)
	rss = float64(hwm()) / 1024
	err = cmd.Wait()
	stop()
	secs = time.Since(t0).Seconds()
	peak = float64(mem.Stop()) / (1 << 20)
	if err != nil {
		return secs, rss, peak, n, fmt.Errorf("%s: %v: %s", cmd.Args[0], err, strings.TrimSpace(stderr.String()))
	}
	return secs, rss, peak, n, nil
}

// countMailq reads mailq's format (moonpost's and Postfix's alike) and
// returns the N of its last line, "-- K Kbytes in N Requests.", or 0
// for "Mail queue is empty".
func countMailq(r io.Reader) int {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 5 && f[0] == "--" && strings.HasPrefix(f[len(f)-1], "Request") {
			n, _ = strconv.Atoi(f[len(f)-2])
		}
	}
	return n
}

// countNumber reads the REPL's printed result, one number.
func countNumber(r io.Reader) int {
	b, _ := io.ReadAll(r)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func firstLineOf(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// million runs the workload for every MTA and reports it.
func million(o options, rep *report) {
	n := o.millionN
	mtas := []string{}
	for _, name := range o.mtas {
		if name == "postfix" || name == "moonpost" {
			mtas = append(mtas, name)
		}
	}
	defer spoolFor(n)()
	rows := map[string][]millionResult{}
	for i := 0; i < o.runs; i++ {
		for _, name := range mtas {
			r := measureMillion(o.setup, newMTA(name, o.setup), n, o.clients[0])
			status := "ok"
			if r.err != nil {
				status = "FAILED: " + r.err.Error()
			}
			logf("%s million n=%d run %d: fill %.1f s, list %.2f s rss %.1f MiB (MTA peak %.1f), repl %.2f s peak %.1f MiB %s, streaming %.2f s peak %.1f MiB %s, start→250 %.2f s, start peak %.1f MiB, idle %.1f MiB — %s",
				name, n, i+1, r.fill, r.listS, r.listRSS, r.listPeak, r.replS, r.replPeak, r.replErr, r.streamS, r.streamPeak, r.streamErr, r.startS, r.startPeak, r.idle, status)
			rows[name] = append(rows[name], r)
		}
	}
	rep.million(n, mtas, rows)
}

// stopWait stops Postfix and waits (up to 30 s) for its master to exit.
func (p *postfix) stopWait() error {
	if err := command("postfix", "-c", p.etc(), "stop"); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); p.Root() > 0 && alive(p.Root()) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// sampleHWM reads pid's VmHWM (its peak resident set, KiB) every 20 ms
// until the returned function is called, which returns the last value
// read. Not ru_maxrss from wait4: Linux counts in it the parent's
// resident set at the fork (Go forks sharing its memory), so a listing
// started by a large relaybench would report relaybench's size.
func sampleHWM(pid int) func() int64 {
	status := filepath.Join("/proc", strconv.Itoa(pid), "status")
	var (
		mu   sync.Mutex
		last int64
	)
	read := func() {
		v := kbField(status, "VmHWM:")
		mu.Lock()
		last = max(last, v)
		mu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		read() // the output is read to its end: the process is exiting, not yet reaped
		close(done)
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}
