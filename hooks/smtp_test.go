package hooks

import (
	"context"
	"net/netip"
	"testing"

	"github.com/emersion/go-message/textproto"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/policy"
)

const smtpScript = `
mta.on("connect", function(s)
  if s.client_addr == "192.0.2.66" then return mta.reject(554, "5.7.1", "go away") end
end)
mta.on("helo", function(s, helo)
  if helo == "localhost" then return mta.reject(550, "bad helo") end
  if helo == "wrong" then return mta.defer(550, "5.0.0", "class mismatch") end
end)
mta.on("mail", function(s, from)
  if from == "later@x" then return mta.defer() end
  if from == "ok@x" then return mta.accept() end
  if from == "table@x" then return {code = 550} end
end)
mta.on("mail", function(s, from)
  if from == "ok@x" then error("second handler must not run after accept") end
  if from == "deny@x" then return mta.reject("no thanks") end
end)
mta.on("rcpt", function(s, to)
  if to == "unknown@x" then return mta.reject(550, "5.1.1", "User unknown") end
  if to == "count@x" then return mta.defer(452, "4.5.3", "rcpts " .. #s.recipients) end
  if to == "who@x" then return mta.reject(550, "5.7.1", s.helo .. "/" .. tostring(s.tls) .. "/" .. s.listener .. "/" .. s.size) end
  if to == "hold@x" then return mta.hold("x") end
end)
mta.on("data", function(s, hdr)
  if hdr:header("Subject") == "spam" then return mta.reject(554, "5.7.1", "spam: " .. #hdr:headers("Received")) end
  if hdr:header("Subject") == "write" then hdr:set_header("X", "y") end
  if hdr:header("Subject") == "auth" then
    if hdr.auth == nil then return mta.defer(451, "4.7.0", "not checked") end
    local d = hdr.auth.dkim[1]
    return mta.reject(550, "5.7.1", hdr.auth.dmarc.result .. "/" .. hdr.auth.dmarc.disposition .. "/" .. d.domain .. "=" .. d.result)
  end
end)
mta.on("auth", function(s, user, pass)
  if user == "nil" then return nil end
  if user == "num" then return 1 end
  return user == "alice" and pass == "secret" and (s == nil or s.tls)
end)
`

func TestSMTPVerdicts(t *testing.T) {
	e := newEngine(t, map[string]string{"10-smtp.lua": smtpScript})
	s := &policy.Session{ID: "s1", Listener: "smtp", ClientAddr: netip.MustParseAddr("192.0.2.1"),
		Helo: "mx.example", TLS: true, Recipients: []string{"a@x", "b@x"}, Size: 4096}
	bad := *s
	bad.ClientAddr = netip.MustParseAddr("192.0.2.66")
	c := ctx(t)
	cases := []struct {
		name    string
		run     func() (string, error)
		want    string // "" accept, else the status
		wantErr string
	}{
		{"connect ok", status(e.Connect(c, s)), "", ""},
		{"connect reject", status(e.Connect(c, &bad)), "554 5.7.1 go away", ""},
		{"helo two-arg reject", status(e.Helo(c, s, "localhost")), "550 5.0.0 bad helo", ""},
		{"helo defer with 5xx is a script error", status(e.Helo(c, s, "wrong")), "", "defer needs a 4xx code"},
		{"mail defer defaults", status(e.Mail(c, s, "later@x")), "451 4.7.1 Try again later", ""},
		{"mail accept stops chain", status(e.Mail(c, s, "ok@x")), "", ""},
		{"mail second handler", status(e.Mail(c, s, "deny@x")), "550 5.7.1 no thanks", ""},
		{"mail table is not a verdict", status(e.Mail(c, s, "table@x")), "", "10-smtp.lua:9"},
		{"mail nobody decides", status(e.Mail(c, s, "x@x")), "", ""},
		{"rcpt reject", status(e.Rcpt(c, s, "unknown@x")), "550 5.1.1 User unknown", ""},
		{"rcpt sees recipients", status(e.Rcpt(c, s, "count@x")), "452 4.5.3 rcpts 2", ""},
		{"rcpt sees session", status(e.Rcpt(c, s, "who@x")), "550 5.7.1 mx.example/true/smtp/4096", ""},
		{"rcpt hold is not an SMTP verdict", status(e.Rcpt(c, s, "hold@x")), "", "mta.hold()"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.run()
			if tc.wantErr != "" {
				wantErrContains(t, err, tc.wantErr)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func status(st *dsn.Status, err error) func() (string, error) {
	return func() (string, error) {
		if err != nil || st == nil {
			return "", err
		}
		return st.Error(), nil
	}
}

func TestData(t *testing.T) {
	e := newEngine(t, map[string]string{"10-smtp.lua": smtpScript})
	s := &policy.Session{ID: "s1"}
	var h textproto.Header
	h.Add("Received", "one")
	h.Add("Received", "two")
	h.Add("Subject", "spam")
	st, err := e.Data(ctx(t), s, &h, nil)
	if err != nil || st == nil || st.Error() != "554 5.7.1 spam: 2" {
		t.Fatalf("data: %v, %v", st, err)
	}
	h.Set("Subject", "write")
	_, err = e.Data(ctx(t), s, &h, nil)
	wantErrContains(t, err, "read-only")
	if h.Get("X") != "" {
		t.Error("data hook changed the header")
	}
	h.Set("Subject", "auth")
	res := &policy.AuthResults{DKIM: []policy.DKIMResult{{Domain: "example.org", Selector: "s1", Result: "fail"}},
		DMARC: policy.DMARCResult{Result: "fail", Policy: "reject", Disposition: "reject", Domain: "example.org"}}
	if st, err := e.Data(ctx(t), s, &h, res); err != nil || st == nil || st.Error() != "550 5.7.1 fail/reject/example.org=fail" {
		t.Fatalf("data with results: %v, %v", st, err)
	}
	if st, err := e.Data(ctx(t), s, &h, nil); err != nil || st == nil || st.Error() != "451 4.7.0 not checked" {
		t.Fatalf("data without results: %v, %v", st, err)
	}
}

func TestAuthenticate(t *testing.T) {
	e := newEngine(t, map[string]string{"10-smtp.lua": smtpScript})
	c := ctx(t)
	for _, tc := range []struct {
		ctx        context.Context
		user, pass string
		want       bool
		wantErr    bool
	}{
		{c, "alice", "secret", true, false},
		{c, "alice", "wrong", false, false},
		{WithSession(c, &policy.Session{TLS: false}), "alice", "secret", false, false},
		{WithSession(c, &policy.Session{TLS: true}), "alice", "secret", true, false},
		{c, "nil", "", false, false},
		{c, "num", "", false, true},
	} {
		ok, err := e.Authenticate(tc.ctx, tc.user, tc.pass)
		if ok != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("auth(%s, %s) = %v, %v", tc.user, tc.pass, ok, err)
		}
	}
}

func TestNoHandlersAccept(t *testing.T) {
	e := newEngine(t, map[string]string{"10-empty.lua": "-- nothing"})
	c := ctx(t)
	s := &policy.Session{}
	if st, err := e.Rcpt(c, s, "a@b"); st != nil || err != nil {
		t.Errorf("rcpt = %v, %v", st, err)
	}
	if ok, err := e.Authenticate(c, "u", "p"); ok || err != nil {
		t.Errorf("auth without handlers = %v, %v; must refuse", ok, err)
	}
	r, err := e.Route(c, "a@b", nil)
	if err != nil || r.Transport != "" { // the engine's Go default decides
		t.Errorf("route = %+v, %v", r, err)
	}
	if a, err := e.Rewrite(c, "a@b", policy.AddrContext{}); a != "a@b" || err != nil {
		t.Errorf("rewrite = %q, %v", a, err)
	}
	if _, found, err := e.ExpandAlias(c, "a", "b"); found || err != nil {
		t.Errorf("alias = %v, %v", found, err)
	}
}

// Handles says which events the live scripts handle (policy.Selective).
func TestHandles(t *testing.T) {
	var _ policy.Selective = (*Engine)(nil)
	e := newEngine(t, map[string]string{"10-smtp.lua": smtpScript})
	for ev, want := range map[string]bool{"connect": true, "data": true, "cleanup": false, "nosuch": false} {
		if got := e.Handles(ev); got != want {
			t.Errorf("Handles(%q) = %v, want %v", ev, got, want)
		}
	}
	e2 := newEngine(t, map[string]string{"10-rcpt.lua": `mta.on("rcpt", function(s, to) end)`})
	if e2.Handles("data") || !e2.Handles("rcpt") {
		t.Errorf("rcpt-only scripts: data %v, rcpt %v", e2.Handles("data"), e2.Handles("rcpt"))
	}
}
