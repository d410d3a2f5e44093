package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// tmuxPane drives one program in a detached tmux session on a private
// tmux server.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, dir, command string) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("SKIPPED: tmux is not installed; the interactive prompt is not tested")
	}
	p := &tmuxPane{t: t, socket: fmt.Sprintf("moonpost-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	p.tmux("-f", "/dev/null", "new-session", "-d", "-s", "repl", "-x", "200", "-y", "50", "-c", dir, command)
	t.Cleanup(func() { exec.Command("tmux", "-L", p.socket, "kill-server").Run() })
	return p
}

func (p *tmuxPane) tmux(args ...string) string {
	p.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Left, BSpace, Tab, Up, C-d).
func (p *tmuxPane) keys(k ...string) { p.tmux(append([]string{"send-keys", "-t", "repl"}, k...)...) }

// typeText sends text literally.
func (p *tmuxPane) typeText(s string) { p.tmux("send-keys", "-t", "repl", "-l", s) }

func (p *tmuxPane) screen() string { return p.tmux("capture-pane", "-p", "-t", "repl") }

// waitScreen waits until the pane shows s n times.
func (p *tmuxPane) waitScreen(s string, n int) {
	p.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.screen(), s) < n {
		if time.Now().After(deadline) {
			p.t.Fatalf("screen never showed %q %d times:\n%s", s, n, p.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *tmuxPane) waitExit() {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", p.socket, "has-session", "-t", "repl").Run() == nil {
		if time.Now().After(deadline) {
			p.t.Fatalf("the prompt did not exit:\n%s", p.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Scenario 10: the interactive prompt in a terminal: multi-line input,
// line editing, completion, and history kept between runs.
func TestT10InteractivePrompt(t *testing.T) {
	d := newDaemon(t, "")
	d.start()
	home := t.TempDir()
	command := fmt.Sprintf("env HOME=%s MOONPOST_CONFIG=%s %s repl", home, d.cfg, e2e.Binary)
	p := startTmux(t, d.dir, command)
	p.waitScreen("moonpost>", 1)

	// A function across three lines, with the continuation prompt.
	p.typeText("function add(a, b)")
	p.keys("Enter")
	p.waitScreen(">>", 1)
	p.typeText("return a + b")
	p.keys("Enter")
	p.typeText("end")
	p.keys("Enter")
	p.typeText("add(40, 2)")
	p.keys("Enter")
	p.waitScreen("\n42\n", 1)

	// Editing: fix a typo in the middle of the line before Enter.
	p.typeText("print('hxllo')")
	p.keys("Left", "Left", "Left", "Left", "Left", "BSpace")
	p.typeText("e")
	p.keys("Enter")
	p.waitScreen("\nhello\n", 1)

	// Completion of module and function names, from the daemon.
	p.typeText("queue.rel")
	p.keys("Tab")
	p.waitScreen("queue.release", 1)
	p.keys("C-c")

	// An error shows its line and the prompt carries on.
	p.typeText("error('oops')")
	p.keys("Enter")
	p.waitScreen("error: stdin:1: oops", 1)
	p.keys("C-d")
	p.waitExit()

	hist, err := os.ReadFile(filepath.Join(home, ".moonpost_history"))
	if err != nil || !strings.Contains(string(hist), "add(40, 2)") || !strings.Contains(string(hist), "print('hello')") {
		t.Fatalf("history file: %v\n%s", err, hist)
	}

	// History survives: a new prompt recalls the earlier lines.
	p = startTmux(t, d.dir, command)
	p.waitScreen("moonpost>", 1)
	p.keys("Up", "Up")
	p.waitScreen("moonpost> print('hello')", 1)
	p.keys("Enter")
	p.waitScreen("\nhello\n", 1)
	p.keys("C-d")
	p.waitExit()
}
