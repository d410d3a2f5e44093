package queue

import (
	"bytes"
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
	return removeFrom(t, s, Incoming, id)
}

// removeFrom reads message id from st and removes it.
func removeFrom(t *testing.T, s *Store, st State, id ID) *Message {
	t.Helper()
	m, err := s.Read(st, id)
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
	raw, _ := os.ReadFile(s.Path(Incoming, second))
	if len(raw) != padBlock || bytes.Contains(raw, []byte("old line")) {
		t.Fatalf("reused file is %d bytes (want %d), old content left: %v", len(raw), padBlock, bytes.Contains(raw, []byte("old line")))
	}
}

// A new message about as long as the spare it reuses keeps the file's
// length: the padding record covers every byte of the old message, and
// no truncate is needed.
func TestSpareKeepsItsLength(t *testing.T) {
	s := newStore(t)
	if err := s.KeepSpares(4); err != nil {
		t.Fatal(err)
	}
	first := commit(t, s, Incoming, sampleEnvelope(), strings.Repeat("old line of a message\r\n", 300))
	before, _ := os.Stat(s.Path(Incoming, first))
	if before.Size()%padBlock != 0 {
		t.Fatalf("queue file is %d bytes, not padded to a block", before.Size())
	}
	m := deliver(t, s, first)
	m.Close()
	second := commit(t, s, Incoming, sampleEnvelope(), "short\r\n")
	raw, _ := os.ReadFile(s.Path(Incoming, second))
	if int64(len(raw)) != before.Size() {
		t.Fatalf("reused file is %d bytes, want the spare's %d", len(raw), before.Size())
	}
	end := bytes.Index(raw, []byte("short\r\n")) + len("short\r\n")
	pad := raw[end:]
	if !bytes.HasPrefix(pad, []byte("Z ")) || pad[len(pad)-1] != '\n' || len(bytes.Trim(pad[2:len(pad)-1], " ")) != 0 {
		t.Fatalf("after the content: %q, want one padding record", pad[:min(len(pad), 40)])
	}
	m2, body := readContent(t, s, Incoming, second)
	defer m2.Close()
	if body != "short\r\n" {
		t.Fatalf("content %q", body)
	}
	// A journal record goes after the padding and reads back.
	if err := m2.Append(RcptDelivered(0, "250 ok")); err != nil {
		t.Fatal(err)
	}
	m3, err := s.Read(Incoming, second)
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	if m3.Recipients[0].State != Delivered {
		t.Fatalf("journal after padding not applied: %+v", m3.Recipients[0])
	}
}

func TestPaddedEnd(t *testing.T) {
	for _, c := range []struct{ n, old, want int64 }{
		{100, 0, 4096},
		{4093, 0, 4096},
		{4094, 0, 8192}, // no room for "Z \n"
		{100, 4096, 4096},
		{100, 8192, 8192},                  // a longer spare keeps its length
		{100, 100 + maxPadReuse + 1, 4096}, // too much longer: cut
		{5000, 4096, 8192},                 // a shorter spare grows
		{100, -1, 4096},
	} {
		if got := paddedEnd(c.n, c.old); got != c.want {
			t.Errorf("paddedEnd(%d, %d) = %d, want %d", c.n, c.old, got, c.want)
		}
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
	if w.spare.path == "" {
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

// syncs is how many directory syncs of st have finished.
func syncs(s *Store, st State) uint64 {
	g := s.syncer(st)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.done
}

// queueDeferred queues a message into deferred/ and returns its ID and
// its file's inode.
func queueDeferred(t *testing.T, s *Store) (ID, uint64) {
	t.Helper()
	id := commit(t, s, Incoming, sampleEnvelope(), "x\r\n")
	if err := s.Move(id, Incoming, Deferred); err != nil {
		t.Fatal(err)
	}
	return id, inode(t, s.Path(Deferred, id))
}

func removeDeferred(t *testing.T, s *Store, id ID) {
	t.Helper()
	removeFrom(t, s, Deferred, id).Close()
}

// A retire is made durable by a sync of its directory before the file
// is reused, not by one of its own; one sync covers every spare retired
// before it began, and the oldest spare is reused first.
func TestSpareRetireSyncedBeforeReuse(t *testing.T) {
	s := newStore(t)
	if err := s.KeepSpares(8); err != nil {
		t.Fatal(err)
	}
	id1, first := queueDeferred(t, s)
	id2, second := queueDeferred(t, s)
	before := syncs(s, Deferred)
	removeDeferred(t, s, id1)
	removeDeferred(t, s, id2)
	if got := syncs(s, Deferred); got != before {
		t.Fatalf("retiring synced deferred/ %d times, want 0", got-before)
	}
	// The first reuse needs a sync of deferred/ after the retires; it
	// covers the second spare too.
	a := commit(t, s, Incoming, sampleEnvelope(), "new\r\n")
	if got := syncs(s, Deferred); got != before+1 {
		t.Fatalf("reusing an unsynced spare synced deferred/ %d times, want 1", got-before)
	}
	if ino := inode(t, s.Path(Incoming, a)); ino != first {
		t.Fatalf("reused inode %d, want the oldest spare's %d", ino, first)
	}
	b := commit(t, s, Incoming, sampleEnvelope(), "new\r\n")
	if got := syncs(s, Deferred); got != before+1 {
		t.Fatalf("a spare retired before the last sync began was synced again")
	}
	if ino := inode(t, s.Path(Incoming, b)); ino != second {
		t.Fatalf("reused inode %d, want the second spare's %d", ino, second)
	}
}
