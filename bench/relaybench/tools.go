package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The instruments. Postfix's smtp-source and smtp-sink are the standard;
// bench/smtpload and bench/smtpsink are the project's own, checked
// against them by -check (docs/performance.md records the check).
const (
	genSmtpload   = "smtpload"
	genSmtpSource = "smtp-source"
	sinkSmtpsink  = "smtpsink"
	sinkSmtpSink  = "smtp-sink"
)

// smtpSourceHeader is about what smtp-source puts before its -l payload
// (From, To, Date, Message-Id), so both generators send messages of
// about the same total size.
const smtpSourceHeader = 128

// generatorArgv is the command line that sends n messages of size bytes
// with c concurrent clients, one message per connection, to addr.
func generatorArgv(gen, bin, addr string, n, c, size int) []string {
	if gen == genSmtpSource {
		return []string{"smtp-source", "-s", strconv.Itoa(c), "-m", strconv.Itoa(n),
			"-l", strconv.Itoa(max(size-smtpSourceHeader, 1)), "-f", "load@example.org",
			"-t", "sink@remote.test", "-M", "load.example.org", addr}
	}
	return []string{filepath.Join(bin, "smtpload"), "-addr", addr, "-n", strconv.Itoa(n),
		"-c", strconv.Itoa(c), "-size", strconv.Itoa(size), "-timeout", "15m", "-latency"}
}

// sink is a running counting SMTP sink. Its output is read as it comes:
// the moment its count reaches the target is the end of the relay.
type sink struct {
	kind     string
	cmd      *exec.Cmd
	target   int
	reached  chan time.Time // gets the time the count reached target
	exited   chan struct{}
	mu       sync.Mutex
	count    int // latest count reported
	dups     int // duplicates by Message-ID (-1: the sink cannot tell)
	missing  int // messages without the wanted header
	maxConns int // the most connections one address had at once
	final    bool
	out      bytes.Buffer
	stop     func()
}

// startSink starts a sink on addr expecting target messages.
// extra are smtpsink's flags for the workload (TLS, a wanted header).
func startSink(kind, bin, addr string, target int, extra ...string) (*sink, error) {
	s := &sink{kind: kind, target: target, reached: make(chan time.Time, 1),
		exited: make(chan struct{}), dups: -1}
	if kind == sinkSmtpSink {
		// -c prints running counters (sess= quit= mesg=) on every
		// change; -u is required as root. No -M: smtp-sink exiting at
		// the count would cut off clients still saying QUIT.
		s.cmd = exec.Command("smtp-sink", "-u", "nobody", "-c", addr, "256")
	} else {
		// -stay: keep counting after the target, so an excess or a
		// duplicate arriving late is still seen.
		s.cmd = exec.Command(filepath.Join(bin, "smtpsink"), append([]string{"-addr", addr,
			"-n", strconv.Itoa(target), "-stay"}, extra...)...)
	}
	pipe, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go s.read(pipe)
	s.stop = atExit(func() {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	for _, a := range strings.Split(addr, ",") {
		if err := waitListening(a, 10*time.Second); err != nil {
			return s, err
		}
	}
	return s, nil
}

// read parses the sink's output: smtp-sink's "sess=A quit=B mesg=C"
// counters, separated by CR, and smtpsink's "reached=N" and final
// "received=N duplicates=D" lines.
func (s *sink) read(r interface{ Read([]byte) (int, error) }) {
	defer func() { s.cmd.Wait(); close(s.exited) }()
	sc := bufio.NewScanner(r)
	sc.Split(splitCRLF)
	for sc.Scan() {
		line := sc.Text()
		s.mu.Lock()
		s.out.WriteString(line + "\n")
		if v, ok := field(line, "mesg"); ok {
			s.count = v
		}
		if v, ok := field(line, "reached"); ok {
			s.count = v
		}
		if v, ok := field(line, "received"); ok {
			s.count, s.final = v, true
			s.dups, _ = field(line, "duplicates")
			s.missing, _ = field(line, "missing")
			s.maxConns, _ = field(line, "max_conns")
		}
		if s.count >= s.target {
			select {
			case s.reached <- time.Now():
			default:
			}
		}
		s.mu.Unlock()
	}
}

// MaxConns is the most connections one of the sink's addresses had at
// once, as its final line said (0 before Finish).
func (s *sink) MaxConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxConns
}

// Finish stops the sink and returns its final count, duplicates and
// messages without the wanted header.
func (s *sink) Finish() (count, dups, missing int) {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count, s.dups, s.missing
}

// field finds "name=123" in line.
func field(line, name string) (int, bool) {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}

func splitCRLF(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// runGenerator runs the load generator to its end and returns its
// output when it exited; an error means not every message got its 250.
func runGenerator(argv []string, limit time.Duration) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	stop := atExit(func() { cmd.Process.Kill() })
	defer stop()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("%s: %v\n%s", argv[0], err, tail(out.String(), 20))
		}
		return out.String(), nil
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s: still running after %v", argv[0], limit)
	}
}

// latencyOf reads smtpload's "latency_p50=1.23ms latency_p99=4.56ms".
func latencyOf(out string) (p50, p99 float64) {
	for _, f := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(f, "latency_p50="); ok {
			p50, _ = strconv.ParseFloat(strings.TrimSuffix(v, "ms"), 64)
		}
		if v, ok := strings.CutPrefix(f, "latency_p99="); ok {
			p99, _ = strconv.ParseFloat(strings.TrimSuffix(v, "ms"), 64)
		}
	}
	return p50, p99
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
