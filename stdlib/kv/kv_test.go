package kv

import (
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestTTLAndBounds(t *testing.T) {
	now := time.Unix(1000, 0)
	s := New(2, 4, func() time.Time { return now })
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
