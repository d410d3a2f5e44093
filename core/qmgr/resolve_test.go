package qmgr

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/resolve"
)

// journal is the order in which things happened, across goroutines.
type journal struct {
	mu    sync.Mutex
	lines []string
	fast  chan struct{} // closed once both fast domains are delivered
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
	n := 0
	for _, l := range j.lines {
		if strings.HasPrefix(l, "delivered ") && !strings.HasSuffix(l, "@slow.test") {
			n++
		}
	}
	if n == 2 && j.fast != nil {
		close(j.fast)
		j.fast = nil
	}
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

func (j *journal) Delivered(_ context.Context, ev policy.Event) { j.add("delivered " + ev.Recipient) }
func (j *journal) Deferred(context.Context, policy.Event)       {}
func (j *journal) Bounced(context.Context, policy.Event)        {}

// slowRouter is a transport hook that takes at least 500 ms for
// slow.test: it returns once the other domains' mail is delivered, or
// after 10 s if that never happens (the manager was stuck behind it).
type slowRouter struct {
	j    *journal
	fast chan struct{}
}

func (r slowRouter) Route(ctx context.Context, rcpt string, env *queue.Envelope) (policy.Route, error) {
	if _, d := resolve.Split(rcpt); d == "slow.test" {
		time.Sleep(500 * time.Millisecond)
		select {
		case <-r.fast:
		case <-time.After(10 * time.Second):
		}
		r.j.add("resolved " + rcpt)
	}
	return resolve.Static{IsLocal: func(string) bool { return false }}.Route(ctx, rcpt, env)
}

// TestSlowTransportHookDelaysOnlyItsDomain: recipient resolution runs
// beside the manager's loop, so mail for other domains is delivered while
// one domain's transport hook is still deciding.
func TestSlowTransportHookDelaysOnlyItsDomain(t *testing.T) {
	h := newHarness(t, nil)
	fast := make(chan struct{})
	j := &journal{fast: fast}
	h.mgr.Events = j
	h.mgr.Resolver = &resolve.Resolver{Router: slowRouter{j: j, fast: fast}, Transports: map[string]bool{"smtp": true}}
	h.start()
	h.submit("a@s.test", "x@slow.test")
	h.submit("a@s.test", "y@one.test")
	h.submit("a@s.test", "z@two.test")
	h.waitFor("all delivered", func() bool { return len(j.all()) == 4 })
	got := j.all()
	want := map[string]int{}
	for i, l := range got {
		want[l] = i
	}
	slow, ok := want["resolved x@slow.test"]
	if !ok {
		t.Fatalf("journal %q: slow domain never resolved", got)
	}
	for _, fast := range []string{"delivered y@one.test", "delivered z@two.test"} {
		if i, ok := want[fast]; !ok || i > slow {
			t.Errorf("journal %q: %s after the slow domain was resolved", got, fast)
		}
	}
	if i, ok := want["delivered x@slow.test"]; !ok || i < slow {
		t.Errorf("journal %q: slow domain delivered before it was resolved", got)
	}
}

// headerRouter sends mail to the next hop its Subject names, read from
// the header the manager attaches.
type headerRouter struct{}

func (headerRouter) Route(ctx context.Context, rcpt string, env *queue.Envelope) (policy.Route, error) {
	read := policy.HeaderOf(ctx)
	if read == nil {
		return policy.Route{}, errors.New("no header attached")
	}
	h, err := read()
	if err != nil {
		return policy.Route{}, err
	}
	return policy.Route{Transport: "smtp", Nexthop: "[" + h.Get("Subject") + ".test]", Reads: policy.ReadsID}, nil
}

// TestTransportHookReadsTheQueuedHeader: the resolve worker hands the
// router the queue file's header.
func TestTransportHookReadsTheQueuedHeader(t *testing.T) {
	h := newHarness(t, nil)
	h.mgr.Resolver = &resolve.Resolver{Router: headerRouter{}, Transports: map[string]bool{"smtp": true}}
	h.start()
	h.submit("a@s.test", "x@d.test")
	h.waitFor("delivery", func() bool {
		h.agent.mu.Lock()
		defer h.agent.mu.Unlock()
		return len(h.agent.calls) == 1
	})
	h.agent.mu.Lock()
	defer h.agent.mu.Unlock()
	if got := h.agent.calls[0].Nexthop; got != "[t.test]" {
		t.Errorf("next hop %q, want [t.test] from Subject: t", got)
	}
}
