package smtpd

import (
	"strings"
	"testing"
)

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in, want string // want "" means rejected
		utf8     bool
	}{
		{"user@Example.COM", "user@example.com", false},
		{"user@example.com.", "user@example.com", false},
		{"u%other@local.example", "u%other@local.example", false},
		{"host!u@local.example", "host!u@local.example", false},
		{"a b@example.com", `"a b"@example.com`, false},
		{`a"b@example.com`, `"a\"b"@example.com`, false},
		{"x@local.example@remote.example", `"x@local.example"@remote.example`, false},
		{"u@[192.0.2.1]", "u@[192.0.2.1]", false},
		{"u@[IPv6:0:0::1]", "u@[IPv6:::1]", false},
		{"u@bücher.example", "u@xn--bcher-kva.example", true},
		{"ü@example.com", "ü@example.com", true},
		{"u@bücher.example", "", false},
		{"ü@example.com", "", false},
		{"@a,@b:u@d.example", "", false},
		{"u@", "", false},
		{"@example.com", "", false},
		{"u@-a.example", "", false},
		{"u@a..example", "", false},
		{"u@a_b.example", "", false},
		{"u@[300.1.1.1]", "", false},
		{"u@[IPv6:1.2.3.4]", "", false},
		{"u@[1.2.3.4", "", false},
		{"u\r@example.com", "", false},
		{"u@exa\rmple.com", "", false},
		{strings.Repeat("l", 65) + "@example.com", "", false},
		{"u@" + strings.Repeat("a", 64) + ".example", "", false},
		{"u@\xff.example", "", true},
	}
	for _, c := range cases {
		a, err := ParseAddress(c.in, c.utf8)
		got := ""
		if err == nil {
			got = a.String()
		}
		if got != c.want {
			t.Errorf("ParseAddress(%q, %v) = %q, %v; want %q", c.in, c.utf8, got, err, c.want)
		}
	}
}

func TestNewDomainSet(t *testing.T) {
	s, err := NewDomainSet("Example.COM.", "bücher.example", "[IPv6:0::1]")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"example.com", "xn--bcher-kva.example", "[IPv6:::1]"} {
		if !s.Contains(d) {
			t.Errorf("set lacks %q", d)
		}
	}
	if _, err := NewDomainSet("bad domain"); err == nil {
		t.Error("bad domain accepted")
	}
}

// FuzzParseAddress checks the parser never panics and that what it
// accepts is normalised: the domain is lower case without '@' or a
// trailing dot, and parsing the result again changes nothing.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"user@example.com", "a%b@c.example", "\"a@b\"@c", "x@[IPv6:::1]",
		"u@bücher.example", "@a,@b:u@d", "u@example.com.", "a@b@c.example", "u@[1.2.3.4]"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, utf8 bool) {
		a, err := ParseAddress(s, utf8)
		if err != nil {
			return
		}
		d := a.Domain
		if d == "" || strings.ContainsAny(d, "@ \r\n") || strings.HasSuffix(d, ".") || d != strings.ToLower(d) && !a.IsLiteral() {
			t.Fatalf("ParseAddress(%q) domain %q not normalised", s, d)
		}
		b, err := ParseAddress(a.Local+"@"+a.Domain, utf8)
		if err != nil || b != a {
			t.Fatalf("re-parse of %+v = %+v, %v", a, b, err)
		}
	})
}
