package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end scenarios (t01_*.go ...) run the real moonpost binary,
// built once here, against a private spool and loopback ports.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "moonpost-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "moonpost")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building moonpost:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is one running moonpost.
type daemon struct {
	t    *testing.T
	dir  string // working directory, holds moonpost.toml and spool/
	cfg  string
	addr string // SMTP listener
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// newDaemon writes a configuration (the given TOML is appended to the
// base) without starting anything.
func newDaemon(t *testing.T, extra string) *daemon {
	t.Helper()
	d := &daemon{t: t, dir: t.TempDir(), addr: freePort(t)}
	d.cfg = filepath.Join(d.dir, "moonpost.toml")
	top, sections, _ := strings.Cut(extra, "\n[")
	if sections != "" {
		sections = "[" + sections
	}
	// Keys of an extra [smtpd] table join the base one, which must come
	// first: TOML forbids defining a table twice.
	smtpdKeys := ""
	if rest, ok := strings.CutPrefix(sections, "[smtpd]\n"); ok {
		smtpdKeys, sections, _ = strings.Cut(rest, "\n[")
		if sections != "" {
			sections = "[" + sections
		}
	}
	base := fmt.Sprintf(`myhostname = "mx.test"
mydestination = ["mx.test", "localhost", "local.test"]
spool_dir = %q
%s
[smtpd]
listen = [%q]
%s
%s
`, filepath.Join(d.dir, "spool"), top, d.addr, smtpdKeys, sections)
	if err := os.WriteFile(d.cfg, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.stop)
	return d
}

// start runs the daemon and waits until it accepts connections.
func (d *daemon) start() {
	d.t.Helper()
	d.cmd = exec.Command(binary, "-c", d.cfg)
	d.cmd.Dir = d.dir
	d.cmd.Stdout = d.writer()
	d.cmd.Stderr = d.writer()
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.done:
			d.t.Fatalf("moonpost exited at start:\n%s", d.logs())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("moonpost did not listen on %s:\n%s", d.addr, d.logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type logWriter struct{ d *daemon }

func (w logWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.log.Write(p)
}

func (d *daemon) writer() logWriter { return logWriter{d} }

func (d *daemon) logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// signal sends sig and waits for the process to end (10 s at most).
func (d *daemon) signal(sig syscall.Signal) {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	d.cmd.Process.Signal(sig)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
		d.t.Errorf("moonpost ignored %v for 10 s", sig)
	}
	d.cmd = nil
}

func (d *daemon) stop() { d.signal(syscall.SIGTERM) }
func (d *daemon) kill() { d.signal(syscall.SIGKILL) }

// waitLog waits until the log contains s n times.
func (d *daemon) waitLog(s string, n int) {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(d.logs(), s) < n {
		if time.Now().After(deadline) {
			d.t.Fatalf("log never had %q %d times:\n%s", s, n, d.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// run executes a moonpost subcommand (or sendmail) with this daemon's
// configuration; it returns the exit code and output.
func (d *daemon) run(stdin string, args ...string) (int, string) {
	d.t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), "MOONPOST_CONFIG="+d.cfg)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		d.t.Fatal(err)
	}
	return 0, string(out)
}

// mailbox returns the messages delivered to a local user's Maildir.
func (d *daemon) mailbox(user string) []string {
	files, _ := filepath.Glob(filepath.Join(d.dir, "spool", "mail", user, "new", "*"))
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// queued counts committed files in a queue directory.
func (d *daemon) queued(state string) []string {
	des, _ := os.ReadDir(filepath.Join(d.dir, "spool", state))
	var out []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") {
			out = append(out, filepath.Join(d.dir, "spool", state, de.Name()))
		}
	}
	return out
}
