package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fillInodes creates empty files under dir until the file system has no
// inode left, and returns how many it made.
func fillInodes(t *testing.T, dir string) int {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 100000; n++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprint(n)))
		if errors.Is(err, syscall.ENOSPC) {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	t.Fatal("the file system never ran out of inodes")
	return 0
}

// waitDeferred waits until n messages are in deferred/.
func waitDeferred(t *testing.T, d *daemon, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(d.queueIDs("deferred")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("deferred/ holds %d messages, want %d\n%s", len(d.queueIDs("deferred")), n, d.logs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Scenario 13b: the daemon comes back on a completely full spool (no
// block and no inode left) after a stop, listens, and delivers the mail
// queued before, which frees the space. It writes nothing but mail into
// the spool at start: the default scripts are read from the binary, and
// the control socket, which needs an inode, waits until there is one.
func TestT13StartOnFullDisk(t *testing.T) {
	_, closed, _ := net.SplitHostPort(freePort(t))
	// queue_minfree = -1: a 2 MB spool is far below the default reserve
	// (1.5 x message_size_limit), and the mail must be queued first.
	d := newDaemon(t, fmt.Sprintf(`relayhost = "[127.0.0.1]:%s"
[smtpd]
queue_minfree = -1
[smtp]
tls = "none"
connect_timeout = "1s"
[queue]
min_backoff = "1s"
max_backoff = "2s"
scan_interval = "1s"`, closed))
	spool := filepath.Join(d.dir, "spool")
	mountTmpfs(t, spool, "2m,nr_inodes=64")
	d.start()
	const queued = 3
	for i := 0; i < queued; i++ {
		// Over 64 KiB, so their files go back to the disk's blocks once
		// delivered (smaller ones are kept whole as spares).
		if code, text := sendSized(t, d.addr, 96<<10); code != 250 {
			t.Fatalf("message %d: %d %s", i, code, text)
		}
	}
	waitDeferred(t, d, queued) // the relayhost is down: all wait in deferred/
	d.stop()                   // a clean stop removes the control socket

	fill(t, filepath.Join(spool, "filler"))
	fillInodes(t, filepath.Join(spool, "inodes"))
	if err := os.WriteFile(filepath.Join(spool, "probe"), []byte("x"), 0o600); err == nil {
		t.Fatal("the spool is not full")
	}

	// The relayhost is up now.
	s := newSink(t, "127.0.0.1")
	if err := os.WriteFile(d.cfg, []byte(baseConfig(d, crashConfig(s))), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start() // fails here if the start writes into the spool
	t.Cleanup(d.stop)
	d.waitLog("control socket unavailable", 1)
	waitSink(t, d, s, queued)
	d.waitEmpty(20 * time.Second)
	d.waitLog("moonpost: control socket ready", 2) // once space came back
	if code, out := d.run("", "status"); code != 0 || !strings.Contains(out, "generation") {
		t.Errorf("status through the control socket: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(spool, "scripts")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the daemon wrote its scripts into the spool: %v", err)
	}
	checkSpoolSound(t, d)
	t.Logf("FIGURES full-disk start: delivered %d queued messages with 0 free blocks and inodes at start", queued)
}
