package queue

import (
	"io"
	"os"
	"strings"
	"testing"
)

// CommitActive must hand over exactly what a read of the committed file
// gives: envelope, content, and where the journal continues.
func TestCommitActiveMatchesRead(t *testing.T) {
	s := newStore(t)
	if err := s.KeepSpares(8); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 100, 5000, 40000} { // the last ones reuse spares of other lengths
		content := strings.Repeat("x", size)
		w, err := s.Create(Incoming, sampleEnvelope(), 0)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, content)
		m, err := w.CommitActive()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(s.Path(Incoming, m.ID)); !os.IsNotExist(err) {
			t.Fatalf("size %d: file in incoming/ too: %v", size, err)
		}
		r, err := s.Read(Active, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !equalEnvelope(&m.Envelope, &r.Envelope) || m.State != Active || m.off != r.off || m.end != r.end || m.torn {
			t.Fatalf("size %d: handed over %+v (off %d end %d), read %+v (off %d end %d)",
				size, m.Envelope, m.off, m.end, r.Envelope, r.off, r.end)
		}
		got, _ := io.ReadAll(m.Open())
		if string(got) != content {
			t.Fatalf("size %d: content of %d bytes, want %d", size, len(got), size)
		}
		r.Close()
		// The journal goes on where a reader expects it.
		if err := m.Append(RcptDelivered(0, "250 ok")); err != nil {
			t.Fatal(err)
		}
		r, err = s.Read(Active, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Recipients[0].State != Delivered {
			t.Fatalf("size %d: journal record lost: %+v", size, r.Recipients[0])
		}
		r.Close()
		if err := m.Remove(); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
}

func TestCommitActiveOnlyForIncoming(t *testing.T) {
	s := newStore(t)
	w, err := s.Create(Hold, sampleEnvelope(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.CommitActive(); err == nil {
		t.Fatal("CommitActive of a message for hold/ succeeded")
	}
	for _, st := range []State{Hold, Active, Incoming} {
		if ids, _ := s.IDs(st); len(ids) != 0 {
			t.Fatalf("%s holds %v after the refused commit", st, ids)
		}
	}
}
