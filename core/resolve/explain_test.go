package resolve

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// fakeCleanup expands list@example.com to two mailboxes, refuses a
// message with an "X-Spam: yes" header, and traces what it did.
type fakeCleanup struct{}

func (fakeCleanup) Simulate(ctx context.Context, env *queue.Envelope, r io.Reader) (policy.Verdict, *textproto.Header, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(r))
	if err != nil {
		return policy.Verdict{}, nil, err
	}
	if h.Get("X-Spam") == "yes" {
		policy.TraceOf(ctx).Add("cleanup", "50-spam.lua:3", "reject")
		return policy.Verdict{}, nil, dsn.New(550, "5.7.1", "spam")
	}
	if env.Recipients[0].Addr == "list@example.com" {
		env.Recipients = []queue.Recipient{{Addr: "a@example.com"}, {Addr: "b@other.org"}}
		policy.TraceOf(ctx).Add("cleanup", "30-virtual.lua:7", "recipients list@example.com -> a@example.com, b@other.org")
	}
	h.Add("X-Cleanup", "seen") // what cleanup adds, the transport sees
	return policy.Verdict{Action: policy.Accept}, &h, nil
}

type fakeAliases map[string][]string

func (a fakeAliases) ExpandAlias(ctx context.Context, local, domain string) ([]string, bool, error) {
	t, ok := a[local]
	if ok {
		policy.TraceOf(ctx).Add("alias", "20-aliases.lua:13", strings.Join(t, ", "))
	}
	return t, ok, nil
}

// tracingRouter decides other.org and hdr.org (by the header cleanup
// left) and declines the rest.
type tracingRouter struct{}

func (tracingRouter) Route(ctx context.Context, rcpt string, _ *queue.Envelope) (policy.Route, error) {
	_, d := Split(rcpt)
	if read := policy.HeaderOf(ctx); d == "hdr.org" && read != nil {
		h, err := read()
		if err != nil {
			return policy.Route{}, err
		}
		return policy.Route{Transport: "smtp", Nexthop: "[" + h.Get("X-Route") + "." + h.Get("X-Cleanup") + "]"}, nil
	}
	if d == "other.org" {
		policy.TraceOf(ctx).Add("transport", "40-transport.lua:9", "smtp:[relay.other.org]")
		return policy.Route{Transport: "smtp", Nexthop: "[relay.other.org]"}, nil
	}
	if rcpt == "broken@example.com" {
		return policy.Route{}, errors.New("script error")
	}
	return policy.Route{}, nil
}

func TestExplainPrintsEachStepAndWhoDecided(t *testing.T) {
	x := &Explainer{Cleanup: fakeCleanup{},
		Resolver: &Resolver{Router: tracingRouter{}, Default: Static{IsLocal: local}, Transports: transports,
			Cache: &Cache{}},
		Aliases: fakeAliases{"a": {"|/bin/true", "c@other.org"}, "c": {"never"}}, RecipientDelimiter: "+"}
	var out strings.Builder
	if err := x.Explain(context.Background(), &out, "list@example.com", "s@x", nil); err != nil {
		t.Fatal(err)
	}
	want := `recipient: list@example.com
  cleanup: recipients list@example.com -> a@example.com, b@other.org  (30-virtual.lua:7)
  queued: a@example.com
  transport: local  (default: mydestination, relayhost, MX)
  nexthop: example.com
  alias: |/bin/true, c@other.org  (20-aliases.lua:13)
    recipient: c@other.org
      transport: smtp  (40-transport.lua:9)
      nexthop: [relay.other.org]
  queued: b@other.org
  transport: smtp  (40-transport.lua:9)
  nexthop: [relay.other.org]
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	for _, tc := range []struct {
		addr   string
		header []string
		want   string
	}{
		{"x@example.com", []string{"X-Spam: yes"}, "  cleanup: reject  (50-spam.lua:3)\n  refused: 550 5.7.1 spam\n"},
		{"broken@example.com", nil, "  transport: deferred (script error)\n"},
		{"u@hdr.org", []string{"X-Route: given"}, "  nexthop: [given.seen]\n"},
	} {
		out.Reset()
		if err := x.Explain(context.Background(), &out, tc.addr, "", tc.header); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out.String(), tc.want) {
			t.Errorf("%s: got\n%s", tc.addr, out.String())
		}
	}
}
