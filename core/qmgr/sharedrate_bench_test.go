package qmgr

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
	"github.com/moonpost/moonpost/core/testserver"
	"github.com/moonpost/moonpost/core/throttle"
)

// okAgent accepts everything and counts the deliveries.
type okAgent struct{ n atomic.Int64 }

func (a *okAgent) Deliver(_ context.Context, req *deliver.Request) []deliver.Result {
	a.n.Add(1)
	return deliver.AllResults(len(req.Recipients), dsn.New(250, "2.0.0", "ok"), "mx[192.0.2.1]:25")
}

// limiterGate is the daemon's RateGate over the throttle.
type limiterGate struct{ l *throttle.Limiter }

func (g limiterGate) Allow(ctx context.Context, key string, r egress.Rate) (bool, time.Duration, error) {
	res, err := g.l.Check(ctx, key, r)
	return res.Allowed, res.RetryAfter, err
}

// BenchmarkSharedEgressGate is the cost of the shared egress check per
// delivery through the whole queue manager: b.N queued messages to one
// site with a message rate far above the load, delivered by an agent
// that accepts at once, paced in the node only ("local") or also asked
// of a real Redis on loopback ("redis"). The difference per message is
// what the shared rate costs; the manager's loop never waits for it.
func BenchmarkSharedEgressGate(b *testing.B) {
	srv := testserver.StartRedis(b)
	for _, shared := range []bool{false, true} {
		name := "local"
		if shared {
			name = "redis"
		}
		b.Run(name, func(b *testing.B) {
			var gate RateGate
			if shared {
				c := throttle.NewRedisClient(config.Redis{Addresses: []string{srv.Addr}})
				defer c.Close()
				gate = limiterGate{throttle.New(throttle.Options{Redis: c, Timeout: time.Second})}
			}
			benchDeliveries(b, gate)
		})
	}
}

func benchDeliveries(b *testing.B, gate RateGate) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := queue.Open(b.TempDir(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	a := &okAgent{}
	fast := &egress.Policy{Site: "bench", ConnectionLimit: 20, InitialConcurrency: 20,
		MaxMessageRate: egress.Rate{N: 1_000_000_000, Per: time.Second}}
	m := &Manager{Store: store, Agents: map[string]deliver.Agent{"smtp": a}, Notifier: &notifier{}, Rates: gate, Log: quiet,
		Egress: &egress.Cache{Hook: func(context.Context, egress.Dest) (*egress.Policy, error) { return fast, nil }},
		Config: Config{MinBackoff: time.Hour, MaxBackoff: time.Hour, MaxLifetime: time.Hour, BounceLifetime: time.Hour,
			ScanInterval: time.Hour, ActiveLimit: 1000, Concurrency: 20, InitConcurrency: 20, RcptLimit: 50,
			DeliveryTimeout: 10 * time.Second, MaxDeliveries: 100},
		Resolver: &resolve.Resolver{Router: resolve.Static{IsLocal: func(string) bool { return false }},
			Transports: map[string]bool{"smtp": true}}}
	m.Init()
	clean := &cleanup.Cleanup{Store: store, Hostname: "mx.test", Log: quiet}
	for i := 0; i < b.N; i++ {
		env := &queue.Envelope{Sender: "s@x.test", Recipients: []queue.Recipient{{Addr: "r" + strconv.Itoa(i) + "@bench.test"}}}
		if _, err := clean.Submit(context.Background(), env, strings.NewReader("Subject: b\r\n\r\nbody\r\n")); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ResetTimer()
	go func() { m.Run(ctx); close(done) }()
	for deadline := time.Now().Add(5 * time.Minute); a.n.Load() < int64(b.N); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered", a.n.Load(), b.N)
		}
	}
	b.StopTimer()
	cancel()
	<-done
	if st := m.Stats(); st.Held != 0 {
		b.Fatalf("%d deliveries held with a rate far above the load", st.Held)
	}
}
