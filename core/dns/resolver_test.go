package dns

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/dsn"
)

// fakeClock is moved by hand, so TTL tests take no time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newTest(t *testing.T, zone ...string) (*dnstest.Server, Resolver, *fakeClock) {
	t.Helper()
	srv := dnstest.NewServer(t)
	srv.Add(t, zone...)
	clk := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	r := New(Config{
		Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1,
		Clock: clk, Rand: rand.New(rand.NewPCG(1, 2)),
	})
	return srv, r, clk
}

func hosts(mxs []MX) string {
	var s []string
	for _, m := range mxs {
		s = append(s, m.Host)
	}
	return strings.Join(s, ",")
}

func wantKind(t *testing.T, err error, k Kind) *LookupError {
	t.Helper()
	var le *LookupError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v (%T), want *LookupError of kind %v", err, err, k)
	}
	if le.Kind != k {
		t.Fatalf("kind = %v, want %v (%v)", le.Kind, k, err)
	}
	return le
}

func TestLookupMXSortedByPreference(t *testing.T) {
	_, r, _ := newTest(t,
		"sorted.test. 300 IN MX 20 Backup.Sorted.Test.",
		"sorted.test. 300 IN MX 10 primary.sorted.test.",
		"sorted.test. 300 IN MX 30 last.sorted.test.")
	mxs, err := r.LookupMX(context.Background(), "sorted.test")
	if err != nil {
		t.Fatal(err)
	}
	if got := hosts(mxs); got != "primary.sorted.test,backup.sorted.test,last.sorted.test" {
		t.Errorf("order = %s", got)
	}
	if mxs[0].Pref != 10 || mxs[0].Implicit {
		t.Errorf("first = %+v", mxs[0])
	}
}

func TestLookupMXShufflesEqualPreferences(t *testing.T) {
	_, r, _ := newTest(t,
		"eq.test. 300 IN MX 10 a.eq.test.",
		"eq.test. 300 IN MX 10 b.eq.test.",
		"eq.test. 300 IN MX 10 c.eq.test.",
		"eq.test. 300 IN MX 5 first.eq.test.")
	seen := map[string]bool{}
	for i := 0; i < 30; i++ {
		mxs, err := r.LookupMX(context.Background(), "eq.test")
		if err != nil {
			t.Fatal(err)
		}
		if mxs[0].Host != "first.eq.test" {
			t.Fatalf("preference 5 not first: %s", hosts(mxs))
		}
		seen[hosts(mxs)] = true
	}
	if len(seen) < 2 {
		t.Errorf("equal preferences never reordered: %v", seen)
	}
}

func TestImplicitMX(t *testing.T) {
	_, r, _ := newTest(t, "bare.test. 300 IN A 192.0.2.7")
	mxs, err := r.LookupMX(context.Background(), "bare.test.")
	if err != nil {
		t.Fatal(err)
	}
	if len(mxs) != 1 || mxs[0] != (MX{Host: "bare.test", Pref: 0, Implicit: true}) {
		t.Errorf("implicit MX = %+v", mxs)
	}
}

func TestNoMXNoAddressIsNotFound(t *testing.T) {
	_, r, _ := newTest(t, `txtonly.test. 300 IN TXT "hello"`)
	_, err := r.LookupMX(context.Background(), "txtonly.test")
	if wantKind(t, err, NotFound).Status() != dsn.NoSuchDomain {
		t.Error("wrong status")
	}
}

func TestNullMX(t *testing.T) {
	_, r, _ := newTest(t, "nomail.test. 300 IN MX 0 .")
	_, err := r.LookupMX(context.Background(), "nomail.test")
	le := wantKind(t, err, NullMX)
	if le.Status() != dsn.NullMX || le.Temporary() {
		t.Errorf("null MX status = %v", le.Status())
	}
}

func TestNullMXAmongRealHostsIsIgnored(t *testing.T) {
	_, r, _ := newTest(t, "mixed.test. 300 IN MX 0 .", "mixed.test. 300 IN MX 10 mx.mixed.test.")
	mxs, err := r.LookupMX(context.Background(), "mixed.test")
	if err != nil || hosts(mxs) != "mx.mixed.test" {
		t.Errorf("got %v, %v", mxs, err)
	}
}

func TestCNAMEChainFollowed(t *testing.T) {
	_, r, _ := newTest(t,
		"alias.test. 300 IN CNAME middle.test.",
		"middle.test. 300 IN CNAME real.test.",
		"real.test. 300 IN MX 10 mx.real.test.",
		"www.real.test. 300 IN CNAME real.test.",
		"real.test. 300 IN A 192.0.2.1")
	mxs, err := r.LookupMX(context.Background(), "alias.test")
	if err != nil || hosts(mxs) != "mx.real.test" {
		t.Fatalf("MX via CNAME = %v, %v", mxs, err)
	}
	addrs, err := r.LookupHost(context.Background(), "www.real.test")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("A via CNAME = %v, %v", addrs, err)
	}
}

func TestCNAMELoopIsTemporary(t *testing.T) {
	srv, r, _ := newTest(t, "loop1.test. 300 IN CNAME loop2.test.", "loop2.test. 300 IN CNAME loop1.test.")
	_, err := r.LookupMX(context.Background(), "loop1.test")
	wantKind(t, err, Temporary)
	if q := srv.Queries(); q > maxCNAME+2 {
		t.Errorf("loop cost %d queries", q)
	}
}

func TestNXDOMAIN(t *testing.T) {
	_, r, _ := newTest(t)
	_, err := r.LookupMX(context.Background(), "nowhere.test")
	le := wantKind(t, err, NotFound)
	if le.Status() != dsn.NoSuchDomain || !IsNotFound(err) {
		t.Errorf("status = %v", le.Status())
	}
	_, err = r.LookupHost(context.Background(), "nowhere.test")
	wantKind(t, err, NotFound)
}

func TestServerFailuresAreTemporary(t *testing.T) {
	for _, rc := range []int{dns.RcodeServerFailure, dns.RcodeRefused} {
		srv, r, _ := newTest(t)
		srv.SetRcode("broken.test", rc)
		_, err := r.LookupMX(context.Background(), "broken.test")
		if wantKind(t, err, Temporary).Status() != dsn.DNSTemp {
			t.Errorf("rcode %d: status wrong", rc)
		}
	}
}

func TestTimeoutIsTemporaryAndFast(t *testing.T) {
	r := New(Config{Servers: []string{dnstest.Blackhole(t)}, Timeout: 100 * time.Millisecond, Attempts: 2})
	start := time.Now()
	_, err := r.LookupMX(context.Background(), "slow.test")
	wantKind(t, err, Temporary)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestSecondServerAnswersWhenFirstIsSilent(t *testing.T) {
	srv := dnstest.NewServer(t)
	srv.Add(t, "ok.test. 300 IN MX 10 mx.ok.test.")
	r := New(Config{Servers: []string{dnstest.Blackhole(t), srv.Addr}, Timeout: 100 * time.Millisecond, Attempts: 1})
	if mxs, err := r.LookupMX(context.Background(), "ok.test"); err != nil || len(mxs) != 1 {
		t.Fatalf("got %v, %v", mxs, err)
	}
}

func TestContextDeadlineHonoured(t *testing.T) {
	r := New(Config{Servers: []string{dnstest.Blackhole(t)}, Timeout: time.Minute, Attempts: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := r.LookupHost(ctx, "slow.test")
	wantKind(t, err, Temporary)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ignored the context deadline: took %v", d)
	}
}

func TestTruncatedUDPRetriedOverTCP(t *testing.T) {
	var zone []string
	for i := 0; i < 40; i++ {
		zone = append(zone, "big.test. 300 IN MX 10 mx"+strings.Repeat("x", i)+".big.test.")
	}
	srv, r, _ := newTest(t, zone...)
	srv.Truncate("big.test")
	mxs, err := r.LookupMX(context.Background(), "big.test")
	if err != nil || len(mxs) != 40 {
		t.Fatalf("got %d MX, %v", len(mxs), err)
	}
}

func TestIDNAConvertedToALabels(t *testing.T) {
	_, r, _ := newTest(t, "xn--bcher-kva.test. 300 IN MX 10 mx.xn--bcher-kva.test.")
	mxs, err := r.LookupMX(context.Background(), "Bücher.test")
	if err != nil || hosts(mxs) != "mx.xn--bcher-kva.test" {
		t.Fatalf("got %v, %v", mxs, err)
	}
	_, err = r.LookupMX(context.Background(), "bad..name")
	wantKind(t, err, NotFound)
}

func TestLookupHostBothFamilies(t *testing.T) {
	_, r, _ := newTest(t, "dual.test. 300 IN A 192.0.2.1", "dual.test. 300 IN AAAA 2001:db8::1")
	addrs, err := r.LookupHost(context.Background(), "dual.test")
	if err != nil || len(addrs) != 2 || !addrs[0].Is4() || !addrs[1].Is6() {
		t.Fatalf("got %v, %v", addrs, err)
	}
	addrs, err = r.LookupHost(context.Background(), "[2001:db8::5]")
	if err != nil || addrs[0] != netip.MustParseAddr("2001:db8::5") {
		t.Fatalf("literal: %v, %v", addrs, err)
	}
}

func TestLookupTXTAndPTR(t *testing.T) {
	_, r, _ := newTest(t,
		`_dmarc.t.test. 300 IN TXT "v=DMARC1; " "p=none"`,
		"7.2.0.192.in-addr.arpa. 300 IN PTR mail.t.test.")
	txt, err := r.LookupTXT(context.Background(), "_dmarc.t.test")
	if err != nil || len(txt) != 1 || txt[0] != "v=DMARC1; p=none" {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
	names, err := r.LookupPTR(context.Background(), netip.MustParseAddr("192.0.2.7"))
	if err != nil || len(names) != 1 || names[0] != "mail.t.test" {
		t.Fatalf("PTR = %v, %v", names, err)
	}
	_, err = r.LookupTXT(context.Background(), "t.test")
	wantKind(t, err, NotFound)
}
