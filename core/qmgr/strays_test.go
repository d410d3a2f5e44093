package qmgr

import (
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/internal/testlog"
	"github.com/moonpost/moonpost/core/queue"
)

// TestOddQueueEntriesMovedOnce: a symlink, FIFO or directory under a
// queue-ID name in incoming/ or deferred/, and a name that is not a queue
// ID, are dealt with once over many scans: the odd entries go to
// corrupt/ with one log line each, the name is logged once, nothing is
// retried. (A symlink in incoming/ used to log an ERROR at every scan,
// forever.) Mail beside them is delivered.
func TestOddQueueEntriesMovedOnce(t *testing.T) {
	log, buf := testlog.New(slog.LevelDebug)
	h := newHarnessLog(t, log, func(c *Config) { c.ScanInterval = 5 * time.Millisecond })
	h.store.SweepStrays() // as the daemon does
	target := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(target, []byte("not mail"), 0o600)
	kinds := map[string]func(string) error{
		"symlink":   func(p string) error { return os.Symlink(target, p) },
		"fifo":      func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
	}
	planted := map[queue.ID]string{}
	for _, st := range []queue.State{queue.Incoming, queue.Deferred} {
		for kind, mk := range kinds {
			id := queue.NewID(time.Now())
			if err := mk(h.store.Path(st, id)); err != nil {
				t.Fatal(err)
			}
			planted[id] = string(st) + " " + kind
		}
		os.WriteFile(filepath.Join(h.store.Root(), string(st), "stray.txt"), nil, 0o600)
	}
	h.start()
	h.submit("a@s.test", "fine@y.test")
	h.waitFor("delivered", func() bool { return h.mgr.Stats().Delivered == 1 })
	// The positive signal that many scans ran since: each logs a line.
	scans := buf.Count("qmgr: deferred scan")
	h.waitFor("ten more scans", func() bool { return buf.Count("qmgr: deferred scan") >= scans+10 })
	h.stop()
	for id, what := range planted {
		if _, err := os.Lstat(h.store.Path(queue.Corrupt, id)); err != nil {
			t.Errorf("%s not in corrupt/: %v", what, err)
		}
		if n := buf.Count("queue_id=" + string(id)); n != 1 {
			t.Errorf("%s: %d log lines, want 1:\n%s", what, n, buf)
		}
	}
	for _, st := range []queue.State{queue.Incoming, queue.Deferred} {
		if n := buf.Count("unexpected name", "state="+string(st), "name=stray.txt"); n != 1 {
			t.Errorf("%s/stray.txt logged %d times over the scans, want 1", st, n)
		}
	}
	if n := buf.Count("level=ERROR"); n != len(planted) {
		t.Errorf("%d ERROR lines, want one per odd entry (%d):\n%s", n, len(planted), buf)
	}
	if b, _ := os.ReadFile(target); string(b) != "not mail" {
		t.Errorf("symlink target changed: %q", b)
	}
}
