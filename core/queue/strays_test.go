package queue

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moonpost/moonpost/core/internal/testlog"
)

// oddKinds makes, at path, each kind of directory entry that is not a
// regular file. A device needs root (CAP_MKNOD); without it that kind is
// left out, loudly.
func oddKinds(t *testing.T) map[string]func(path string) error {
	target := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(target, []byte("not mail"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(target); err != nil || string(b) != "not mail" {
			t.Errorf("a symlink's target was touched: %q %v", b, err)
		}
	})
	kinds := map[string]func(string) error{
		"symlink":   func(p string) error { return os.Symlink(target, p) },
		"dangling":  func(p string) error { return os.Symlink("/nonexistent/x", p) },
		"fifo":      func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"directory": func(p string) error { return os.Mkdir(p, 0o700) },
		"socket": func(p string) error {
			l, err := net.Listen("unix", p)
			if err == nil {
				l.(*net.UnixListener).SetUnlinkOnClose(false)
				l.Close()
			}
			return err
		},
		"device": func(p string) error { return unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))) },
	}
	probe := filepath.Join(t.TempDir(), "dev")
	if err := kinds["device"](probe); err != nil {
		t.Logf("SKIP part: cannot make a device node (%v); run as root to cover devices", err)
		delete(kinds, "device")
	}
	return kinds
}

// plant puts one entry of every odd kind, each under a fresh queue ID,
// into each of the states, plus names that are not queue IDs.
func plant(t *testing.T, s *Store, states ...State) map[State]map[ID]string {
	t.Helper()
	out := map[State]map[ID]string{}
	now := time.Now()
	kinds := oddKinds(t)
	for _, st := range states {
		out[st] = map[ID]string{}
		for kind, mk := range kinds {
			now = now.Add(time.Microsecond)
			id := NewID(now)
			if err := mk(s.Path(st, id)); err != nil {
				t.Fatalf("%s in %s: %v", kind, st, err)
			}
			out[st][id] = kind
		}
		for _, name := range []string{"README", "abc.lua", "0123"} {
			if err := os.WriteFile(filepath.Join(s.Root(), string(st), name), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func sweepingStore(t *testing.T) (*Store, *testlog.Buffer) {
	log, buf := testlog.New(slog.LevelInfo)
	s, err := Open(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SweepStrays()
	return s, buf
}

// TestStraysMovedToCorruptOnce: a symlink, FIFO, socket, device or
// directory under a queue-ID name, in any queue, goes to corrupt/ unopened
// with one log line, whether recovery or a listing meets it first; a name
// that is not a queue ID is logged once however often it is listed.
func TestStraysMovedToCorruptOnce(t *testing.T) {
	s, log := sweepingStore(t)
	atStart := plant(t, s, Incoming, Active, Deferred, Hold)
	if _, err := s.Recover(); err != nil {
		t.Fatal(err)
	}
	later := plant(t, s, Incoming, Active, Deferred, Hold, Maildrop)
	for round := 0; round < 3; round++ {
		for _, st := range []State{Maildrop, Incoming, Active, Deferred, Hold} {
			if ents, err := s.List(st); err != nil || len(ents) != 0 {
				t.Fatalf("List(%s) = %v, %v", st, ents, err)
			}
			if ids, err := s.IDs(st); err != nil || len(ids) != 0 {
				t.Fatalf("IDs(%s) = %v, %v", st, ids, err)
			}
		}
	}
	for _, planted := range []map[State]map[ID]string{atStart, later} {
		for st, ids := range planted {
			for id, kind := range ids {
				if _, err := os.Lstat(s.Path(st, id)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s %s still in %s/", kind, id, st)
				}
				if _, err := os.Lstat(s.Path(Corrupt, id)); err != nil {
					t.Errorf("%s %s from %s/ not in corrupt/: %v", kind, id, st, err)
				}
				if n := log.Count("moved to corrupt/", "queue_id="+string(id)); n != 1 {
					t.Errorf("%s %s from %s/: %d log lines, want 1", kind, id, st, n)
				}
			}
		}
	}
	for _, st := range []State{Maildrop, Incoming, Active, Deferred, Hold} {
		for _, name := range []string{"README", "abc.lua", "0123"} {
			if n := log.Count("unexpected name", "state="+string(st), "name="+name); n != 1 {
				t.Errorf("%s/%s logged %d times over recovery and 6 listings, want once", st, name, n)
			}
		}
	}
	if n := log.Count("corrupt/", "state=corrupt"); n != 0 {
		t.Errorf("corrupt/ itself was swept:\n%s", log)
	}
}

// TestStrayNeverReplacesCorruptFile: a stray whose name is already in
// corrupt/ lands beside it, and what corrupt/ kept stays.
func TestStrayNeverReplacesCorruptFile(t *testing.T) {
	s, log := sweepingStore(t)
	id := NewID(time.Now())
	if err := os.WriteFile(s.Path(Corrupt, id), []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(s.Path(Incoming, id), 0o600); err != nil {
		t.Fatal(err)
	}
	s.IDs(Incoming)
	if b, err := os.ReadFile(s.Path(Corrupt, id)); err != nil || string(b) != "kept" {
		t.Errorf("corrupt/%s replaced: %q %v", id, b, err)
	}
	if fi, err := os.Lstat(s.Path(Corrupt, id) + ".1"); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is not corrupt/%s.1: %v %v\n%s", id, fi, err, log)
	}
}

// TestStraysLeftAloneWithoutSweep: the admin commands open the spool
// too; their listings skip strays and move nothing.
func TestStraysLeftAloneWithoutSweep(t *testing.T) {
	log, buf := testlog.New(slog.LevelInfo)
	s, err := Open(t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	planted := plant(t, s, Incoming, Deferred)
	for st, ids := range planted {
		if ents, _ := s.List(st); len(ents) != 0 {
			t.Errorf("List(%s) = %v", st, ents)
		}
		if got, _ := s.IDs(st); len(got) != 0 {
			t.Errorf("IDs(%s) = %v", st, got)
		}
		for id := range ids {
			if _, err := os.Lstat(s.Path(st, id)); err != nil {
				t.Errorf("%s moved without a sweep: %v", id, err)
			}
		}
	}
	if buf.String() != "" {
		t.Errorf("logged without a sweep:\n%s", buf)
	}
}

// TestReadOfNonRegularIsCorrupt: whoever opens a queue name that is not
// a regular file gets ErrCorrupt (quarantine it), never a passing error
// to retry forever, and never the symlink's target.
func TestReadOfNonRegularIsCorrupt(t *testing.T) {
	s, _ := sweepingStore(t)
	for kind, mk := range oddKinds(t) {
		if kind == "device" {
			continue // opening one is what the listings avoid
		}
		id := NewID(time.Now())
		if err := mk(s.Path(Incoming, id)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(Incoming, id); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Read = %v, want ErrCorrupt", kind, err)
		}
	}
}

// TestQuarantineNeverReplaces: a corrupt file quarantined under a name
// corrupt/ already holds lands beside it.
func TestQuarantineNeverReplaces(t *testing.T) {
	s, _ := sweepingStore(t)
	id := NewID(time.Now())
	os.WriteFile(s.Path(Corrupt, id), []byte("kept"), 0o600)
	os.WriteFile(s.Path(Maildrop, id), []byte("garbage"), 0o600)
	s.Quarantine(Maildrop, id, errors.New("test"))
	if b, _ := os.ReadFile(s.Path(Corrupt, id)); string(b) != "kept" {
		t.Errorf("corrupt/%s replaced: %q", id, b)
	}
	if b, _ := os.ReadFile(s.Path(Corrupt, id) + ".1"); string(b) != "garbage" {
		t.Errorf("corrupt/%s.1 = %q", id, b)
	}
}

// TestMaildropDeviceNeverOpened: pickup reads a maildrop name as soon as
// fsnotify reports it, before any listing; a device node there (which
// opening could act on) is refused as corrupt without being opened.
func TestMaildropDeviceNeverOpened(t *testing.T) {
	s, _ := sweepingStore(t)
	id := NewID(time.Now())
	// A FIFO stands in for a device (no root needed): only the look
	// before opening names the entry's type in the error; the check
	// after opening cannot.
	if err := syscall.Mkfifo(s.Path(Maildrop, id), 0o622); err != nil {
		t.Fatal(err)
	}
	_, err := s.Read(Maildrop, id)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "fifo") {
		t.Errorf("Read = %v, want ErrCorrupt naming a fifo", err)
	}
}
