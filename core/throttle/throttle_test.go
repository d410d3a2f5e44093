package throttle

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/testserver"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, s string) Rate {
	r, err := ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// count checks key n times and returns how many passed.
func count(t *testing.T, l *Limiter, key, rate string, n int) int {
	t.Helper()
	ok := 0
	for i := 0; i < n; i++ {
		res, err := l.Check(ctx(t), key, must(t, rate))
		if err != nil {
			t.Fatalf("check %d of %s: %v", i, key, err)
		}
		if res.Allowed {
			ok++
		} else if res.RetryAfter <= 0 {
			t.Fatalf("refused with retry_after %v", res.RetryAfter)
		}
	}
	return ok
}

func TestLocal(t *testing.T) {
	now := time.Unix(1e6, 0)
	l := New(Options{Now: func() time.Time { return now }})
	if got := count(t, l, "tenant:a", "5/min", 8); got != 5 {
		t.Fatalf("allowed %d of 8 at 5/min, want 5", got)
	}
	if got := count(t, l, "tenant:b", "5/min", 1); got != 1 {
		t.Fatal("another key shares the limit")
	}
	res, _ := l.Check(ctx(t), "tenant:a", must(t, "5/min"))
	if res.Allowed || res.RetryAfter != 12*time.Second {
		t.Fatalf("got %+v, want refused with 12s", res)
	}
	now = now.Add(12 * time.Second)
	if got := count(t, l, "tenant:a", "5/min", 2); got != 1 {
		t.Fatalf("after one interval %d passed, want 1", got)
	}
}

func TestLocalKeyBound(t *testing.T) {
	now := time.Unix(1e6, 0)
	l := New(Options{MaxLocal: 2, Now: func() time.Time { return now }})
	count(t, l, "a", "1/h", 1)
	count(t, l, "b", "1/h", 1)
	if _, err := l.Check(ctx(t), "c", must(t, "1/h")); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("third key: %v, want ErrTooManyKeys", err)
	}
	now = now.Add(time.Hour)
	if _, err := l.Check(ctx(t), "c", must(t, "1/h")); err != nil {
		t.Fatalf("after the others expired: %v", err)
	}
}

func newClient(t testing.TB, addr string) redis.UniversalClient {
	c := NewRedisClient(config.Redis{Addresses: []string{addr},
		DialTimeout: config.Duration(time.Second), ReadTimeout: config.Duration(time.Second), WriteTimeout: config.Duration(time.Second)})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSharedAcrossNodes: two limiters (two nodes) on one Redis share a
// key's limit; local: keys stay apart.
func TestSharedAcrossNodes(t *testing.T) {
	srv := testserver.StartRedis(t)
	a := New(Options{Redis: newClient(t, srv.Addr)})
	b := New(Options{Redis: newClient(t, srv.Addr)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for _, l := range []*Limiter{a, b, a, b} {
		wg.Add(1)
		go func(l *Limiter) {
			defer wg.Done()
			n := count(t, l, "tenant:x", "40/h", 25)
			mu.Lock()
			total += n
			mu.Unlock()
		}(l)
	}
	wg.Wait()
	if total != 40 {
		t.Fatalf("%d of 100 passed a shared 40/h, want 40", total)
	}
	res, err := a.Check(ctx(t), "tenant:x", must(t, "40/h"))
	if err != nil || !res.Shared || res.Allowed || res.RetryAfter < 80*time.Second || res.RetryAfter > 90*time.Second {
		t.Fatalf("after the burst: %+v %v; want refused with about 90s", res, err)
	}
	if n := count(t, a, "fast", "1000000/s", 10); n != 10 {
		t.Fatalf("%d of 10 passed at 1000000/s", n)
	}
	if count(t, a, "local:x", "3/h", 5) != 3 || count(t, b, "local:x", "3/h", 5) != 3 {
		t.Fatal("local: keys are not per node")
	}
}

type logCount struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCount) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCount) lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), "redis throttle check failed")
}

// TestRedisDown: fail closed is an error, fail open the local limit;
// failures are logged once per LogEvery; a restarted Redis is used
// again with fresh counters.
func TestRedisDown(t *testing.T) {
	srv := testserver.StartRedis(t)
	logs := &logCount{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	closed := New(Options{Redis: newClient(t, srv.Addr), Logger: logger})
	open := New(Options{Redis: newClient(t, srv.Addr), FailOpen: true, Logger: logger})
	if count(t, closed, "k", "2/h", 3) != 2 {
		t.Fatal("shared limit not held")
	}
	srv.Stop()
	for i := 0; i < 3; i++ {
		if _, err := closed.Check(ctx(t), "k", must(t, "2/h")); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("fail closed with Redis down: %v, want ErrUnavailable", err)
		}
	}
	if n := count(t, open, "k", "2/h", 3); n != 2 {
		t.Fatalf("fail open allowed %d of 3 at 2/h, want the local limit 2", n)
	}
	if n := logs.lines(); n != 2 {
		t.Fatalf("%d failure lines logged for 6 failures of two limiters, want 2", n)
	}
	srv.Start()
	var res Result
	var err error
	for i := 0; i < 3; i++ { // a pooled connection to the old server may fail once
		if res, err = closed.Check(ctx(t), "k", must(t, "2/h")); err == nil {
			break
		}
	}
	if err != nil || !res.Allowed || !res.Shared {
		t.Fatalf("after the restart: %+v %v; want allowed by Redis", res, err)
	}
	if count(t, closed, "k", "2/h", 2) != 1 {
		t.Fatal("limit not held after the restart")
	}
}

// TestRedisSlow: a server that never answers costs one timeout.
func TestRedisSlow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	l := New(Options{Redis: newClient(t, ln.Addr().String()), Timeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logCount{}, nil))})
	start := time.Now()
	_, err = l.Check(ctx(t), "k", must(t, "2/h"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("silent server: %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("check took %v with a 100ms timeout", d)
	}
}

// TestCluster: several addresses make a Cluster client; the script
// touches one key, so it runs on whichever node owns the key's slot.
// The Cluster here is one node holding every slot, named twice.
func TestCluster(t *testing.T) {
	srv := testserver.StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	if err := admin.Do(ctx(t), "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(admin.ClusterInfo(ctx(t)).Val(), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("cluster not ready after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, port, _ := net.SplitHostPort(srv.Addr)
	c := NewRedisClient(config.Redis{Addresses: []string{srv.Addr, "localhost:" + port}})
	defer c.Close()
	if _, ok := c.(*redis.ClusterClient); !ok {
		t.Fatalf("two addresses gave a %T, want a *redis.ClusterClient", c)
	}
	l := New(Options{Redis: c})
	if n := count(t, l, "tenant:c", "4/h", 6); n != 4 {
		t.Fatalf("%d of 6 passed 4/h on the Cluster", n)
	}
}

// TestSentinel: with master_name the addresses are Sentinels, which
// tell the client where the master is.
func TestSentinel(t *testing.T) {
	master := testserver.StartRedis(t)
	sentinel := testserver.StartSentinel(t, master, "mymaster")
	c := NewRedisClient(config.Redis{Addresses: []string{sentinel.Addr}, MasterName: "mymaster"})
	defer c.Close()
	l := New(Options{Redis: c, Timeout: 2 * time.Second})
	if n := count(t, l, "tenant:s", "4/h", 6); n != 4 {
		t.Fatalf("%d of 6 passed 4/h through Sentinel", n)
	}
	direct := newClient(t, master.Addr)
	if direct.Exists(ctx(t), keyPrefix+"tenant:s").Val() != 1 {
		t.Fatal("the key is not on the master")
	}
}

// TestPeek: a peek answers as a check would and counts nothing, in the
// node and in Redis, where another node's peek sees the shared count.
func TestPeek(t *testing.T) {
	srv := testserver.StartRedis(t)
	shared := New(Options{Redis: newClient(t, srv.Addr)})
	other := New(Options{Redis: newClient(t, srv.Addr)})
	for _, key := range []string{"local:fail", "fail"} {
		r := must(t, "3/h")
		for i := 0; i < 5; i++ {
			if res, err := shared.Peek(ctx(t), key, r); err != nil || !res.Allowed {
				t.Fatalf("%s: peek %d before any event: %+v %v", key, i, res, err)
			}
		}
		if n := count(t, shared, key, "3/h", 3); n != 3 {
			t.Fatalf("%s: peeks counted: %d of 3 checks passed", key, n)
		}
		res, err := shared.Peek(ctx(t), key, r)
		if err != nil || res.Allowed || res.RetryAfter < 19*time.Minute {
			t.Fatalf("%s: peek after the limit: %+v %v, want refused for about 20 min", key, res, err)
		}
		o, err := other.Peek(ctx(t), key, r)
		if local := strings.HasPrefix(key, LocalPrefix); err != nil || o.Allowed != local {
			t.Fatalf("%s: the other node's peek: %+v %v", key, o, err)
		}
	}
}
