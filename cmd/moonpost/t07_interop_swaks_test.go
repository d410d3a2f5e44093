package main

import (
	"os/exec"
	"strings"
	"testing"
)

// Scenario 7: a real SMTP client program (swaks, from Debian's package,
// installed by .ci/install-deps) delivers through the daemon, plain and
// pipelined.
func TestT07Swaks(t *testing.T) {
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		t.Skip("SKIP: swaks not installed; run .ci/install-deps (apt-get install swaks) to run this interop test")
	}
	d := newDaemon(t, "")
	d.start()
	host, port, _ := strings.Cut(d.addr, ":")
	for i, extra := range [][]string{nil, {"--pipeline"}} {
		args := append([]string{"--server", host, "--port", port, "--from", "alice@example.org",
			"--to", "bob@local.test", "--header", "Subject: swaks"}, extra...)
		out, err := exec.Command(swaks, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "250 2.0.0 Ok: queued as") {
			t.Fatalf("swaks %v: %v\n%s", extra, err, out)
		}
		d.waitLog("relay=local, delay=", i+1)
	}
	if n := len(d.mailbox("bob")); n != 2 {
		t.Fatalf("bob has %d messages", n)
	}
}
