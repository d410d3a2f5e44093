// Package command runs an external delivery command (a pipe(8) transport
// or a |command alias target): message on stdin, a time limit that kills
// the whole process group, bounded output capture, and the exit status
// turned into a delivery outcome through deliver.ExitStatus.
package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
)

// DefaultOutputLimit bounds the captured output, as Postfix does for the
// text of a pipe failure.
const DefaultOutputLimit = 512

// Spec describes one command run.
type Spec struct {
	Argv    []string // argv[0] is the program; never run through a shell here
	Env     []string // the complete environment; nothing is inherited
	Dir     string   // working directory; "" is the daemon's
	Stdin   io.Reader
	Timeout time.Duration // 0: only ctx bounds the run
	// OutputLimit bounds the captured stdout+stderr (0: DefaultOutputLimit).
	OutputLimit int
	// Credential, when set, runs the command as that uid/gid (needs root).
	Credential *syscall.Credential
}

// Result is what happened to the command.
type Result struct {
	ExitCode int            // valid when Exited
	Exited   bool           // the command exited on its own
	Signal   syscall.Signal // set when killed by a signal
	TimedOut bool           // Spec.Timeout or ctx ran out
	StartErr error          // the command could not be started
	Output   string         // first OutputLimit bytes of stdout+stderr
}

// Run starts the command in its own process group and waits for it. On
// timeout or cancellation the whole group gets SIGKILL, so a shell's
// children die with it.
func Run(ctx context.Context, s Spec) Result {
	if len(s.Argv) == 0 {
		return Result{StartErr: errors.New("empty command")}
	}
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.Timeout)
		defer cancel()
	}
	limit := s.OutputLimit
	if limit <= 0 {
		limit = DefaultOutputLimit
	}
	out := &limitBuffer{max: limit}
	cmd := exec.CommandContext(ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Env = s.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // nil would inherit the daemon's environment
	}
	cmd.Dir = s.Dir
	cmd.Stdin = s.Stdin
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.Credential}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A grandchild that escaped the group may hold stdout open; do not
	// wait for it forever.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return Result{StartErr: err}
	}
	err := cmd.Wait()
	return result(ctx, cmd, err, out.String())
}

func result(ctx context.Context, cmd *exec.Cmd, err error, output string) Result {
	r := Result{Output: output}
	if ctx.Err() != nil {
		r.TimedOut = true
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		r.Signal = ws.Signal()
	case ok && ws.Exited():
		r.Exited, r.ExitCode = true, ws.ExitStatus()
		// exec.ErrWaitDelay means the command exited but its output was
		// still held open; the exit status still counts.
		if err != nil && !errors.As(err, new(*exec.ExitError)) && !errors.Is(err, exec.ErrWaitDelay) {
			r.StartErr = err
		}
	}
	return r
}

// Status turns the result into a delivery outcome. success is the text
// for a 0 exit. Every failure that is not a sysexits code the command
// chose (start failure, signal, timeout, unknown code) is temporary.
// The command's output, cleaned to one line, is appended to failure
// texts as Postfix does, so the sender sees what the program said.
func (r Result) Status(success string) *dsn.Status {
	var st *dsn.Status
	switch {
	case r.StartErr != nil:
		return dsn.New(451, "4.3.0", "command unavailable")
	case r.TimedOut:
		st = dsn.New(451, "4.3.0", "command time limit exceeded")
	case r.Signal != 0:
		st = dsn.New(451, "4.3.0", fmt.Sprintf("command killed by signal %d", int(r.Signal)))
	case r.ExitCode == 0:
		return deliver.ExitStatus(0).WithText(success)
	default:
		st = deliver.ExitStatus(r.ExitCode)
	}
	if out := Clean(r.Output); out != "" {
		st = st.WithText(st.Text + ": " + out)
	}
	return st
}

// Clean makes command output safe for a status text: control characters
// become spaces and runs of space collapse.
func Clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// limitBuffer keeps the first max bytes written and discards the rest,
// still reporting success so the command is never blocked or killed by
// a full pipe.
type limitBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (l *limitBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - len(l.buf); room > 0 {
		l.buf = append(l.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (l *limitBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}
