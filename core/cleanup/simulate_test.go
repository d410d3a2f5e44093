package cleanup

import (
	"context"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// expandPolicy replaces the recipient list, as a virtual alias does.
type expandPolicy struct{ verdict policy.Verdict }

func (p expandPolicy) Cleanup(_ context.Context, m *policy.Message) (policy.Verdict, error) {
	m.Envelope.Recipients = []queue.Recipient{{Addr: "a@example.com"}, {Addr: "b@example.com"}}
	return p.verdict, nil
}

// TestSimulateRunsCleanupWithoutQueueing: the envelope comes back as it
// would be queued (rewritten, expanded by the policy), the verdict and a
// reject's status are returned, and nothing reaches the queue.
func TestSimulateRunsCleanupWithoutQueueing(t *testing.T) {
	c, notified := setup(t)
	c.Policy = expandPolicy{verdict: policy.Verdict{Action: policy.Hold, Reason: "review"}}
	e := env("list")
	v, h, err := c.Simulate(context.Background(), e, strings.NewReader("Subject: x\r\n\r\n"))
	if err != nil || v.Action != policy.Hold || v.Reason != "review" {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	if h == nil || h.Get("Subject") != "x" {
		t.Errorf("header %v", h)
	}
	if len(e.Recipients) != 2 || e.Recipients[0].Addr != "a@example.com" {
		t.Errorf("recipients %+v", e.Recipients)
	}
	for _, st := range []queue.State{queue.Incoming, queue.Active, queue.Hold} {
		if ids, _ := c.Store.IDs(st); len(ids) != 0 {
			t.Errorf("%s holds %v", st, ids)
		}
	}
	if len(*notified) != 0 {
		t.Errorf("queue manager told of %v", *notified)
	}
	c.Policy = expandPolicy{verdict: policy.Verdict{Action: policy.Reject, Status: dsn.New(550, "5.7.1", "no")}}
	if _, _, err := c.Simulate(context.Background(), env("x@example.com"), strings.NewReader("\r\n")); err == nil || !strings.Contains(err.Error(), "5.7.1") {
		t.Errorf("reject: %v", err)
	}
	// The rewriter ran: a bare name got the origin.
	c.Policy = nil
	e = env("bob")
	if _, _, err := c.Simulate(context.Background(), e, strings.NewReader("\r\n")); err != nil || e.Recipients[0].Addr != "bob@example.com" {
		t.Errorf("rewrite: %+v, %v", e.Recipients, err)
	}
}

type upperDomain struct{}

func (upperDomain) Rewrite(_ context.Context, addr string, _ policy.AddrContext) (string, error) {
	if l, d, ok := strings.Cut(addr, "@"); ok {
		return l + "@" + strings.ToUpper(d), nil
	}
	return addr, nil
}

// TestChainAppendsOriginFirst: the scripts see the qualified address, as
// Postfix's canonical maps see it after append_at_myorigin.
func TestChainAppendsOriginFirst(t *testing.T) {
	c := Chain{AppendOrigin{Origin: "example.com"}, upperDomain{}}
	for in, want := range map[string]string{"bob": "bob@EXAMPLE.COM", "bob@x.org": "bob@X.ORG", "": ""} {
		if got, err := c.Rewrite(context.Background(), in, policy.AddrContext{}); err != nil || got != want {
			t.Errorf("%q -> %q, %v; want %q", in, got, err, want)
		}
	}
}
