package greylist_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/testserver"
	core "github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/hooks"
)

// The clock is in Redis too, so both nodes share it; "tick@x" moves it.
const redisScript = `
local redis = require("redis")
local greylist = require("greylist")
local grey = greylist.new({store = "redis", delay = 300, auto_allow = 2,
  now = function() return tonumber(redis.call("GET", "fake_now")) or 0 end})
mta.on("rcpt", function(s, to)
  if to == "tick@x" then redis.call("INCRBY", "fake_now", 301); return nil end
  return grey:check(s, to)
end)
`

// node is one daemon's policy engine, on the shared Redis.
func node(t *testing.T, addr string) func(client, sender, to string) (*dsn.Status, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "grey.lua"), []byte(redisScript), 0o644); err != nil {
		t.Fatal(err)
	}
	c := core.NewRedisClient(config.Redis{Addresses: []string{addr}, DialTimeout: config.Duration(500 * time.Millisecond)})
	t.Cleanup(func() { c.Close() })
	e, err := hooks.New(hooks.Config{Dir: dir, Redis: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return func(client, sender, to string) (*dsn.Status, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return e.Rcpt(ctx, &policy.Session{ClientAddr: netip.MustParseAddr(client), Sender: sender}, to)
	}
}

// TestGreylistRedis: two nodes on one Redis greylist as one: a triplet
// first seen by one passes on the other after the delay, the pass and
// the auto-allow are seen by both, and Redis down is a temporary
// failure, never an accept.
func TestGreylistRedis(t *testing.T) {
	srv := testserver.StartRedis(t)
	a, b := node(t, srv.Addr), node(t, srv.Addr)
	deferred := func(st *dsn.Status, err error) bool {
		return err == nil && st != nil && st.Code == 450 && st.Enhanced == dsn.Enhanced{4, 2, 0}
	}
	passed := func(st *dsn.Status, err error) bool { return err == nil && st == nil }

	if !deferred(a("192.0.2.1", "a@example.org", "bob@example.com")) {
		t.Fatal("first attempt on node a not deferred")
	}
	if !deferred(b("192.0.2.1", "a@example.org", "bob@example.com")) {
		t.Fatal("early retry on node b not deferred")
	}
	a("192.0.2.1", "", "tick@x")
	if !passed(b("192.0.2.9", "a@example.org", "bob@example.com")) {
		t.Fatal("retry on node b after the delay not passed")
	}
	if !passed(a("192.0.2.1", "a@example.org", "bob@example.com")) {
		t.Fatal("the triplet node b passed is greylisted on node a")
	}
	if !deferred(b("192.0.2.1", "c@example.org", "bob@example.com")) {
		t.Fatal("a new triplet not deferred")
	}
	a("192.0.2.1", "", "tick@x")
	if !passed(a("192.0.2.1", "c@example.org", "bob@example.com")) {
		t.Fatal("second triplet not passed")
	}
	if !passed(b("192.0.2.1", "new@example.org", "new@example.com")) {
		t.Fatal("the network auto-allowed on node a is greylisted on node b")
	}

	srv.Stop()
	st, err := a("203.0.113.5", "x@example.net", "bob@example.com")
	if err == nil && (st == nil || !st.Temporary()) {
		t.Fatalf("Redis down: %v, %v; want a temporary failure", st, err)
	}
}
