package queue

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tinyFS mounts a small tmpfs for the test, or skips loudly when that is
// not allowed (not root, no mount).
func tinyFS(t *testing.T, size string) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("SKIP: mounting a tmpfs to fill needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIP: cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// tinyStore opens a spool in the tiny file system at root.
func tinyStore(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(filepath.Join(root, "spool"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := 0; i < 1<<16; i++ {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
	t.Fatal("the file system never filled up")
}

// A journal append that finds the disk full fails with ErrNoSpace and
// leaves the file readable with the recipient still pending; once space
// is back the append works.
func TestAppendWhenDiskFull(t *testing.T) {
	root := tinyFS(t, "256k")
	s := tinyStore(t, root)
	// Size the content so the file ends on a page boundary: any append
	// then needs a new page.
	probe := commit(t, s, Incoming, sampleEnvelope(), "x")
	info, _ := os.Stat(s.Path(Incoming, probe))
	overhead := info.Size() - 1
	id := commit(t, s, Incoming, sampleEnvelope(), strings.Repeat("y", int(2*4096-overhead)))
	if info, _ := os.Stat(s.Path(Incoming, id)); info.Size()%4096 != 0 {
		t.Fatalf("file size %d is not page aligned", info.Size())
	}
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	filler := filepath.Join(root, "filler")
	fill(t, filler)
	if err := m.Append(RcptDelivered(0, "250 2.0.0 ok")); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("append on a full disk: %v, want ErrNoSpace", err)
	}
	again, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatalf("file unreadable after a failed append: %v", err)
	}
	body, _ := io.ReadAll(again.Open())
	if again.Recipients[0].State != Pending || len(body) != int(2*4096-overhead) {
		t.Fatalf("state %c, content %d bytes", again.Recipients[0].State, len(body))
	}
	again.Close()
	os.Remove(filler)
	if err := m.Append(RcptDelivered(0, "250 2.0.0 ok")); err != nil {
		t.Fatalf("append after space came back: %v", err)
	}
}

// When the disk fills, the spares' blocks are given back at once.
func TestSparesDroppedWhenDiskFull(t *testing.T) {
	root := tinyFS(t, "512k")
	s := tinyStore(t, root)
	if err := s.KeepSpares(16); err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for i := 0; i < 4; i++ {
		ids = append(ids, commit(t, s, Incoming, sampleEnvelope(), strings.Repeat("z", 16<<10)))
	}
	for _, id := range ids {
		deliver(t, s, id).Close()
	}
	if n := spareNames(t, s); len(n) != 4 {
		t.Fatalf("spare/ holds %v, want 4 files", n)
	}
	fill(t, filepath.Join(root, "filler"))
	w, err := s.Create(Incoming, sampleEnvelope(), 0)
	if err == nil {
		// The spare takes the first 16 KiB in place; more needs new blocks.
		_, err = io.WriteString(w, strings.Repeat("w", 256<<10))
		if err == nil {
			err = w.Commit()
		} else {
			w.Abort()
		}
	}
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("commit on a full disk = %v, want ErrNoSpace", err)
	}
	if n := spareNames(t, s); len(n) > 1 {
		t.Fatalf("after ErrNoSpace spare/ holds %v, want the pool dropped", n)
	}
}
