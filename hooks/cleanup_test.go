package hooks

import (
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

const cleanupScript = `
mta.on("cleanup", function(msg)
  local subj = msg:header("Subject") or ""
  if subj == "edit" then
    msg:set_header("X-Seen", msg.id .. " " .. msg.sender .. " " .. msg.client.addr)
    msg:add_header("X-Top", "first")
    msg:remove_header("X-Remove")
    msg:set_sender("new@x")
    msg:add_recipient("added@x")
    msg:remove_recipient("B@X")
    return nil
  end
  if subj == "redirect" then msg:redirect("trap@x") end
  if subj == "reject" then msg:reject(554, "5.7.1", "no " .. #msg:headers("Received")) end
  if subj == "hold" then msg:hold("look at it") end
  if subj == "discard" then msg:discard("dup") end
  if subj == "defer" then return mta.defer(451, "4.7.0", "later") end
  if subj == "accept" then return mta.accept() end
  if subj == "half" then msg:set_header("X-Half", "1"); error("broke mid-way") end
  if subj == "inject" then msg:set_header("X-Evil", "a\r\nBcc: victim@x") end
  if subj == "badname" then msg:add_header("X Evil:", "v") end
  if subj == "stash" then stashed = msg end
  if subj == "reuse" then return stashed:header("Subject") end
  if subj == "number" then return 42 end
end)
mta.on("cleanup", function(msg)
  if msg:header("Subject") == "accept" then error("must not run after accept") end
  if msg:header("Subject") == "redirect" then return mta.hold("second") end
end)
`

func testMessage(subject string) *policy.Message {
	var h textproto.Header
	h.Add("Received", "r2")
	h.Add("Received", "r1")
	h.Add("X-Remove", "x")
	h.Add("Subject", subject)
	return &policy.Message{
		Header: &h,
		Envelope: &queue.Envelope{
			ID: "0123456789ABCDEF01", Sender: "s@x",
			Recipients: []queue.Recipient{{Addr: "a@x"}, {Addr: "b@x"}},
			Client:     queue.Client{Addr: "192.0.2.1", Name: "c.example"},
		},
	}
}

func rcptAddrs(m *policy.Message) string {
	var out []string
	for _, r := range m.Envelope.Recipients {
		out = append(out, r.Addr)
	}
	return strings.Join(out, ",")
}

func TestCleanupVerdicts(t *testing.T) {
	e := newEngine(t, map[string]string{"10-cleanup.lua": cleanupScript})
	cases := []struct {
		subject string
		action  policy.Action
		detail  string // status or reason
		rcpts   string
		wantErr string
	}{
		{"plain", policy.Accept, "", "a@x,b@x", ""},
		{"redirect", policy.Hold, "second", "trap@x", ""},
		{"reject", policy.Reject, "554 5.7.1 no 2", "a@x,b@x", ""},
		{"hold", policy.Hold, "look at it", "a@x,b@x", ""},
		{"discard", policy.Discard, "dup", "a@x,b@x", ""},
		{"defer", policy.Reject, "451 4.7.0 later", "a@x,b@x", ""},
		{"accept", policy.Accept, "", "a@x,b@x", ""},
		{"half", 0, "", "", "broke mid-way"},
		{"inject", 0, "", "", "header injection refused"},
		{"badname", 0, "", "", "invalid header name"},
		{"number", 0, "", "", "10-cleanup.lua:2"},
	}
	for _, tc := range cases {
		t.Run(tc.subject, func(t *testing.T) {
			m := testMessage(tc.subject)
			v, err := e.Cleanup(ctx(t), m)
			if tc.wantErr != "" {
				wantErrContains(t, err, tc.wantErr, "generation 1")
				if m.Header.Get("X-Half") != "" || m.Header.Get("X-Evil") != "" {
					t.Error("a failed hook changed the message")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			detail := v.Reason
			if v.Status != nil {
				detail = v.Status.Error()
			}
			if v.Action != tc.action || detail != tc.detail || rcptAddrs(m) != tc.rcpts {
				t.Errorf("got %v %q %s", v.Action, detail, rcptAddrs(m))
			}
		})
	}
}

func TestCleanupEdits(t *testing.T) {
	e := newEngine(t, map[string]string{"10-cleanup.lua": cleanupScript})
	m := testMessage("edit")
	if _, err := e.Cleanup(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	h := m.Header
	if got := h.Get("X-Seen"); got != "0123456789ABCDEF01 s@x 192.0.2.1" {
		t.Errorf("X-Seen = %q", got)
	}
	if h.Get("X-Remove") != "" {
		t.Error("X-Remove still there")
	}
	fields := h.Fields()
	fields.Next()
	if fields.Key() != "X-Top" {
		t.Errorf("add_header did not prepend: first field is %s", fields.Key())
	}
	if m.Envelope.Sender != "new@x" || rcptAddrs(m) != "a@x,added@x" {
		t.Errorf("envelope = %s → %s", m.Envelope.Sender, rcptAddrs(m))
	}
}

func TestMessageHandleDiesWithItsHook(t *testing.T) {
	// One state, so the global survives between the two calls.
	e := newEngine(t, map[string]string{"10-cleanup.lua": cleanupScript}, func(c *Config) { c.PoolSize = 1 })
	if _, err := e.Cleanup(ctx(t), testMessage("stash")); err != nil {
		t.Fatal(err)
	}
	_, err := e.Cleanup(ctx(t), testMessage("reuse"))
	wantErrContains(t, err, "message handle used after its hook returned")
	if _, err := e.Cleanup(ctx(t), testMessage("plain")); err != nil {
		t.Errorf("engine unusable after the stale handle: %v", err)
	}
}
