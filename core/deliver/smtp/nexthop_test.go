package smtp

import (
	"testing"
)

func TestParseNexthop(t *testing.T) {
	cases := []struct {
		in   string
		want Nexthop
	}{
		{"example.com", Nexthop{"example.com", 25, false, false}},
		{"Example.COM.", Nexthop{"example.com", 25, false, false}},
		{"example.com:2525", Nexthop{"example.com", 2525, false, true}},
		{"[mx.example.com]", Nexthop{"mx.example.com", 25, true, false}},
		{"[mx.example.com]:587", Nexthop{"mx.example.com", 587, true, true}},
		{"[192.0.2.1]:25", Nexthop{"192.0.2.1", 25, true, true}},
		{"[192.0.2.1]", Nexthop{"192.0.2.1", 25, true, false}},
		{"[ipv6:::1]:25", Nexthop{"::1", 25, true, true}},
		{"[IPv6:2001:DB8::1]:2525", Nexthop{"2001:db8::1", 2525, true, true}},
		{"bücher.example", Nexthop{"bücher.example", 25, false, false}},
		{"_srv.example.com", Nexthop{"_srv.example.com", 25, false, false}},
	}
	for _, c := range cases {
		got, err := ParseNexthop(c.in)
		if err != nil {
			t.Errorf("ParseNexthop(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseNexthop(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestParseNexthopRejects(t *testing.T) {
	for _, in := range []string{
		"", ":25", "example.com:", "example.com:0", "example.com:65536", "example.com:25x",
		"example.com:+25", "192.0.2.1", "192.0.2.1:25", "[192.0.2.1", "[]", "[]:25",
		"[::1]:25", "[ipv6:192.0.2.1]", "[ipv6:fe80::1%eth0]", "[mx.example.com]x",
		"[mx.example.com]:", "a..b", "exa mple.com", "a:b:c", "host/name", "x\r\n.com",
	} {
		if n, err := ParseNexthop(in); err == nil {
			t.Errorf("ParseNexthop(%q) = %+v, want error", in, n)
		}
	}
}

func TestNexthopStringRoundTrips(t *testing.T) {
	for _, in := range []string{"example.com:25", "[mx.example.com]:587", "[192.0.2.1]:25", "[ipv6:2001:db8::1]:25"} {
		n, err := ParseNexthop(in)
		if err != nil {
			t.Fatal(err)
		}
		if n.String() != in {
			t.Errorf("String() = %q, want %q", n.String(), in)
		}
	}
}

func FuzzParseNexthop(f *testing.F) {
	for _, s := range []string{"example.com", "example.com:2525", "[mx.example.com]:587",
		"[192.0.2.1]", "[ipv6:::1]:25", "[", "]:", "a:b", "[ipv6:]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNexthop(s)
		if err != nil {
			return
		}
		if n.Port < 1 || n.Port > 65535 || n.Host == "" {
			t.Fatalf("ParseNexthop(%q) = %+v", s, n)
		}
		// The canonical form must parse back to the same value; it always
		// names the port.
		again, err := ParseNexthop(n.String())
		n.PortGiven = true
		if err != nil || again != n {
			t.Fatalf("%q -> %q -> %+v, %v", s, n.String(), again, err)
		}
	})
}
