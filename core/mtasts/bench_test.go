package mtasts

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dns/dnstest"
	"github.com/moonpost/moonpost/core/internal/testca"
)

// BenchmarkPolicyCached is the cost a delivery pays for MTA-STS once
// the policy is cached: the TXT lookup from the resolver's cache and
// the id check.
func BenchmarkPolicyCached(b *testing.B) {
	ca := testca.New(b)
	e := &env{ca: ca, clock: &fakeClock{now: time.Now()}}
	ps := newPolicyServerTB(b, ca, testPolicy)
	f := &Fetcher{RootCAs: ca.Pool(), Timeout: 2 * time.Second, Dial: e.dial(ps.srv.Listener.Addr().String())}
	f.Init()
	s := dnstest.NewServer(b)
	s.Add(b, `_mta-sts.example.test. 3600 IN TXT "v=STSv1; id=1"`)
	c := &Cache{Resolver: dns.New(dns.Config{Servers: []string{s.Addr}, Timeout: time.Second}), Fetcher: f,
		Logger: slog.New(slog.DiscardHandler)}
	ctx := context.Background()
	if p, err := c.Policy(ctx, "example.test"); err != nil || p == nil {
		b.Fatal(p, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if p, _ := c.Policy(ctx, "example.test"); p == nil {
			b.Fatal("no policy")
		}
	}
}
