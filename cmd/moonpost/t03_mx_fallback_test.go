package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
	"github.com/moonpost/moonpost/core/dns/dnstest"
)

// deferringMX is a primary MX that answers 451 to every RCPT.
func deferringMX(t *testing.T, addr string) {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return deferAll{}, nil }))
	srv.Domain = "primary.test"
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

type deferAll struct{}

func (deferAll) Reset()                               {}
func (deferAll) Logout() error                        { return nil }
func (deferAll) Mail(string, *smtp.MailOptions) error { return nil }
func (deferAll) Data(io.Reader) error                 { return nil }
func (deferAll) Rcpt(string, *smtp.RcptOptions) error {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted, try later"}
}

// Scenario 3e: the primary MX defers every recipient at RCPT; the
// secondary takes the mail in the same delivery attempt, so the message
// is never deferred.
func TestT03DeferringPrimaryMXSecondaryDelivers(t *testing.T) {
	s := newSink(t, "127.0.0.4")
	deferringMX(t, "127.0.0.3:"+s.port())
	ns := dnstest.NewServer(t)
	ns.Add(t,
		"remote.test. 300 IN MX 10 mx1.remote.test.",
		"remote.test. 300 IN MX 20 mx2.remote.test.",
		"mx1.remote.test. 300 IN A 127.0.0.3",
		"mx2.remote.test. 300 IN A 127.0.0.4",
	)
	d := newDaemon(t, fmt.Sprintf("[smtp]\ntls = \"none\"\nport = %s\n[dns]\nservers = [%q]", s.port(), ns.Addr))
	d.start()
	c := dial(t, d.addr)
	c.expect("EHLO client.test", 250)
	if code, text := c.message("alice@local.test", []string{"bob@remote.test", "carol@remote.test"}, "Subject: t03e\r\n\r\nvia the secondary"); code != 250 {
		t.Fatalf("%d %s", code, text)
	}
	msgs := waitSink(t, d, s, 1)
	if strings.Join(msgs[0].To, ",") != "bob@remote.test,carol@remote.test" {
		t.Fatalf("secondary got %+v", msgs[0])
	}
	d.waitLog("relay=mx2.remote.test[127.0.0.4]:"+s.port()+", delay=", 2)
	if strings.Contains(d.logs(), "status=deferred") {
		t.Errorf("the message was deferred before the secondary took it:\n%s", d.logs())
	}
}
