package app

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// recvNotify listens on a unixgram socket as the service manager does
// and returns its address and a function reading the next datagram.
func recvNotify(t *testing.T, name string) (addr string, next func() string) {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return name, func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
}

func TestSdNotifySendsOneDatagram(t *testing.T) {
	path, next := recvNotify(t, filepath.Join(t.TempDir(), "notify"))
	t.Setenv("NOTIFY_SOCKET", path)
	if err := sdNotify("READY=1", "STATUS=serving"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1\nSTATUS=serving\n" {
		t.Fatalf("datagram %q", got)
	}
}

func TestSdNotifyAbstractSocket(t *testing.T) {
	name := "moonpost-test-" + filepath.Base(t.TempDir())
	_, next := recvNotify(t, "\x00"+name)
	t.Setenv("NOTIFY_SOCKET", "@"+name)
	if err := sdNotify("STOPPING=1"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STOPPING=1\n" {
		t.Fatalf("datagram %q", got)
	}
}

func TestSdNotifyWithoutSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := sdNotify("READY=1"); err != nil {
		t.Fatalf("no NOTIFY_SOCKET: %v", err)
	}
	t.Setenv("NOTIFY_SOCKET", "relative/path")
	if err := sdNotify("READY=1"); err == nil {
		t.Fatal("a relative NOTIFY_SOCKET was accepted")
	}
}
