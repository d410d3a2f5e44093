package greylist_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/hooks"
	"github.com/moonpost/moonpost/stdlib/greylist"
)

// The clock is in kv, shared by every pooled state; "tick@x" moves it.
const script = `
local kv = require("kv")
local greylist = require("greylist")
local grey = greylist.new({delay = 300, auto_allow = 2, allow = {"198.51.100.0/24", "friends.example"},
  now = function() return kv.get("fake_now") or 1000 end})
mta.on("rcpt", function(s, to)
  if to == "tick@x" then kv.set("fake_now", (kv.get("fake_now") or 1000) + 301); return nil end
  return grey:check(s, to)
end)
`

func TestGreylist(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "grey.lua"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := hooks.New(hooks.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rcpt := func(client, sender, to string) *dsn.Status {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := e.Rcpt(ctx, &policy.Session{ClientAddr: netip.MustParseAddr(client), Sender: sender}, to)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	deferred := func(st *dsn.Status) bool { return st != nil && st.Code == 450 && st.Enhanced == dsn.Enhanced{4, 2, 0} }
	tick := func() { rcpt("192.0.2.1", "", "tick@x") }

	if st := rcpt("192.0.2.1", "a@example.org", "bob@example.com"); !deferred(st) {
		t.Fatalf("first attempt: %v", st)
	}
	if st := rcpt("192.0.2.1", "a@example.org", "bob@example.com"); !deferred(st) {
		t.Fatalf("retry too early: %v", st)
	}
	tick()
	// Same /24, after the delay: passes, and stays passed.
	if st := rcpt("192.0.2.99", "a@example.org", "bob@example.com"); st != nil {
		t.Fatalf("retry after the delay: %v", st)
	}
	if st := rcpt("192.0.2.1", "A@example.org", "BOB@example.com"); st != nil {
		t.Fatalf("passed triplet: %v", st)
	}
	// A new triplet from the same network is greylisted, until the
	// network has passed auto_allow times.
	if st := rcpt("192.0.2.1", "c@example.org", "bob@example.com"); !deferred(st) {
		t.Fatalf("new triplet: %v", st)
	}
	tick()
	if st := rcpt("192.0.2.1", "c@example.org", "bob@example.com"); st != nil {
		t.Fatalf("second pass: %v", st)
	}
	if st := rcpt("192.0.2.1", "new@example.org", "new@example.com"); st != nil {
		t.Fatalf("auto-allowed network: %v", st)
	}
	// IPv6 /64, allow-list by network and by sender domain.
	if st := rcpt("2001:db8::1", "a@example.org", "bob@example.com"); !deferred(st) {
		t.Fatalf("v6 first: %v", st)
	}
	if st := rcpt("198.51.100.7", "a@example.org", "bob@example.com"); st != nil {
		t.Fatalf("allowed network: %v", st)
	}
	if st := rcpt("203.0.113.9", "x@friends.example", "bob@example.com"); st != nil {
		t.Fatalf("allowed domain: %v", st)
	}
}

func TestNetwork(t *testing.T) {
	for in, want := range map[string]string{"192.0.2.77": "192.0.2.0/24", "2001:db8:1:2:3::4": "2001:db8:1:2::/64",
		"::ffff:192.0.2.1": "192.0.2.0/24", "": "", "nope": ""} {
		if got := greylist.Network(in); got != want {
			t.Errorf("Network(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnknownOption(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "g.lua"), []byte(`require("greylist").new({dealy = 5})`), 0o644)
	if _, err := hooks.New(hooks.Config{Dir: dir}); err == nil {
		t.Fatal("unknown option accepted")
	}
	os.WriteFile(filepath.Join(dir, "g.lua"), []byte(`require("greylist").new({store = "memcached"})`), 0o644)
	if _, err := hooks.New(hooks.Config{Dir: dir}); err == nil {
		t.Fatal("unknown store accepted")
	}
}
