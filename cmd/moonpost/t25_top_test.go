package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moonpost/moonpost/cmd/moonpost/e2e"
)

// Scenario 25: "moonpost top" in a terminal (tmux) redraws once a second
// from the control socket: the counters since start, the queue sizes and
// the destinations with deferred mail; q quits and gives the terminal
// back.
func TestT25TopInTerminal(t *testing.T) {
	dead := strings.TrimPrefix(freePort(t), "127.0.0.1:")
	d := newDaemon(t, fmt.Sprintf(`relayhost = "[127.0.0.1]:%s"
[smtp]
tls = "none"
connect_timeout = "2s"
[queue]
min_backoff = "1h"
max_backoff = "1h"`, dead))
	d.start()
	if code, out := d.run("Subject: t25 local\n\nhi\n", "sendmail", "-f", "alice@local.test", "bob@local.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	if code, out := d.run("Subject: t25 remote\n\nhi\n", "sendmail", "-f", "alice@local.test", "carol@slow.test"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	d.WaitMaildir("spool/mail/bob", 1)
	eventually(t, "a deferred message", func() bool { return len(d.queued("deferred")) == 1 })

	p := startTmux(t, d.dir, fmt.Sprintf("env MOONPOST_CONFIG=%s %s top", d.cfg, e2e.Binary))
	p.waitScreen("moonpost top - pid", 1)
	p.waitScreen("slow.test", 1)
	screen := p.screen()
	for _, want := range []string{"per second", "deliveries in flight: 0", "q quits"} {
		if !strings.Contains(screen, want) {
			t.Errorf("screen lacks %q:\n%s", want, screen)
		}
	}
	if !strings.Contains(screen, "deferred            1") {
		t.Errorf("the deferred row is not 1:\n%s", screen)
	}
	// The view is redrawn: its clock moves on.
	first := clockOf(screen)
	deadline := time.Now().Add(10 * time.Second)
	for clockOf(p.screen()) == first {
		if time.Now().After(deadline) {
			t.Fatalf("the screen was not redrawn:\n%s", p.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.keys("q")
	deadline = time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-L", p.socket, "has-session", "-t", "repl").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit:\n%s", p.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clockOf is the time of day at the end of top's first line.
func clockOf(screen string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(screen, "\n"), "\n")
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
