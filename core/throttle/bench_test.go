package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/testserver"
)

// BenchmarkRedisCheck is one shared check: one EVALSHA round trip to a
// real Redis on loopback, from several goroutines as smtpd would.
func BenchmarkRedisCheck(b *testing.B) {
	srv := testserver.StartRedis(b)
	c := newClient(b, srv.Addr)
	defer c.Close()
	l := New(Options{Redis: c, Timeout: time.Second})
	r := Rate{N: 1_000_000_000, Per: time.Second}
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := l.Check(ctx, fmt.Sprintf("tenant:%d", i%100), r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLocalCheck is one node-local check.
func BenchmarkLocalCheck(b *testing.B) {
	l := New(Options{})
	r := Rate{N: 1_000_000_000, Per: time.Second}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Check(ctx, "local:tenant", r)
		}
	})
}

// BenchmarkEgressGate is the queue manager's shared egress check as a
// delivery goroutine makes it: one site's message rate, far above the
// load, asked by many deliveries at once.
func BenchmarkEgressGate(b *testing.B) {
	srv := testserver.StartRedis(b)
	c := newClient(b, srv.Addr)
	defer c.Close()
	l := New(Options{Redis: c, Timeout: time.Second})
	r := Rate{N: 1_000_000_000, Per: time.Second}
	ctx := context.Background()
	b.SetParallelism(4) // deliveries in flight outnumber the CPUs
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := l.Check(ctx, "egress:msg:site:relay", r); err != nil || !res.Allowed {
				b.Fatal(res, err)
			}
		}
	})
}
