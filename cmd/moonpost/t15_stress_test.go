package main

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// Scenario 15b: the daemon applies the stress-mode and anvil keys of
// [smtpd]: a client over client_connection_rate_limit gets 421 4.7.0
// (client_event_limit_exceptions spares 127.0.0.1), and at 80% of
// max_connections idle clients are cut off after stress_idle_timeout
// instead of idle_timeout.
func TestT15StressLimits(t *testing.T) {
	d := newDaemon(t, `
[smtpd]
max_connections = 5
idle_timeout = "300s"
stress_idle_timeout = "1s"
client_connection_rate_limit = 2
client_event_limit_exceptions = ["127.0.0.1"]`)
	d.start()

	greet := func(src string) (string, *bufio.Reader, func()) {
		t.Helper()
		c, err := dialFrom(src, d.addr)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		return firstLine(c, br), br, func() { c.Close() }
	}
	for i := 0; i < 2; i++ {
		line, _, done := greet("127.0.0.2")
		done()
		if !strings.HasPrefix(line, "220 ") {
			t.Fatalf("connection %d from 127.0.0.2: %q", i+1, line)
		}
	}
	line, _, done := greet("127.0.0.2")
	done()
	if !strings.HasPrefix(line, "421 4.7.0") {
		t.Errorf("third connection from 127.0.0.2 in a minute: %q, want 421 4.7.0", line)
	}
	d.waitLog("Connection rate limit exceeded: 3 from 127.0.0.2", 1)

	// Four idle clients from the exempt address: stress mode.
	type idle struct {
		br   *bufio.Reader
		done func()
	}
	var idles []idle
	for i := 0; i < 4; i++ {
		line, br, done := greet("127.0.0.1")
		defer done()
		if !strings.HasPrefix(line, "220 ") {
			t.Fatalf("exempt connection %d: %q", i+1, line)
		}
		idles = append(idles, idle{br, done})
	}
	start := time.Now()
	for i, c := range idles {
		l, err := c.br.ReadString('\n')
		if !strings.HasPrefix(l, "421 4.4.2") {
			t.Errorf("idle client %d under stress: %q %v, want 421 4.4.2", i+1, l, err)
		}
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("idle clients cut off after %v, not stress_idle_timeout", took)
	}
	d.waitLog("stress mode on", 1)
}
