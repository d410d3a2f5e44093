package qmgr

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/queue"
)

// fakeGate refuses (or fails) the first few questions, then allows;
// it records every key asked.
type fakeGate struct {
	mu      sync.Mutex
	refuse  int   // questions still to refuse
	err     error // when set, refusals are errors
	asked   []string
	allowed int
}

func (g *fakeGate) Allow(_ context.Context, key string, _ egress.Rate) (bool, time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, key)
	if g.refuse > 0 {
		g.refuse--
		if g.err != nil {
			return false, 0, g.err
		}
		return false, 40 * time.Millisecond, nil
	}
	g.allowed++
	return true, 0, nil
}

func (g *fakeGate) keys() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]int{}
	for _, k := range g.asked {
		out[k]++
	}
	return out
}

// TestSharedRateHoldsWithoutAttempt: deliveries the shared rate refuses
// are neither attempted nor recorded; they wait for the hint and go.
// A destination without a rate never asks.
func TestSharedRateHoldsWithoutAttempt(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{{"refused", nil}, {"gate unavailable", errors.New("redis down")}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			g := &fakeGate{refuse: 4, err: tc.err}
			h.mgr.Rates = g
			h.mgr.Egress = shaper(map[string]*egress.Policy{
				"paced.test": {MaxMessageRate: rate(t, "100/s"), MaxConnectionRate: rate(t, "100/s"), Site: "pool"},
			}, nil)
			for i := range 3 {
				h.submit("s@x", "r"+itoa(i)+"@paced.test")
			}
			h.submit("s@x", "r@free.test")
			h.start()
			h.waitFor("every message delivered", func() bool {
				h.clock.Add(20 * time.Millisecond) // past the hints and the pacing
				return h.agent.callsTo("paced.test") == 3 && h.agent.callsTo("free.test") == 1
			})
			st := h.mgr.Stats()
			if st.Deferred != 0 || st.Delivered != 4 || st.Held != 4 {
				t.Errorf("stats %+v: want 4 delivered, 0 deferred, 4 held", st)
			}
			keys := g.keys()
			if keys["egress:msg:site:pool"] < 3 || keys["egress:conn:site:pool"] < 1 {
				t.Errorf("keys asked %v", keys)
			}
			for k := range keys {
				if k != "egress:msg:site:pool" && k != "egress:conn:site:pool" {
					t.Errorf("asked %q: a destination without rates must not ask", k)
				}
			}
		})
	}
}

// TestSharedRateHeldJobOfMarkedMessage: a message put on hold while its
// delivery was at the gate keeps its recipient pending, untried.
func TestSharedRateHeldJobOfMarkedMessage(t *testing.T) {
	h := newHarness(t, nil)
	g := &gateBlock{release: make(chan struct{}), asked: make(chan struct{}, 1)}
	h.mgr.Rates = g
	h.mgr.Egress = shaper(map[string]*egress.Policy{"paced.test": {MaxMessageRate: rate(t, "10/s")}}, nil)
	id := h.submit("s@x", "r@paced.test")
	h.start()
	<-g.asked
	if _, out, err := h.mgr.Apply(context.Background(), id, OpHold, "check"); err != nil || out != Marked {
		t.Fatalf("hold while at the gate: %v %v", out, err)
	}
	close(g.release)
	h.waitFor("the message on hold", func() bool { return h.count(queue.Hold) == 1 })
	if n := h.agent.ncalls(); n != 0 {
		t.Errorf("%d deliveries of a message held at the gate", n)
	}
	if st := h.mgr.Stats(); st.Deferred != 0 {
		t.Errorf("stats %+v: a held delivery is no deferral", st)
	}
	// The dropped delivery left its lane's flight: no slot is lost.
	view, err := h.mgr.Destinations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range view {
		if v.Domain == "paced.test" && v.InFlight != 0 {
			t.Errorf("paced.test still counts %d in flight", v.InFlight)
		}
	}
}

// gateBlock refuses once, after the test lets it answer.
type gateBlock struct {
	release chan struct{}
	asked   chan struct{}
}

func (g *gateBlock) Allow(context.Context, string, egress.Rate) (bool, time.Duration, error) {
	g.asked <- struct{}{}
	<-g.release
	return false, time.Hour, nil
}
