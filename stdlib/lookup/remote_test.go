package lookup

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestRemoteCache: found values live ttl, misses negative_ttl, errors
// not at all; a full cache is bounded.
func TestRemoteCache(t *testing.T) {
	now := time.Unix(1e6, 0)
	calls := 0
	var fail error
	data := map[string]string{"a": "1"}
	tbl := &Remote{
		o:   RemoteOptions{TTL: time.Minute, NegativeTTL: 10 * time.Second, MaxEntries: 3},
		now: func() time.Time { return now },
		fetch: func(_ context.Context, k string) (any, bool, error) {
			calls++
			if fail != nil {
				return nil, false, fail
			}
			v, ok := data[k]
			return v, ok, nil
		},
		cache: map[string]entry{},
	}
	get := func(k string) (any, bool) {
		v, ok, err := tbl.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
	for i := 0; i < 3; i++ {
		if v, ok := get("a"); !ok || v != "1" {
			t.Fatalf("a: %v %v", v, ok)
		}
		if _, ok := get("b"); ok {
			t.Fatal("b found")
		}
	}
	if calls != 2 {
		t.Fatalf("%d backend calls for 6 lookups of 2 keys, want 2", calls)
	}
	data["b"] = "2"
	now = now.Add(11 * time.Second) // the miss expired, the hit not
	if v, ok := get("b"); !ok || v != "2" || calls != 3 {
		t.Fatalf("b after negative_ttl: %v %v, %d calls", v, ok, calls)
	}
	get("a")
	if calls != 3 {
		t.Fatal("a fetched again inside its ttl")
	}
	now = now.Add(time.Minute)
	fail = errors.New("down")
	if _, _, err := tbl.Get(context.Background(), "a"); err == nil {
		t.Fatal("an expired entry hid the backend's error")
	}
	fail = nil
	for _, k := range []string{"c", "d", "e", "f"} {
		get(k)
	}
	if len(tbl.cache) > 3 {
		t.Fatalf("cache holds %d entries, bound 3", len(tbl.cache))
	}
}

// BenchmarkRemoteWarm is a warm cached lookup: what a per-message
// lookup.sql or lookup.redis :get costs once the key is cached.
func BenchmarkRemoteWarm(b *testing.B) {
	tbl := &Remote{
		o:     RemoteOptions{TTL: time.Hour, NegativeTTL: time.Hour, MaxEntries: 1000},
		now:   time.Now,
		fetch: func(context.Context, string) (any, bool, error) { return "tenant-1", true, nil },
		cache: map[string]entry{},
	}
	ctx := context.Background()
	tbl.Get(ctx, "example.com")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, _ := tbl.Get(ctx, "example.com"); !ok {
				b.Fatal("miss")
			}
		}
	})
}
