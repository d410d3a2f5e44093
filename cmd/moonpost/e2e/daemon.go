package e2e

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is the moonpost binary built by Main.
var Binary string

// Main builds the binary, runs the tests and cleans up. Call it from
// TestMain.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "moonpost-e2e")
	if err != nil {
		panic(err)
	}
	Binary = filepath.Join(dir, "moonpost")
	_, self, _, _ := runtime.Caller(0)
	build := exec.Command("go", "build", "-o", Binary, "github.com/moonpost/moonpost/cmd/moonpost")
	build.Dir = filepath.Dir(self)
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building moonpost:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// FreePort returns a loopback address that was free a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Setup copies the folder src (an example) into a temporary folder,
// replacing in every file each old string of repl by the new one that
// follows it, and returns the copy. "127.0.0.1:2525", the examples'
// listener, is always replaced by a free port: see Daemon.Addr.
func Setup(t testing.TB, src string, repl ...string) *Daemon {
	t.Helper()
	d := &Daemon{t: t, Dir: t.TempDir(), Addr: FreePort(t)}
	r := strings.NewReplacer(append([]string{"127.0.0.1:2525", d.Addr}, repl...)...)
	err := filepath.WalkDir(src, func(path string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(d.Dir, rel)
		if de.IsDir() {
			if de.Name() == "spool" {
				return filepath.SkipDir // a user's earlier run
			}
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fi, _ := de.Info()
		return os.WriteFile(dst, []byte(r.Replace(string(b))), fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	return d
}

// NewDaemon prepares a daemon in a fresh temporary folder; the caller
// writes its configuration to Config before Start.
func NewDaemon(t testing.TB) *Daemon {
	d := &Daemon{t: t, Dir: t.TempDir(), Addr: FreePort(t)}
	d.Config = filepath.Join(d.Dir, "moonpost.toml")
	t.Cleanup(d.Stop)
	return d
}

// Daemon is one moonpost run from Dir with its configuration file.
type Daemon struct {
	t      testing.TB
	Dir    string // working directory: moonpost.toml, scripts/, tables, spool/
	Addr   string // SMTP listener
	Config string // configuration file; "" is Dir/moonpost.toml
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	done   chan struct{}
}

func (d *Daemon) config() string {
	if d.Config != "" {
		return d.Config
	}
	return "moonpost.toml"
}

// Start runs the daemon and waits until it accepts connections. The log
// of earlier runs is kept, so a restarted daemon's lines add up.
func (d *Daemon) Start() {
	d.t.Helper()
	d.cmd = exec.Command(Binary, "-c", d.config())
	d.cmd.Dir = d.Dir
	d.cmd.Stdout, d.cmd.Stderr = logWriter{d}, logWriter{d}
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.done = make(chan struct{})
	go func() { d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-d.done:
			d.t.Fatalf("moonpost exited at start:\n%s", d.Logs())
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("moonpost did not listen on %s:\n%s", d.Addr, d.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type logWriter struct{ d *Daemon }

func (w logWriter) Write(p []byte) (int, error) {
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	return w.d.log.Write(p)
}

// Logs returns everything the daemon wrote so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// Stop sends SIGTERM and waits for the daemon to end.
func (d *Daemon) Stop() { d.Signal(syscall.SIGTERM) }

// Kill ends the daemon with SIGKILL, as a crash would.
func (d *Daemon) Kill() { d.Signal(syscall.SIGKILL) }

// Signal sends sig and waits for the daemon to end (10 s at most).
func (d *Daemon) Signal(sig syscall.Signal) {
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

// PID is the running daemon's process ID.
func (d *Daemon) PID() int { return d.cmd.Process.Pid }

// WaitLog waits until the log contains s at least n times.
func (d *Daemon) WaitLog(s string, n int) {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(d.Logs(), s) < n {
		if time.Now().After(deadline) {
			d.t.Fatalf("log never had %q %d times:\n%s", s, n, d.Logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Run executes a moonpost subcommand in Dir; it returns the exit code
// and the combined output.
func (d *Daemon) Run(args ...string) (int, string) {
	d.t.Helper()
	return d.RunInput("", args...)
}

// RunInput is Run with stdin.
func (d *Daemon) RunInput(stdin string, args ...string) (int, string) {
	d.t.Helper()
	cmd := exec.Command(Binary, args...)
	cmd.Dir = d.Dir
	cmd.Env = append(os.Environ(), "MOONPOST_CONFIG="+d.config())
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		d.t.Fatal(err)
	}
	return 0, string(out)
}

// Path is a path inside Dir.
func (d *Daemon) Path(elem ...string) string {
	return filepath.Join(append([]string{d.Dir}, elem...)...)
}

// Maildir returns the messages in the Maildir at Dir/rel (its new/).
func (d *Daemon) Maildir(rel string) []string {
	files, _ := filepath.Glob(filepath.Join(d.Dir, rel, "new", "*"))
	var out []string
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, string(b))
		}
	}
	return out
}

// WaitMaildir waits until the Maildir at Dir/rel holds n messages.
func (d *Daemon) WaitMaildir(rel string, n int) []string {
	d.t.Helper()
	return d.waitFor(fmt.Sprintf("%d messages in %s", n, rel), func() ([]string, bool) {
		m := d.Maildir(rel)
		return m, len(m) >= n
	})
}

// Queued lists the committed files of a queue directory.
func (d *Daemon) Queued(state string) []string {
	des, _ := os.ReadDir(filepath.Join(d.Dir, "spool", state))
	var out []string
	for _, de := range des {
		if !strings.HasPrefix(de.Name(), ".") {
			out = append(out, de.Name())
		}
	}
	return out
}

func (d *Daemon) waitFor(what string, f func() ([]string, bool)) []string {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, ok := f()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("never got %s; log:\n%s", what, d.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitQueueEmpty waits until none of the given queue directories holds
// a committed message: everything there was delivered, bounced or moved
// on.
func (d *Daemon) WaitQueueEmpty(states ...string) {
	d.t.Helper()
	d.waitFor("empty "+strings.Join(states, ", "), func() ([]string, bool) {
		for _, st := range states {
			if q := d.Queued(st); len(q) > 0 {
				return q, false
			}
		}
		return nil, true
	})
}
