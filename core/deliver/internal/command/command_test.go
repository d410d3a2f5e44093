package command

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func sh(script string, args ...string) []string {
	return append([]string{"/bin/sh", "-c", script, "sh"}, args...)
}

func TestRunExitAndOutput(t *testing.T) {
	r := Run(context.Background(), Spec{Argv: sh("cat; echo oops >&2; exit 67"), Stdin: strings.NewReader("in\n")})
	if !r.Exited || r.ExitCode != 67 || r.Output != "in\noops\n" {
		t.Fatalf("result = %+v", r)
	}
	st := r.Status("ok")
	if st.Error() != "550 5.1.1 user unknown: in oops" {
		t.Errorf("status = %v", st)
	}
	if st := Run(context.Background(), Spec{Argv: sh("exit 0")}).Status("done"); st.Error() != "250 2.0.0 done" {
		t.Errorf("status = %v", st)
	}
}

func TestRunOutputBounded(t *testing.T) {
	r := Run(context.Background(), Spec{Argv: sh("head -c 100000 /dev/zero | tr '\\0' x; exit 1"), OutputLimit: 10})
	if r.Output != "xxxxxxxxxx" || r.ExitCode != 1 {
		t.Errorf("result = %+v", r)
	}
}

// TestRunTimeoutKillsGroup checks that the shell's child dies too: it
// would otherwise create the marker file after the timeout. The test
// waits for the child to be gone, then looks for the marker: a child
// that survived the kill goes only after it made the marker.
func TestRunTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	marker, pidFile := filepath.Join(dir, "survived"), filepath.Join(dir, "pid")
	start := time.Now()
	r := Run(context.Background(), Spec{
		// The timeout leaves the shell ample time to start the child
		// and write its pid, even on a loaded machine.
		Argv:    sh(`(sleep 2; touch "$1") & echo $! > "$2"; sleep 10`, marker, pidFile),
		Timeout: time.Second,
	})
	if !r.TimedOut || time.Since(start) > 5*time.Second {
		t.Fatalf("result = %+v after %v", r, time.Since(start))
	}
	if st := r.Status("ok"); !st.Temporary() {
		t.Errorf("timeout status = %v", st)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("child %s still running", pid)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("child of the timed-out command survived")
	}
}

// alive reports whether process pid exists and is not a zombie (an
// orphan's zombie may linger where init does not reap).
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func TestRunSignalAndStartFailure(t *testing.T) {
	r := Run(context.Background(), Spec{Argv: sh("kill -TERM $$")})
	if r.Signal == 0 || !r.Status("ok").Temporary() {
		t.Errorf("signal result = %+v", r)
	}
	r = Run(context.Background(), Spec{Argv: []string{"/nonexistent/program"}})
	if r.StartErr == nil || !r.Status("ok").Temporary() {
		t.Errorf("start failure = %+v", r)
	}
}

func TestRunEnvNotInherited(t *testing.T) {
	t.Setenv("MOONPOST_SECRET", "leak")
	r := Run(context.Background(), Spec{Argv: []string{"/usr/bin/env"}, Env: []string{"A=b"}})
	if strings.TrimSpace(r.Output) != "A=b" {
		t.Errorf("env = %q", r.Output)
	}
}
