package queue

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}

func spareNames(t *testing.T, s *Store) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(s.Root(), spareDir))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

// deliver reads message id from incoming/ and removes it, as the queue
// manager does with a delivered message.
func deliver(t *testing.T, s *Store, id ID) *Message {
	t.Helper()
	m, err := s.Read(Incoming, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(); err != nil {
		t.Fatal(err)
	}
	return m
}

func readContent(t *testing.T, s *Store, st State, id ID) (*Message, string) {
	t.Helper()
	m, err := s.Read(st, id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(m.Open())
	if err != nil {
		t.Fatal(err)
	}
	return m, string(b)
}

// A delivered message's file carries the next message, rewritten whole:
// a shorter message leaves nothing of the longer one behind.
func TestSpareFileIsReused(t *testing.T) {
	s := newStore(t)
	if err := s.KeepSpares(4); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("old line of a long message\r\n", 400)
	first := commit(t, s, Incoming, sampleEnvelope(), long)
	ino := inode(t, s.Path(Incoming, first))
	m := deliver(t, s, first)
	m.Close()
	if _, err := os.Stat(s.Path(Incoming, first)); !os.IsNotExist(err) {
		t.Fatalf("delivered message still queued: %v", err)
	}
	if n := spareNames(t, s); len(n) != 1 {
		t.Fatalf("spare/ holds %v, want one file", n)
	}

	env := sampleEnvelope()
	env.Recipients = env.Recipients[:1]
	second := commit(t, s, Incoming, env, "short\r\n")
	if got := inode(t, s.Path(Incoming, second)); got != ino {
		t.Fatalf("new message in inode %d, want the spare %d", got, ino)
	}
	if n := spareNames(t, s); len(n) != 0 {
		t.Fatalf("spare/ holds %v after reuse", n)
	}
	m2, body := readContent(t, s, Incoming, second)
	defer m2.Close()
	if body != "short\r\n" || m2.ID != second || len(m2.Recipients) != 1 {
		t.Fatalf("reused file reads as ID %s, %d recipients, content %q", m2.ID, len(m2.Recipients), body)
	}
	info, _ := os.Stat(s.Path(Incoming, second))
	if info.Size() > 1024 {
		t.Fatalf("reused file is %d bytes: the old content was not cut", info.Size())
	}
}

// A file is not reused while someone still holds its descriptor, and a
// removed message takes no more journal records.
func TestSpareWaitsForLastReference(t *testing.T) {
	s := newStore(t)
	if err := s.KeepSpares(4); err != nil {
		t.Fatal(err)
	}
	first := commit(t, s, Incoming, sampleEnvelope(), "first\r\n")
	ino := inode(t, s.Path(Incoming, first))
	m := deliver(t, s, first) // Read's reference is still held
	if err := m.Append(Record{kind: 'D', fields: []string{"0"}}); !errors.Is(err, ErrRemoved) {
		t.Fatalf("Append after Remove = %v, want ErrRemoved", err)
	}
	if err := m.Acquire(); !errors.Is(err, ErrRemoved) {
		t.Fatalf("Acquire after Remove = %v, want ErrRemoved", err)
	}
	if err := m.Remove(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	second := commit(t, s, Incoming, sampleEnvelope(), "second\r\n")
	if inode(t, s.Path(Incoming, second)) == ino {
		t.Fatal("file reused while a reference was held")
	}
	m.Close()
	third := commit(t, s, Incoming, sampleEnvelope(), "third\r\n")
	if inode(t, s.Path(Incoming, third)) != ino {
		t.Fatal("file not reused after the last reference was released")
	}
}

// An aborted message gives its spare back; spares beyond the limit and
// removals without KeepSpares are unlinked; recovery purges spare/.
func TestSpareLifecycle(t *testing.T) {
	s := newStore(t)
	a := commit(t, s, Incoming, sampleEnvelope(), "a\r\n")
	deliver(t, s, a).Close()
	if n := spareNames(t, s); len(n) != 0 {
		t.Fatalf("without KeepSpares, spare/ holds %v", n)
	}

	if err := s.KeepSpares(1); err != nil {
		t.Fatal(err)
	}
	b := commit(t, s, Incoming, sampleEnvelope(), "b\r\n")
	c := commit(t, s, Incoming, sampleEnvelope(), "c\r\n")
	deliver(t, s, b).Close()
	deliver(t, s, c).Close()
	if n := spareNames(t, s); len(n) != 1 {
		t.Fatalf("with a limit of 1, spare/ holds %v", n)
	}

	w, err := s.Create(Incoming, sampleEnvelope(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if w.spare == "" {
		t.Fatal("Create did not take the spare")
	}
	_, _ = io.WriteString(w, "aborted\r\n")
	w.Abort()
	if n := spareNames(t, s); len(n) != 1 {
		t.Fatalf("after Abort, spare/ holds %v, want the spare back", n)
	}
	if ids, _ := s.IDs(Incoming); len(ids) != 0 {
		t.Fatalf("aborted message visible: %v", ids)
	}

	if _, err := s.Recover(); err != nil {
		t.Fatal(err)
	}
	if n := spareNames(t, s); len(n) != 0 {
		t.Fatalf("after Recover, spare/ holds %v", n)
	}
}
