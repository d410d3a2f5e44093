package tally

import (
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	var h Histogram
	h.Observe(50 * time.Microsecond) // first bucket
	h.Observe(3 * time.Millisecond)  // le 0.005
	h.Observe(time.Minute)           // +Inf only
	s := h.Snapshot()
	if s.Count != 3 {
		t.Fatalf("count %d", s.Count)
	}
	if s.Buckets[0.0001] != 1 || s.Buckets[0.0025] != 1 || s.Buckets[0.005] != 2 || s.Buckets[10] != 2 {
		t.Errorf("buckets %v", s.Buckets)
	}
	if s.Sum < 60.003 || s.Sum > 60.0031 {
		t.Errorf("sum %v", s.Sum)
	}
}

func rows(t *Top) map[string][]uint64 {
	m := map[string][]uint64{}
	for _, r := range t.Snapshot() {
		m[r.Key] = r.Counts
	}
	return m
}

// The set of labels stays bounded, series never decrease, and a key that
// becomes the busiest gets a series of its own at the next choice.
func TestTopBoundsLabelsAndFollowsTheBusiest(t *testing.T) {
	top := &Top{N: 2, Kinds: 2, Every: -1}
	top.Add("a", 0)
	top.Add("b", 1)
	top.Add("c", 0) // no room: other
	got := rows(top)
	if len(got) != 3 || got["a"][0] != 1 || got["b"][1] != 1 || got["other"][0] != 1 {
		t.Fatalf("first snapshot %v", got)
	}
	for i := 0; i < 5; i++ {
		top.Add("c", 1)
	}
	top.Add("a", 0)
	got = rows(top) // c was busier than b in the last period
	if _, ok := got["b"]; ok || got["c"] == nil || got["c"][1] != 0 || got["other"][1] != 5 {
		t.Fatalf("after the choice %v", got)
	}
	top.Add("c", 1)
	top.Add("a", 0)
	top.Add("a", 0)
	top.Add("b", 0)
	got = rows(top)
	if got["c"][1] != 1 || got["other"][0] != 2 || got["a"][0] != 4 {
		t.Fatalf("after more events %v", got)
	}
	for i := 0; i < 100; i++ {
		top.Add(string(rune('d'+i%50)), 0)
	}
	if got = rows(top); len(got) > 3 {
		t.Fatalf("%d series, want at most N+1", len(got))
	}
}

func TestTopChoosesAtMostOncePerPeriod(t *testing.T) {
	top := &Top{N: 1, Every: time.Hour}
	top.Add("a", 0)
	for i := 0; i < 10; i++ {
		top.Add("b", 0)
	}
	if got := rows(top); got["a"] == nil || got["b"] != nil {
		t.Fatalf("chose again within the period: %v", got)
	}
}

func BenchmarkTopAdd(b *testing.B) {
	top := &Top{N: 20, Kinds: 3}
	keys := []string{"a", "b", "c", "d", "e"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		top.Add(keys[i%len(keys)], i%3)
	}
}

func BenchmarkHistogramObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Observe(time.Duration(i))
	}
}
