package hooks

import (
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

const envelopeRouteScript = `
mta.on("transport", function(rcpt, m)
  local d = rcpt:match("@(.*)$")
  if d == "list.example" then return "smtp:[" .. table.concat(m:recipients(), ",") .. "]" end
  if d == "hdr.example" then
    local tags = table.concat(m:headers("X-Tag"), "+")
    return "smtp:[" .. (m:header("X-Route") or "none") .. "/" .. tags .. "]"
  end
  if d == "plan.example" then return "smtp:[" .. (m.meta.plan or "none") .. "]" end
  if d == "retry.example" and m.attempts >= 3 then return "smtp:[fallback.example]" end
  if d == "age.example" then return "smtp:[" .. math.floor(m.arrival) .. "]" end
end)
`

// TestTransportSeesEnvelopeAndHeader: the transport handler reads the
// whole envelope and, on demand only, the header; each read is named in
// Reads so that a cached answer is reused only for mail it fits.
func TestTransportSeesEnvelopeAndHeader(t *testing.T) {
	e := newEngine(t, map[string]string{"20-route.lua": envelopeRouteScript})
	env := &queue.Envelope{ID: "ID1", Sender: "s@x", Attempts: 3, Arrival: time.Unix(1700000000, 0),
		Recipients: []queue.Recipient{{Addr: "a@list.example"}, {Addr: "b@list.example"}},
		Meta:       map[string]string{"plan": "gold"}}
	var reads atomic.Int32
	raw := "X-Route: r1.example\r\nX-Tag: a\r\nX-Tag: b\r\nSubject: hi\r\n\r\nbody\r\n"
	c := policy.WithHeader(ctx(t), policy.ReadHeaderOnce(func() io.Reader {
		reads.Add(1)
		return strings.NewReader(raw)
	}))
	for rcpt, want := range map[string]policy.Route{
		"a@list.example":  {Transport: "smtp", Nexthop: "[a@list.example,b@list.example]", Reads: policy.ReadsID},
		"a@hdr.example":   {Transport: "smtp", Nexthop: "[r1.example/a+b]", Reads: policy.ReadsID},
		"a@plan.example":  {Transport: "smtp", Nexthop: "[gold]", Reads: policy.ReadsMeta},
		"a@retry.example": {Transport: "smtp", Nexthop: "[fallback.example]", Reads: policy.ReadsAttempts},
		"a@age.example":   {Transport: "smtp", Nexthop: "[1700000000]", Reads: policy.ReadsID},
	} {
		got, err := e.Route(c, rcpt, env)
		if err != nil || got.Transport != want.Transport || got.Nexthop != want.Nexthop || got.Reads != want.Reads {
			t.Errorf("%s: %+v, %v; want %+v", rcpt, got, err, want)
		}
	}
	if n := reads.Load(); n != 1 {
		t.Errorf("header read %d times, want once", n)
	}
	// A handler that never asks for the header does not read it.
	reads.Store(0)
	c = policy.WithHeader(ctx(t), policy.ReadHeaderOnce(func() io.Reader {
		reads.Add(1)
		return strings.NewReader(raw)
	}))
	if _, err := e.Route(c, "a@plan.example", env); err != nil || reads.Load() != 0 {
		t.Errorf("header read %d times for a handler that did not ask (%v)", reads.Load(), err)
	}
	// No header attached: an empty one. Fewer attempts: no decision.
	if got, err := e.Route(ctx(t), "a@hdr.example", nil); err != nil || got.Nexthop != "[none/]" {
		t.Errorf("without a header: %+v, %v", got, err)
	}
	if got, err := e.Route(ctx(t), "a@retry.example", &queue.Envelope{Attempts: 1}); err != nil || got.Transport != "" {
		t.Errorf("first attempts: %+v, %v", got, err)
	}
}

// TestTransportHeaderErrorFailsTheCall: a header that cannot be read
// defers, like any script error, naming the handler.
func TestTransportHeaderErrorFailsTheCall(t *testing.T) {
	e := newEngine(t, map[string]string{"20-route.lua": envelopeRouteScript})
	c := policy.WithHeader(ctx(t), func() (*textproto.Header, error) { return nil, errors.New("disk on fire") })
	_, err := e.Route(c, "a@hdr.example", &queue.Envelope{ID: "ID1"})
	wantErrContains(t, err, "disk on fire", "20-route.lua:")
}
