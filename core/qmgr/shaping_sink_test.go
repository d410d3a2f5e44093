package qmgr

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/moonpost/moonpost/core/deliver"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/resolve"
)

// countingSink is a real SMTP server on loopback that records when each
// message arrived and the most sessions and transactions it saw at once.
type countingSink struct {
	mu                     sync.Mutex
	arrivals               []time.Time
	sessions, peakSessions int
	inTx, peakTx           int
	hold                   time.Duration // each DATA takes this long
	addr                   string
}

func newCountingSink(t *testing.T, hold time.Duration) *countingSink {
	t.Helper()
	s := &countingSink{hold: hold}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.peakSessions = max(s.peakSessions, s.sessions)
		s.mu.Unlock()
		return &countingSession{s: s}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *countingSink) snapshot() (arrivals []time.Time, peakSessions, peakTx int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...), s.peakSessions, s.peakTx
}

type countingSession struct {
	s    *countingSink
	inTx bool
}

func (x *countingSession) tx(on bool) {
	if x.inTx == on {
		return
	}
	x.inTx = on
	x.s.mu.Lock()
	if on {
		x.s.inTx++
		x.s.peakTx = max(x.s.peakTx, x.s.inTx)
	} else {
		x.s.inTx--
	}
	x.s.mu.Unlock()
}

func (x *countingSession) Reset() { x.tx(false) }
func (x *countingSession) Logout() error {
	x.tx(false)
	x.s.mu.Lock()
	x.s.sessions--
	x.s.mu.Unlock()
	return nil
}
func (x *countingSession) Mail(string, *gosmtp.MailOptions) error { x.tx(true); return nil }
func (x *countingSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (x *countingSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	time.Sleep(x.s.hold)
	x.s.mu.Lock()
	x.s.arrivals = append(x.s.arrivals, time.Now())
	x.s.mu.Unlock()
	x.tx(false)
	return nil
}

// sinkHarness is a harness whose smtp mail goes, on the real clock,
// through the real smtp agent to a counting sink, shaped by pol.
func sinkHarness(t *testing.T, sink *countingSink, pol *egress.Policy) *harness {
	t.Helper()
	h := newHarness(t, func(c *Config) { c.ActiveLimit, c.MaxDeliveries = 200, 100 })
	agent, err := smtpc.New(smtpc.Config{Helo: "client.test", TLS: smtpc.TLSNone,
		Resolver: dns.New(dns.Config{Servers: []string{"127.0.0.1:9"}})})
	if err != nil {
		t.Fatal(err)
	}
	hop := "[127.0.0.1]:" + sink.addr[len("127.0.0.1:"):]
	h.mgr.Clock = realClock{}
	h.mgr.Agents = map[string]deliver.Agent{"smtp": agent}
	h.mgr.Resolver = &resolve.Resolver{Router: resolve.Static{RelayHost: hop}, Transports: map[string]bool{"smtp": true}}
	h.mgr.Egress = shaper(map[string]*egress.Policy{hop: pol}, nil)
	return h
}

// TestMessageRateHeldAgainstSink: max_message_rate = "10/s" holds within
// 5 % over 30 s at a real SMTP sink.
func TestMessageRateHeldAgainstSink(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 30 s")
	}
	sink := newCountingSink(t, 0)
	h := sinkHarness(t, sink, &egress.Policy{MaxMessageRate: rate(t, "10/s"), Site: "sink"})
	for i := range 330 {
		h.submit("s@x", "r"+itoa(i)+"@sink.test")
	}
	h.start()
	deadline := time.Now().Add(60 * time.Second)
	var got []time.Time
	for time.Now().Before(deadline) {
		if got, _, _ = sink.snapshot(); len(got) > 0 && time.Since(got[0]) > 31*time.Second {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(got) == 0 {
		t.Fatal("nothing arrived")
	}
	n := 0
	for _, at := range got {
		if at.Sub(got[0]) < 30*time.Second {
			n++
		}
	}
	t.Logf("%d messages in the first 30 s at 10/s (%.2f %% off)", n, 100*float64(n-300)/300)
	if n < 285 || n > 315 {
		t.Errorf("%d messages arrived in 30 s; want 300 within 5 %%", n)
	}
}

// TestConnectionLimitAgainstSink: connection_limit = 3 is never exceeded
// at the sink, in transactions nor in sessions, and is reached.
func TestConnectionLimitAgainstSink(t *testing.T) {
	sink := newCountingSink(t, 20*time.Millisecond)
	h := sinkHarness(t, sink, &egress.Policy{ConnectionLimit: 3, InitialConcurrency: 3})
	for i := range 90 {
		h.submit("s@x", "r"+itoa(i)+"@sink.test")
	}
	h.start()
	h.waitFor("90 messages at the sink", func() bool { got, _, _ := sink.snapshot(); return len(got) == 90 })
	_, sessions, tx := sink.snapshot()
	if tx != 3 || sessions > 3 {
		t.Errorf("peak %d transactions and %d sessions at once; want 3 transactions, at most 3 sessions", tx, sessions)
	}
	var view []Shaping
	h.waitFor("the last delivery reported", func() bool {
		view, _ = h.mgr.Destinations(context.Background())
		return len(view) == 1 && view[0].InFlight == 0
	})
	if view[0].Started != 90 || view[0].ConnectionLimit != 3 || view[0].Window != 3 {
		t.Errorf("view %+v", view)
	}
}
