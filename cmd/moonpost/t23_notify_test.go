package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Scenario 23: under systemd's Type=notify the daemon tells the service
// manager, over the unixgram socket named by $NOTIFY_SOCKET, READY=1
// (with its pid) once it takes mail, RELOADING=1 then READY=1 around a
// "moonpost reload", and STOPPING=1 at SIGTERM.
func TestT23NotifySocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	next := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		ln.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("no datagram on the notify socket: %v", err)
		}
		return string(buf[:n])
	}
	t.Setenv("NOTIFY_SOCKET", sock)
	d := newDaemon(t, "")
	d.start()
	if got := next(); !strings.Contains(got, "READY=1\n") || !strings.Contains(got, fmt.Sprintf("MAINPID=%d\n", d.pid())) {
		t.Fatalf("first datagram %q, want READY=1 and MAINPID=%d", got, d.pid())
	}
	if code, out := d.run("", "reload"); code != 0 {
		t.Fatalf("reload: %d %s", code, out)
	}
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("datagram at reload %q", got)
	}
	if got := next(); got != "READY=1\n" {
		t.Fatalf("datagram after reload %q", got)
	}
	d.stop()
	if got := next(); got != "STOPPING=1\n" {
		t.Fatalf("datagram at SIGTERM %q", got)
	}
}
