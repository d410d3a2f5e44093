package dns

import (
	"context"
	"testing"
	"time"
)

func TestCacheHonoursTTL(t *testing.T) {
	srv, r, clk := newTest(t, "c.test. 60 IN MX 10 mx.c.test.")
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := r.LookupMX(ctx, "c.test"); err != nil {
			t.Fatal(err)
		}
	}
	if q := srv.Queries(); q != 1 {
		t.Fatalf("queries before expiry = %d, want 1", q)
	}
	clk.Advance(59 * time.Second)
	_, _ = r.LookupMX(ctx, "c.test")
	if q := srv.Queries(); q != 1 {
		t.Fatalf("queries at 59s = %d, want 1", q)
	}
	clk.Advance(time.Second)
	_, _ = r.LookupMX(ctx, "c.test")
	if q := srv.Queries(); q != 2 {
		t.Fatalf("queries after expiry = %d, want 2", q)
	}
}

func TestNegativeAnswersCachedForSOAMinimum(t *testing.T) {
	srv, r, clk := newTest(t)
	ctx := context.Background()
	_, _ = r.LookupMX(ctx, "gone.test")
	_, err := r.LookupMX(ctx, "gone.test")
	wantKind(t, err, NotFound)
	if q := srv.Queries(); q != 1 {
		t.Fatalf("NXDOMAIN not cached: %d queries", q)
	}
	clk.Advance(30 * time.Second) // dnstest's SOA minimum
	_, _ = r.LookupMX(ctx, "gone.test")
	if q := srv.Queries(); q != 2 {
		t.Fatalf("negative entry outlived SOA minimum: %d queries", q)
	}
}

func TestTemporaryFailuresNotCached(t *testing.T) {
	srv, r, _ := newTest(t)
	srv.SetRcode("flaky.test", 2)
	_, _ = r.LookupMX(context.Background(), "flaky.test")
	_, _ = r.LookupMX(context.Background(), "flaky.test")
	if q := srv.Queries(); q != 2 {
		t.Fatalf("SERVFAIL cached: %d queries", q)
	}
}

func TestCacheBoundedLRU(t *testing.T) {
	c := newCache(2)
	now := time.Unix(0, 0)
	exp := now.Add(time.Hour)
	c.put(cacheKey{"a", 1}, answer{}, exp)
	c.put(cacheKey{"b", 1}, answer{}, exp)
	c.get(cacheKey{"a", 1}, now) // a is now the most recent
	c.put(cacheKey{"c", 1}, answer{}, exp)
	if c.len() != 2 {
		t.Fatalf("len = %d", c.len())
	}
	if _, ok := c.get(cacheKey{"b", 1}, now); ok {
		t.Error("least recently used entry kept")
	}
	if _, ok := c.get(cacheKey{"a", 1}, now); !ok {
		t.Error("recent entry evicted")
	}
}

func TestMaxTTLCapsLongRecords(t *testing.T) {
	srv, _, clk := newTest(t, "long.test. 604800 IN MX 10 mx.long.test.")
	r := New(Config{Servers: []string{srv.Addr}, Clock: clk, MaxTTL: time.Minute})
	_, _ = r.LookupMX(context.Background(), "long.test")
	clk.Advance(time.Minute)
	_, _ = r.LookupMX(context.Background(), "long.test")
	if q := srv.Queries(); q != 2 {
		t.Fatalf("MaxTTL ignored: %d queries", q)
	}
}
