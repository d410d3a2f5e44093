package kv

import (
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestTTLAndBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(Limits{MaxKeys: 2, MaxValue: 4}, func() time.Time { return now })
	if n, _ := s.Incr("a", 1, time.Minute); n != 1 {
		t.Fatalf("incr = %v", n)
	}
	now = now.Add(30 * time.Second)
	if n, _ := s.Incr("a", 1, time.Minute); n != 2 {
		t.Fatalf("incr inside the window = %v", n)
	}
	now = now.Add(31 * time.Second) // the window started at the first hit
	if n, _ := s.Incr("a", 1, time.Minute); n != 1 {
		t.Fatalf("incr after expiry = %v", n)
	}
	if err := s.Set("b", lua.LString("long value"), 0); err == nil {
		t.Error("oversized value accepted")
	}
	_ = s.Set("b", lua.LString("ok"), time.Second)
	if err := s.Set("c", lua.LTrue, 0); err != ErrFull {
		t.Errorf("third key: %v, want ErrFull", err)
	}
	now = now.Add(2 * time.Second) // b expires; the sweep frees its slot
	if err := s.Set("c", lua.LTrue, 0); err != nil {
		t.Errorf("set after sweep: %v", err)
	}
	if s.Get("b") != lua.LNil || s.Get("c") != lua.LTrue {
		t.Errorf("b=%v c=%v", s.Get("b"), s.Get("c"))
	}
}

// TestByteLimit: the store refuses what would take it past MaxBytes,
// counts replacements and deletions, and frees the room of expired
// entries.
func TestByteLimit(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(Limits{MaxBytes: 1000, MaxValue: 500}, func() time.Time { return now })
	big := lua.LString(strings.Repeat("x", 400))
	if err := s.Set("a", big, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Set("b", big, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Bytes(), 2*(1+400+entryOverhead); got != want {
		t.Errorf("bytes = %d, want %d", got, want)
	}
	if err := s.Set("c", big, 0); err != ErrFull {
		t.Errorf("third 400-byte value: %v, want ErrFull", err)
	}
	if err := s.Set("b", lua.LString("small"), 0); err != nil { // shrinking always fits
		t.Fatal(err)
	}
	if err := s.Set("c", big, 0); err != nil {
		t.Errorf("after b shrank: %v", err)
	}
	if err := s.Set("d", big, 0); err != ErrFull {
		t.Errorf("d: %v, want ErrFull", err)
	}
	now = now.Add(time.Minute) // a expires: a set that needs room drops it
	if err := s.Set("d", big, 0); err != nil {
		t.Errorf("d after a expired: %v", err)
	}
	s.Set("c", lua.LNil, 0)
	s.Set("d", lua.LNil, 0)
	if got, want := s.Bytes(), 1+5+entryOverhead; got != want {
		t.Errorf("bytes after deletes = %d, want %d", got, want)
	}
}

// TestExpiryIsDropped: expired entries leave the map when read and when
// the sweeper passes, not only when the store is full.
func TestExpiryIsDropped(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(Limits{}, func() time.Time { return now })
	for i := range 5000 {
		s.Set(strings.Repeat("k", i%50)+string(rune('a'+i%26))+string(rune(i)), lua.LTrue, time.Second)
	}
	s.Set("keep", lua.LTrue, 0)
	s.Set("read", lua.LTrue, time.Second)
	n := s.Len()
	now = now.Add(2 * time.Second)
	if s.Get("read") != lua.LNil || s.Len() != n-1 {
		t.Fatalf("read of an expired key: len %d, want %d", s.Len(), n-1)
	}
	dropped := 0
	for range 20 {
		d := s.Sweep(SweepBatch)
		if d > SweepBatch {
			t.Fatalf("one sweep dropped %d, batch %d", d, SweepBatch)
		}
		dropped += d
		if s.Len() == 1 {
			break
		}
	}
	if s.Len() != 1 || s.Get("keep") != lua.LTrue {
		t.Errorf("after sweeping: %d keys (dropped %d), want only keep", s.Len(), dropped)
	}
	if got := s.Bytes(); got != 4+entryOverhead {
		t.Errorf("bytes = %d, want %d", got, 4+entryOverhead)
	}
}
