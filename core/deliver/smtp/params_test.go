package smtp

import (
	"context"
	"reflect"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dns"
)

func TestDSNParametersPassed(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, func(s *gosmtp.Server) { s.EnableDSN = true })
	e := newEnv(t, portOf(ln), nil)
	req := request("[127.0.0.1]")
	req.Ret, req.EnvID, req.BodyType = "hdrs", "env+id=1", "8BITMIME"
	req.Recipients = []deliver.Recipient{{Addr: "x@example.test", Notify: "success,failure", ORcpt: "rfc822;orig@example.test"}}
	want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", "")
	_, msgs := b.snapshot()
	m := msgs[0]
	if m.mailOpts.Return != gosmtp.DSNReturnHeaders || m.mailOpts.EnvelopeID != "env+id=1" || m.mailOpts.Body != gosmtp.Body8BitMIME {
		t.Errorf("MAIL options = %+v", m.mailOpts)
	}
	ro := m.rcptOpts[0]
	if !reflect.DeepEqual(ro.Notify, []gosmtp.DSNNotify{"SUCCESS", "FAILURE"}) ||
		ro.OriginalRecipient != "orig@example.test" || ro.OriginalRecipientType != gosmtp.DSNAddressTypeRFC822 {
		t.Errorf("RCPT options = %+v", ro)
	}
}

func TestParseNotify(t *testing.T) {
	for in, want := range map[string][]string{
		"":                      nil,
		"NEVER":                 {"NEVER"},
		"delay, failure":        {"DELAY", "FAILURE"},
		"NEVER,SUCCESS":         nil, // NEVER stands alone
		"SOMETIMES":             nil,
		"SUCCESS,SUCCESS":       {"SUCCESS"},
		"success,failure,DELAY": {"SUCCESS", "FAILURE", "DELAY"},
	} {
		if got := parseNotify(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseNotify(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSMTPUTF8Rules(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil) // no SMTPUTF8 offered
	e := newEnv(t, portOf(ln), nil)

	req := request("[127.0.0.1]", "jürgen@example.test")
	req.SMTPUTF8 = true
	want(t, e.agent.Deliver(context.Background(), req), 0, 550, "5.6.7", "")

	ascii := request("[127.0.0.1]", "juergen@example.test") // only headers are UTF-8
	ascii.SMTPUTF8 = true
	want(t, e.agent.Deliver(context.Background(), ascii), 0, 250, "2.0.0", "")

	ln2 := listen(t, "127.0.0.1", 0)
	b2 := &backend{}
	serveGoSMTP(t, ln2, b2, func(s *gosmtp.Server) { s.EnableSMTPUTF8 = true })
	e2 := newEnv(t, portOf(ln2), nil)
	want(t, e2.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", "")
	if _, msgs := b2.snapshot(); len(msgs) != 1 || !msgs[0].mailOpts.UTF8 {
		t.Errorf("SMTPUTF8 not passed: %+v", msgs)
	}
}

func TestEightBitToPeerWithout8BITMIMEBounces(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	serveRaw(t, ln, rawPeer{greeting: "220 peer.test", caps: []string{"SIZE 100000"}})
	e := newEnv(t, portOf(ln), nil)
	req := request("[127.0.0.1]", "x@example.test")
	req.BodyType = "8BITMIME"
	want(t, e.agent.Deliver(context.Background(), req), 0, 554, "5.6.3", "")
	req.BodyType = "7BIT"
	want(t, e.agent.Deliver(context.Background(), req), 0, 250, "2.0.0", "")
}

func TestDNSOutcomes(t *testing.T) {
	e := newEnv(t, 25, nil, "nullmx.test. 60 IN MX 0 .")
	e.dns.SetRcode("broken.test", 2)
	for _, c := range []struct {
		nexthop string
		code    int
		enh     string
	}{
		{"nowhere.test", 550, "5.1.2"},
		{"nullmx.test", 556, "5.1.10"},
		{"broken.test", 451, "4.4.3"},
		{"[nowhere.test]", 550, "5.1.2"},
		{"bad..hop", 451, "4.3.5"},
	} {
		res := e.agent.Deliver(context.Background(), request(c.nexthop, "x@example.test"))
		want(t, res, 0, c.code, c.enh, "")
	}
	if e.dials.count() != 0 {
		t.Errorf("dialled %d times", e.dials.count())
	}
}

func TestNewNeedsResolver(t *testing.T) {
	if _, err := New(Config{Helo: "x"}); err == nil {
		t.Error("New without a Resolver succeeded")
	}
	if _, err := New(Config{Resolver: dns.New(dns.Config{Servers: []string{"127.0.0.1:1"}})}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
