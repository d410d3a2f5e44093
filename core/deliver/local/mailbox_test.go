package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

func TestMaildirConcurrent(t *testing.T) {
	e := newEnv(t, "", nil)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := e.deliver(message(fmt.Sprint("m", i)), "Joe@Example.org")
			if res[0].Status.Error() != "250 2.0.0 delivered to maildir" || res[0].Relay != "local" {
				t.Errorf("result %+v", res[0])
			}
		})
	}
	wg.Wait()
	files := e.maildir("joe")
	if len(files) != n {
		t.Fatalf("%d files in new/, want %d", len(files), n)
	}
	for _, f := range files {
		if strings.Contains(f, "\r") {
			t.Error("CR in a Maildir file")
		}
		if !strings.HasPrefix(f, "Return-Path: <sender@remote.example>\nDelivered-To: Joe@Example.org\nSubject: m") {
			t.Errorf("headers: %q", f[:min(len(f), 120)])
		}
		if !strings.Contains(f, "\nFrom the body\n") {
			t.Error("Maildir content must not be From_-quoted")
		}
	}
	ents, _ := os.ReadDir(filepath.Join(e.spool, "joe", "new"))
	for _, de := range ents {
		fi, _ := de.Info()
		if !strings.HasSuffix(de.Name(), fmt.Sprintf(",S=%d", fi.Size())) || !strings.Contains(de.Name(), ".test.example") {
			t.Errorf("name %s, size %d", de.Name(), fi.Size())
		}
	}
}

// readMbox splits an mbox into messages and checks each is well formed.
func readMbox(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, "From ") || !strings.HasSuffix(text, "\n\n") || strings.Contains(text, "\r") {
		t.Fatalf("malformed mbox: %q", text[:min(len(text), 200)])
	}
	msgs := strings.Split(strings.TrimPrefix(text, "From "), "\n\nFrom ")
	for _, m := range msgs {
		tag := strings.SplitN(m, "Subject: ", 2)[1]
		tag = strings.Fields(tag)[0]
		want := "line one " + tag + "\n>From the body\n>>From quoted\nend " + tag + "\n"
		if !strings.Contains(m+"\n", want) {
			t.Errorf("message %s mangled: %q", tag, m)
		}
	}
	return msgs
}

func TestMboxConcurrentAcrossProcesses(t *testing.T) {
	e := newEnv(t, "", func(c *Config) { c.Mailbox = c.Mailbox[:len(c.Mailbox)-1] })
	box := filepath.Join(e.spool, "joe")
	const n = 15
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MOONPOST_MBOX_APPEND="+fmt.Sprint(n), "MOONPOST_MBOX_PATH="+box)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if st := e.deliver(message(fmt.Sprint("g", i)), "joe@example.org")[0].Status; st.Error() != "250 2.0.0 delivered to mailbox" {
				t.Errorf("status %v", st)
			}
		})
	}
	wg.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("second process: %v", err)
	}
	if msgs := readMbox(t, box); len(msgs) != 2*n {
		t.Errorf("%d messages, want %d", len(msgs), 2*n)
	}
	if _, err := os.Stat(box + ".lock"); !os.IsNotExist(err) {
		t.Error("dot-lock left behind")
	}
}

func TestMboxTruncatesOnFailure(t *testing.T) {
	box := filepath.Join(t.TempDir(), "box")
	lk := mboxLocking{Wait: time.Second, Stale: time.Minute}
	if err := appendMbox(context.Background(), box, "", strings.NewReader(message("ok")), lk); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(box)
	broken := io.MultiReader(strings.NewReader(message("half")), iotest.ErrReader(syscall.EIO))
	err := appendMbox(context.Background(), box, "s@x", broken, lk)
	if !errors.Is(err, syscall.EIO) || fsStatus(err).Error() != "451 4.3.0 mailbox write error, try again later" {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(box)
	if string(after) != string(before) || !strings.HasPrefix(string(before), "From MAILER-DAEMON ") {
		t.Errorf("mailbox changed after a failed write:\n%q\n%q", before, after)
	}
}

func TestMboxLocks(t *testing.T) {
	box := filepath.Join(t.TempDir(), "box")
	lk := mboxLocking{Wait: 300 * time.Millisecond, Stale: time.Minute}
	if err := os.WriteFile(box+".lock", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := appendMbox(context.Background(), box, "s@x", strings.NewReader(message("x")), lk)
	if !errors.Is(err, errLockTimeout) || fsStatus(err).Error() != "451 4.2.0 mailbox is locked, try again later" {
		t.Fatalf("fresh lock: err = %v", err)
	}
	old := time.Now().Add(-2 * time.Minute)
	os.Chtimes(box+".lock", old, old)
	if err := appendMbox(context.Background(), box, "s@x", strings.NewReader(message("x")), lk); err != nil {
		t.Fatalf("stale lock not broken: %v", err)
	}
	// An flock held by someone else also makes us wait and give up.
	f, _ := os.Open(box)
	defer f.Close()
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	err = appendMbox(context.Background(), box, "s@x", strings.NewReader(message("y")), lk)
	if !errors.Is(err, errLockTimeout) {
		t.Errorf("held flock: err = %v", err)
	}
}

func TestMboxRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "box"))
	err := appendMbox(context.Background(), filepath.Join(dir, "box"), "s@x", strings.NewReader("x"), mboxLocking{Wait: time.Second, Stale: time.Minute})
	if err == nil {
		t.Error("wrote through a symlink")
	}
}

// TestDiskFull writes to /dev/full, a real device that fails every
// write with ENOSPC.
func TestDiskFull(t *testing.T) {
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	err = writeMboxMessage(f, "s@x", strings.NewReader(message("x")))
	if st := fsStatus(err); st.Error() != "452 4.3.1 Error: insufficient system storage" {
		t.Errorf("err %v → %v", err, st)
	}
}
