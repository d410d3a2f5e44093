package main

import (
	"strings"
	"syscall"
	"testing"
)

// Scenario 5b: SIGHUP reloads the policy scripts (a new generation, one
// log line each time) and never stops the daemon: it keeps accepting and
// delivering mail, and the control socket reports the new generation.
func TestT05SighupReloads(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	d := newDaemon(t, crashConfig(s))
	d.start()
	const line = `msg="moonpost: SIGHUP: policy scripts reloaded"`
	for i := 1; i <= 2; i++ {
		if err := syscall.Kill(d.pid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		d.waitLog(line, i)
		if code, text := sendSized(t, d.addr, 1024); code != 250 {
			t.Fatalf("after SIGHUP %d: %d %s\n%s", i, code, text, d.logs())
		}
		waitSink(t, d, s, i)
	}
	if !strings.Contains(d.logs(), line+" generation=3") {
		t.Errorf("two reloads did not make generation 3:\n%s", d.logs())
	}
	if code, out := d.run("", "status"); code != 0 || !strings.Contains(out, "scripts: generation 3") {
		t.Errorf("status after two SIGHUPs: %d %s", code, out)
	}
	if err := syscall.Kill(d.pid(), 0); err != nil {
		t.Fatalf("the daemon is gone after SIGHUP: %v", err)
	}
}
