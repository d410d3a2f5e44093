package dnsbl

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	coredns "github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/stdlib/dns"
)

// daemonResolver is the daemon's resolver as the hooks give it to the
// modules (cmd/internal/app's dnsAdapter).
type daemonResolver struct{ r coredns.Resolver }

func (d daemonResolver) LookupHost(ctx context.Context, host string) ([]string, error) {
	addrs, err := d.r.LookupHost(ctx, host)
	if coredns.IsNotFound(err) {
		return nil, dns.ErrNotFound
	}
	out := make([]string, len(addrs))
	for i, a := range addrs {
		out[i] = a.String()
	}
	return out, err
}

func TestParseSite(t *testing.T) {
	for in, want := range map[string]string{
		"zen.example":                        "zen.example any *1",
		"zen.example=127.0.0.[2..11]*3":      "zen.example 127.0.0.2+ 127.0.0.11+ 127.0.0.12- 127.0.0.1- *3",
		"wl.example=127.0.[0..255].[1;3]*-2": "wl.example 127.0.9.1+ 127.0.9.3+ 127.0.9.2- *-2",
		"Zen.Example.":                       "zen.example any *1",
	} {
		s, err := ParseSite(in)
		if err != nil {
			t.Errorf("ParseSite(%q): %v", in, err)
			continue
		}
		fields := strings.Fields(want)
		if s.Domain != fields[0] || fields[len(fields)-1] != "*"+itoa(s.Weight) {
			t.Errorf("ParseSite(%q) = %+v", in, s)
		}
		for _, f := range fields[1 : len(fields)-1] {
			if f == "any" {
				if !s.Any {
					t.Errorf("%q: has a filter", in)
				}
				continue
			}
			addr, sign := f[:len(f)-1], f[len(f)-1]
			if got := s.Match(netip.MustParseAddr(addr)); got != (sign == '+') {
				t.Errorf("%q: Match(%s) = %v", in, addr, got)
			}
		}
	}
	for _, bad := range []string{"", "=127.0.0.2", "zen.example=127.0.0", "zen.example=127.0.0.[3..2]",
		"zen.example=127.0.0.256", "zen.example*x", "zen example", "zen.example=127.0.0.[1"} {
		if _, err := ParseSite(bad); err == nil {
			t.Errorf("ParseSite(%q) accepted", bad)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestReverse(t *testing.T) {
	if got := Reverse(netip.MustParseAddr("192.0.2.1")); got != "1.2.0.192" {
		t.Errorf("v4: %s", got)
	}
	if got := Reverse(netip.MustParseAddr("::ffff:192.0.2.1")); got != "1.2.0.192" {
		t.Errorf("mapped: %s", got)
	}
	want := "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
	if got := Reverse(netip.MustParseAddr("2001:db8::1")); got != want {
		t.Errorf("v6: %s", got)
	}
}

// TestCheck: several lists with weights and filters, IPv4 and IPv6, a
// list that fails and one that hangs, through the daemon's resolver
// against a DNS server on loopback.
func TestCheck(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.Add(t,
		"2.2.0.192.bl.test. 60 IN A 127.0.0.2",
		"2.2.0.192.pbl.test. 60 IN A 127.0.0.10", // listed, but the filter wants .2-.4
		"2.2.0.192.wl.test. 60 IN A 127.0.5.2",
		"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test. 60 IN A 127.0.0.4",
	)
	srv.SetRcode("2.2.0.192.broken.test.", 2) // SERVFAIL
	res := daemonResolver{coredns.New(coredns.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second})}
	sites := mustSites(t, "bl.test*3", "pbl.test=127.0.0.[2..4]*2", "wl.test=127.0.[0..255].[1..3]*-2", "broken.test", "none.test")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	r := Check(ctx, res, netip.MustParseAddr("192.0.2.2"), sites)
	if r.Score != 1 || len(r.Hits) != 2 || r.Hits[0].Site != "bl.test" || r.Hits[1].Site != "wl.test" {
		t.Errorf("v4: %+v", r)
	}
	if len(r.Errors) != 1 || r.Errors["broken.test"] == nil {
		t.Errorf("errors: %v", r.Errors)
	}
	if r := Check(ctx, res, netip.MustParseAddr("2001:db8::1"), sites[:1]); r.Score != 3 {
		t.Errorf("v6: %+v", r)
	}
	if r := Check(ctx, res, netip.MustParseAddr("198.51.100.1"), sites); r.Score != 0 || len(r.Hits) != 0 {
		t.Errorf("clean: %+v", r)
	}

	// A list whose server never answers stops at the caller's deadline.
	slow := daemonResolver{coredns.New(coredns.Config{Servers: []string{dnstest.Blackhole(t)}, Timeout: time.Minute})}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	start := time.Now()
	r = Check(short, slow, netip.MustParseAddr("192.0.2.2"), sites[:2])
	if took := time.Since(start); took > 5*time.Second || len(r.Errors) != 2 {
		t.Errorf("black hole: took %v, %+v", took, r)
	}
}

func mustSites(t *testing.T, specs ...string) []Site {
	var out []Site
	for _, s := range specs {
		site, err := ParseSite(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, site)
	}
	return out
}

func TestLuaModule(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.Add(t, "2.2.0.192.bl.test. 60 IN A 127.0.0.2")
	m := &Module{Resolver: daemonResolver{coredns.New(coredns.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second})}}
	L := lua.NewState()
	defer L.Close()
	L.PreloadModule("dnsbl", m.Loader)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	L.SetContext(ctx)
	err := L.DoString(`
local dnsbl = require("dnsbl")
local r = dnsbl.check("192.0.2.2", {"bl.test=127.0.0.2*5", "other.test"})
assert(r.score == 5, "score " .. r.score)
assert(r.hits[1].site == "bl.test" and r.hits[1].addr == "127.0.0.2" and r.hits[1].weight == 5)
assert(#r.errors == 0)
assert(dnsbl.reverse("192.0.2.1") == "1.2.0.192")
local ok, e = pcall(dnsbl.check, "not-an-ip", {"bl.test"})
assert(not ok)
ok, e = pcall(dnsbl.check, "192.0.2.2", {"bl.test=1.2.3"})
assert(not ok and tostring(e):find("four octets"), tostring(e))
`)
	if err != nil {
		t.Fatal(err)
	}
	none := &Module{}
	L2 := lua.NewState()
	defer L2.Close()
	L2.PreloadModule("dnsbl", none.Loader)
	if err := L2.DoString(`local r, e = require("dnsbl").check("192.0.2.2", {"bl.test"}); assert(r == nil and e:find("no resolver"))`); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseSite(f *testing.F) {
	for _, s := range []string{"zen.example", "zen.example=127.0.0.[2..11]*3", "wl=127.0.[0..255].[1;3]*-2", "x=[", "a=1.2.3.[4..]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		site, err := ParseSite(s)
		if err != nil {
			return
		}
		if !validDomain(site.Domain) {
			t.Fatalf("accepted bad domain %q", site.Domain)
		}
		site.Match(netip.MustParseAddr("127.0.0.2"))
	})
}
