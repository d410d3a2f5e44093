package queue

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestPackedIDRoundTrip(t *testing.T) {
	for _, s := range []string{"000000000000000000", "FFFFFFFFFFFFFFFFFF", "0123456789ABCDEF01", "6BA2179C674002A3BE"} {
		if got := pack(s).id(); string(got) != s {
			t.Errorf("pack(%q).id() = %q", s, got)
		}
	}
	base := time.Now()
	for i := 0; i < 1000; i++ {
		id := NewID(base.Add(time.Duration(i) * time.Microsecond))
		if got := pack(string(id)).id(); got != id {
			t.Fatalf("pack(%q).id() = %q", id, got)
		}
	}
}

// fillDir puts n empty files named by fresh IDs into st's directory,
// in no particular order, and returns the IDs sorted.
func fillDir(t *testing.T, s *Store, st State, n int) []ID {
	t.Helper()
	var ids []ID
	base := time.Unix(1700000000, 0)
	for i := 0; i < n; i++ {
		// Descending times: the directory order is not the ID order.
		id := NewID(base.Add(-time.Duration(i) * time.Second))
		if err := os.WriteFile(filepath.Join(s.root, string(st), string(id)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func TestWalkIDsSortedSkipsStrays(t *testing.T) {
	s := newStore(t)
	want := fillDir(t, s, Deferred, 3*walkBatch+7) // several batches
	dir := filepath.Join(s.root, string(Deferred))
	os.WriteFile(filepath.Join(dir, ".0123456789ABCDEF01.tmp"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "not-an-id"), nil, 0o600)
	os.Mkdir(filepath.Join(dir, "0123456789ABCDEF02"), 0o700)
	var got []ID
	if err := s.WalkIDs(Deferred, func(id ID) bool { got = append(got, id); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walk gave %d IDs, want %d in ID order", len(got), len(want))
	}
	n := 0
	s.WalkIDs(Deferred, func(ID) bool { n++; return n < 5 })
	if n != 5 {
		t.Errorf("walk went on after fn returned false: %d calls", n)
	}
	ents, err := s.List(Deferred)
	if err != nil || len(ents) != len(want) || ents[0].ID != want[0] {
		t.Fatalf("List = %d entries (%v), want %d from %s", len(ents), err, len(want), want[0])
	}
}

// TestWalkHoldsIDsOnly: in the middle of a walk of many messages, the
// live heap holds about 16 bytes per message, not the directory's
// entries (about 150 bytes each with their names), so a deferred queue
// of a million messages can be listed and scanned in tens of megabytes.
func TestWalkHoldsIDsOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20000 files")
	}
	const n = 20000
	s := newStore(t)
	fillDir(t, s, Deferred, n)
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	k := 0
	s.WalkIDs(Deferred, func(ID) bool {
		if k++; k == n/2 {
			runtime.GC()
			runtime.ReadMemStats(&during)
		}
		return true
	})
	grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	if per := grown / n; per > 40 {
		t.Fatalf("the walk holds %d bytes per message (%d in all), want at most 40", per, grown)
	}
}
