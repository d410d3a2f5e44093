package smtpd

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSlowloris is the target: 1,000 connections from ten
// loopback addresses (127.0.0.2 to .11), each trickling a byte every
// 2 s and reconnecting when refused or dropped, and a fresh client from 127.0.0.12
// still gets its banner within 1 s and completes a transaction. Before
// stress mode the trickles held every slot and the fresh client got 421
// for up to the session timeout.
//
// "default limits" keeps max_connections at 100 with a per-client rate
// limit, so most of the thousand are refused and keep retrying; "all
// open" raises the limits so that all thousand hold a connection at once.
func TestSlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: slowloris needs about 10 s and 2,500 file descriptors")
	}
	raiseNoFile(t, 4096)
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		hold   int // connections the trickles end up holding
	}{
		{"default limits", func(c *Config) { c.ConnectionRateLimit = 60 }, 100},
		{"all open", func(c *Config) { c.MaxConnections = 1000; c.MaxConnectionsPerIP = 100 }, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) {
				// 127.0.0.1 only: the per-client limits apply to .2-.12.
				c.MyNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
				c.IdleTimeout = 300 * time.Second // the defaults
				tc.mutate(c)
			})
			atk := startTrickles(t, ts.smtp, 1000, 10, 2*time.Second)
			// The attack is in place: every trickle has tried at least
			// once, the server is full, and the holders are old enough to
			// be shed.
			waitForLong(t, 30*time.Second, func() bool {
				return atk.attempts.Load() >= 1000 && connCount(ts.srv) >= tc.hold && ts.srv.stressed()
			})
			time.Sleep(ts.srv.config().shedGrace) // the shipped 5 s
			var lat []time.Duration
			for i := 0; i < 5; i++ {
				lat = append(lat, freshTransaction(t, ts, fmt.Sprintf("fresh%d@local.example", i)))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			t.Logf("220 latency of a fresh client under %d trickles (%d held, %d attempts, %d dropped after the banner): min %v, median %v, max %v",
				1000, connCount(ts.srv), atk.attempts.Load(), atk.dropped.Load(), lat[0], lat[2], lat[4])
			// The target is for a typical fresh client, so the median must
			// be within 1 s; on a machine shared with other work a single
			// one may be late, but not by much (today it gets no banner).
			if lat[2] > time.Second {
				t.Errorf("median banner latency %v, want within 1s", lat[2])
			}
			if lat[4] > 5*time.Second {
				t.Errorf("slowest banner after %v", lat[4])
			}
			if envs, _ := ts.sub.calls(); len(envs) != 5 {
				t.Errorf("%d messages queued, want 5", len(envs))
			}
		})
	}
}

// freshTransaction connects from 127.0.0.12, sends one message to rcpt
// and returns how long the banner took.
func freshTransaction(t *testing.T, ts *testServer, rcpt string) time.Duration {
	t.Helper()
	start := time.Now()
	cl := dialFrom(t, "127.0.0.12", ts.smtp)
	cl.expect("220 ")
	lat := time.Since(start)
	cl.cmd("EHLO fresh.example").expect("250 ")
	cl.startData(rcpt)
	cl.send("Subject: fresh\r\n\r\nthrough the slowloris\r\n.\r\n").expect("250 2.0.0 Ok: queued")
	cl.cmd("QUIT").expect("221 ")
	cl.c.Close()
	return lat
}

// trickles is a slowloris attack: n goroutines, each holding one
// connection from one of `sources` addresses, sending one byte per
// period and reconnecting after a pause when the server drops it.
type trickles struct {
	attempts atomic.Int64 // connections made
	dropped  atomic.Int64 // connections the server ended after its banner
}

func startTrickles(t *testing.T, addr string, n, sources int, period time.Duration) *trickles {
	atk := &trickles{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	var wg sync.WaitGroup
	dials := make(chan struct{}, 64) // bound the dials in flight
	for i := 0; i < n; i++ {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%sources))}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				dials <- struct{}{}
				c, err := (&net.Dialer{LocalAddr: src, Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
				<-dials
				pause := 2 * period // refused at once: try again later
				if err == nil {
					atk.attempts.Add(1)
					if atk.trickle(ctx, c, period) {
						pause = period // served, then dropped: come back soon
					}
				}
				// Randomised, so the retries do not come in lockstep
				// bursts.
				select {
				case <-ctx.Done():
				case <-time.After(pause + time.Duration(rand.Int64N(int64(pause)))):
				}
			}
		}()
	}
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("trickles did not stop")
		}
	})
	return atk
}

// trickle reads the banner, then sends a byte per period of a command
// line that never ends, until the server closes or ctx ends. It reports
// whether it got the banner.
func (atk *trickles) trickle(ctx context.Context, c net.Conn, period time.Duration) bool {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if l, err := br.ReadString('\n'); err != nil || l[:3] != "220" {
		return false
	}
	for ctx.Err() == nil {
		if _, err := c.Write([]byte("x")); err != nil {
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(period))
		if _, err := br.ReadByte(); err == nil || !isTimeout(err) {
			break // a 421, or closed
		}
	}
	if ctx.Err() == nil {
		atk.dropped.Add(1)
	}
	return true
}

func waitForLong(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached")
}
