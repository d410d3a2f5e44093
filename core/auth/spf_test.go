package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/queue"
)

// SPF cases in the manner of the RFC 7208 test suite (pyspf/OpenSPF
// YAML), run against a real DNS server on loopback through the daemon's
// resolver: they check the evaluation and, above all, that DNS outcomes
// reach the SPF library with the right meaning (not found, void,
// temporary).
func TestSPFSuite(t *testing.T) {
	ns := dnstest.NewServer(t)
	ns.Add(t,
		`ip.test. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"`,
		`soft.test. 300 IN TXT "v=spf1 ~all"`,
		`neutral.test. 300 IN TXT "v=spf1 ?all"`,
		`other.test. 300 IN TXT "some other text"`,
		`inc.test. 300 IN TXT "v=spf1 include:ip.test -all"`,
		`incnone.test. 300 IN TXT "v=spf1 include:missing.test -all"`,
		`mx.test. 300 IN TXT "v=spf1 mx -all"`,
		`mx.test. 300 IN MX 10 mail.mx.test.`,
		`mail.mx.test. 300 IN A 198.51.100.7`,
		`a.test. 300 IN TXT "v=spf1 a -all"`,
		`a.test. 300 IN A 198.51.100.8`,
		`redir.test. 300 IN TXT "v=spf1 redirect=ip.test"`,
		`two.test. 300 IN TXT "v=spf1 -all"`,
		`two.test. 300 IN TXT "v=spf1 +all"`,
		`syntax.test. 300 IN TXT "v=spf1 ip4:not-an-ip -all"`,
		`void.test. 300 IN TXT "v=spf1 a:n1.test a:n2.test a:n3.test -all"`,
		`helo.test. 300 IN TXT "v=spf1 ip4:203.0.113.0/24 -all"`,
		`servfail.test. 300 IN TXT "v=spf1 include:broken.test -all"`,
		`macro.test. 300 IN TXT "v=spf1 exists:%{l}.users.macro.test -all"`,
		`joe.users.macro.test. 300 IN A 127.0.0.2`,
	)
	// A chain of 11 includes: past the limit of 10 DNS mechanisms.
	for i := 0; i < 11; i++ {
		ns.Add(t, fmt.Sprintf(`chain%d.test. 300 IN TXT "v=spf1 include:chain%d.test -all"`, i, i+1))
	}
	ns.SetRcode("broken.test.", mdns.RcodeServerFailure)
	res := dns.New(dns.Config{Servers: []string{ns.Addr}, Timeout: 2 * time.Second, CacheSize: -1})
	v := &Verifier{Resolver: res, Log: slog.New(slog.DiscardHandler)}
	cases := []struct {
		name, ip, helo, sender, want string
	}{
		{"ip4 pass", "192.0.2.5", "h.test", "a@ip.test", "pass"},
		{"ip4 fail", "198.51.100.1", "h.test", "a@ip.test", "fail"},
		{"ip6 pass", "2001:db8::25", "h.test", "a@ip.test", "pass"},
		{"softfail", "198.51.100.1", "h.test", "a@soft.test", "softfail"},
		{"neutral", "198.51.100.1", "h.test", "a@neutral.test", "neutral"},
		{"no record", "198.51.100.1", "h.test", "a@nodomain.test", "none"},
		{"no spf record", "198.51.100.1", "h.test", "a@other.test", "none"},
		{"include pass", "192.0.2.9", "h.test", "a@inc.test", "pass"},
		{"include fail", "198.51.100.1", "h.test", "a@inc.test", "fail"},
		{"include of nothing", "198.51.100.1", "h.test", "a@incnone.test", "permerror"},
		{"mx pass", "198.51.100.7", "h.test", "a@mx.test", "pass"},
		{"mx fail", "198.51.100.9", "h.test", "a@mx.test", "fail"},
		{"a pass", "198.51.100.8", "h.test", "a@a.test", "pass"},
		{"redirect", "192.0.2.1", "h.test", "a@redir.test", "pass"},
		{"two records", "192.0.2.1", "h.test", "a@two.test", "permerror"},
		{"syntax error", "192.0.2.1", "h.test", "a@syntax.test", "permerror"},
		{"void lookup limit", "192.0.2.1", "h.test", "a@void.test", "permerror"},
		{"lookup limit", "192.0.2.1", "h.test", "a@chain0.test", "permerror"},
		{"null sender uses helo", "203.0.113.4", "helo.test", "", "pass"},
		{"null sender helo fail", "198.51.100.1", "helo.test", "", "fail"},
		{"servfail is temperror", "198.51.100.1", "h.test", "a@servfail.test", "temperror"},
		{"macro exists", "198.51.100.1", "h.test", "joe@macro.test", "pass"},
		{"macro exists fails", "198.51.100.1", "h.test", "ann@macro.test", "fail"},
	}
	for _, c := range cases {
		env := &queue.Envelope{Sender: c.sender, Client: queue.Client{Addr: c.ip, Helo: c.helo}}
		got, domain := v.checkSPF(context.Background(), newLookups(res, 20), env)
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		if c.sender == "" && domain != c.helo || c.sender != "" && !strings.HasSuffix(c.sender, "@"+domain) {
			t.Errorf("%s: checked domain %q", c.name, domain)
		}
	}
}
