package main

import (
	"errors"

	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a size-limited tmpfs on dir, or skips loudly: the
// disk-full scenario needs root (or CAP_SYS_ADMIN) to build a small file
// system, and proves nothing on a big one.
func mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("SKIP: cannot mount a %s tmpfs for the spool (%v); run as root to prove disk-full behaviour", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}

// fill writes a file until the file system is full and returns its size.
func fill(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	var n int64
	for n < 1<<30 {
		k, err := f.Write(buf)
		n += int64(k)
		if errors.Is(err, syscall.ENOSPC) {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the file system never filled up")
	return 0
}

// sendSized sends one message of about size bytes on a fresh connection
// and returns the DATA reply (or the first refusal).
func sendSized(t *testing.T, addr string, size int) (int, string) {
	return sendTo(t, addr, "sink@remote.test", size)
}

func sendTo(t *testing.T, addr, rcpt string, size int) (int, string) {
	c := dial(t, addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.cmd("MAIL FROM:<alice@example.org>"); code != 250 {
		return code, text // the queue_minfree check, with nothing left at all
	}
	c.expect("RCPT TO:<"+rcpt+">", 250)
	c.expect("DATA", 354)
	c.send("Subject: disk\r\n\r\n" + strings.Repeat(strings.Repeat("z", 62)+"\r\n", size/64) + ".\r\n")
	code, text := c.reply()
	c.cmd("QUIT")
	return code, text
}

// Scenario 13: the spool on a 2 MB tmpfs. With the file system full the
// daemon answers 452 4.3.1, keeps running and leaves no half-written
// file; when space is freed mail flows again.
func TestT13DiskFull(t *testing.T) {
	s := newSink(t, "127.0.0.1")
	// queue_minfree = -1: a 2 MB spool is below the default minimum, and
	// the point here is the write that fails part way.
	d := newDaemon(t, strings.Replace(crashConfig(s), "\n[smtp]\n", "\n[smtpd]\nqueue_minfree = -1\n[smtp]\n", 1))
	spool := filepath.Join(d.dir, "spool")
	mountTmpfs(t, spool, "2m")
	d.start()
	t.Cleanup(d.stop) // before the unmount, which cleanups run after
	if code, text := sendSized(t, d.addr, 4096); code != 250 {
		t.Fatalf("before filling: %d %s", code, text)
	}
	waitSink(t, d, s, 1)
	// A message the sink keeps deferring is retried every second while
	// the disk is full, so its journal appends hit ENOSPC too.
	code, text := sendTo(t, d.addr, "later@remote.test", 2048)
	if code != 250 {
		t.Fatalf("deferred message: %d %s", code, text)
	}
	later := queuedID(text)

	filler := filepath.Join(spool, "filler")
	size := fill(t, filler)
	// Leave 24 KB so the refused message is cut off part way through its
	// write, the case where a torn queue file could appear.
	if err := os.Truncate(filler, size-24<<10); err != nil {
		t.Fatal(err)
	}
	for i, sz := range []int{64 << 10, 128 << 10, 64 << 10} {
		code, text := sendSized(t, d.addr, sz)
		if code != 452 || !strings.Contains(text, "4.3.1") {
			t.Fatalf("message %d with the disk full: %d %s", i, code, text)
		}
	}
	fill(t, filler+"2") // and now nothing at all is left
	retried := strings.Count(d.logs(), "to=<later@remote.test>")
	if code, text := sendSized(t, d.addr, 1024); code != 452 {
		t.Fatalf("small message with no space: %d %s", code, text)
	}
	// The deferred message is retried on the full disk: its outcome is
	// logged again, its journal append fails.
	d.waitLog("to=<later@remote.test>", retried+1)
	checkSpoolSound(t, d)
	if err := syscall.Kill(d.pid(), 0); err != nil {
		t.Fatalf("daemon died with the disk full: %v\n%s", err, d.logs())
	}

	os.Remove(filler)
	os.Remove(filler + "2")
	for i := 0; i < 3; i++ {
		if code, text := sendSized(t, d.addr, 64<<10); code != 250 {
			t.Fatalf("after freeing space: %d %s", code, text)
		}
	}
	waitSink(t, d, s, 4)
	checkSpoolSound(t, d)
	if left := d.queueIDs("incoming", "active", "deferred"); len(left) != 1 || !left[later] {
		t.Errorf("queue holds %v, want only the deferred %s", left, later)
	}
	t.Logf("FIGURES disk-full: refused=4 (452 4.3.1), accepted after freeing=3, corrupt=0")
}

// checkSpoolSound asserts that nothing is in corrupt/, no temp file is
// left behind, and every committed queue file parses.
func checkSpoolSound(t *testing.T, d *daemon) {
	t.Helper()
	if n := len(d.queued("corrupt")); n != 0 {
		t.Errorf("%d files in corrupt/", n)
	}
	temps, _ := filepath.Glob(filepath.Join(d.dir, "spool", "*", ".*.tmp"))
	if len(temps) > 0 {
		t.Errorf("half-written files left behind: %v", temps)
	}
	for id := range d.queueIDs("incoming", "active", "deferred", "hold") {
		if code, out := d.run("", "queue", "show", id); code != 0 && !strings.Contains(out, "no such") {
			t.Errorf("queue file %s does not parse: %s", id, out)
		}
	}

}
