package smtp

import (
	"context"
	"testing"

	gosmtp "github.com/emersion/go-smtp"
)

// mxPeers runs one go-smtp peer per address on one port, the MX hosts
// mx1..mxN.example.test in preference order.
func mxPeers(t *testing.T, tune func(*Config), backends ...*backend) *env {
	t.Helper()
	ips := []string{}
	for i := range backends {
		ips = append(ips, "127.0.0."+string(rune('2'+i)))
	}
	lns, port := listenSamePort(t, ips...)
	zone := []string{}
	for i, b := range backends {
		ip := ips[i]
		serveGoSMTP(t, lns[i], b, nil)
		host := "mx" + string(rune('1'+i)) + ".example.test."
		zone = append(zone, "example.test. 60 IN MX "+string(rune('1'+i))+"0 "+host, host+" 60 IN A "+ip)
	}
	return newEnv(t, port, tune, zone...)
}

var (
	tempRcpt = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	permRcpt = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
)

// A primary that answers 451 at RCPT does not hold the mail: the
// recipients go on to the secondary in the same attempt, and only the
// ones the primary deferred do.
func TestRcpt4xxMovesToNextMX(t *testing.T) {
	primary := &backend{rcptErr: map[string]*gosmtp.SMTPError{"x@example.test": tempRcpt, "z@example.test": tempRcpt}}
	secondary := &backend{}
	e := mxPeers(t, nil, primary, secondary)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test", "y@example.test", "z@example.test"))
	want(t, res, 0, 250, "2.0.0", relay("mx2.example.test", "127.0.0.3", e.port))
	want(t, res, 1, 250, "2.0.0", relay("mx1.example.test", "127.0.0.2", e.port))
	want(t, res, 2, 250, "2.0.0", relay("mx2.example.test", "127.0.0.3", e.port))
	_, p := primary.snapshot()
	_, s := secondary.snapshot()
	if len(p) != 1 || len(p[0].rcpts) != 1 || p[0].rcpts[0] != "y@example.test" {
		t.Errorf("primary got %+v, want y only", p)
	}
	if len(s) != 1 || len(s[0].rcpts) != 2 || s[0].rcpts[0] != "x@example.test" || s[0].rcpts[1] != "z@example.test" {
		t.Errorf("secondary got %+v, want x and z", s)
	}
}

// A 4xx to DATA (or MAIL) moves every recipient on.
func TestData4xxMovesToNextMX(t *testing.T) {
	primary := &backend{dataErr: &gosmtp.SMTPError{Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 3, 1}, Message: "disk full"}}
	secondary := &backend{}
	e := mxPeers(t, nil, primary, secondary)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", relay("mx2.example.test", "127.0.0.3", e.port))
}

// 5xx is final at the first host that says it: the secondary is never
// asked.
func TestRcpt5xxStaysAtFirstMX(t *testing.T) {
	primary := &backend{rcptErr: map[string]*gosmtp.SMTPError{"x@example.test": permRcpt}}
	secondary := &backend{}
	e := mxPeers(t, nil, primary, secondary)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 550, "5.1.1", relay("mx1.example.test", "127.0.0.2", e.port))
	if conns, _ := secondary.snapshot(); conns != 0 {
		t.Errorf("secondary got %d connections", conns)
	}
}

// smtp_mx_session_limit: with three hosts that all defer, two sessions
// are tried (the default), and the recipient keeps the last reply.
func TestMXSessionLimit(t *testing.T) {
	deferAll := func() *backend { return &backend{rcptErr: map[string]*gosmtp.SMTPError{"x@example.test": tempRcpt}} }
	b1, b2, b3 := deferAll(), deferAll(), deferAll()
	e := mxPeers(t, nil, b1, b2, b3)
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 451, "4.3.0", relay("mx2.example.test", "127.0.0.3", e.port))
	if c3, _ := b3.snapshot(); c3 != 0 {
		t.Errorf("third host got %d connections past the session limit", c3)
	}
	e = mxPeers(t, func(c *Config) { c.MXSessionLimit = 3 }, deferAll(), deferAll(), b3)
	res = e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 451, "4.3.0", relay("mx3.example.test", "127.0.0.4", e.port))
}

// A cached session to the primary that defers does not keep the
// secondary from being tried, and is not reopened in the same attempt.
func TestCachedPrimaryDefersThenSecondary(t *testing.T) {
	primary := &backend{}
	secondary := &backend{}
	e := mxPeers(t, nil, primary, secondary)
	want(t, e.agent.Deliver(context.Background(), request("example.test", "y@example.test")), 0, 250, "2.0.0", "")
	primary.mu.Lock()
	primary.rcptErr = map[string]*gosmtp.SMTPError{"x@example.test": tempRcpt}
	primary.mu.Unlock()
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", relay("mx2.example.test", "127.0.0.3", e.port))
	if c1, _ := primary.snapshot(); c1 != 1 {
		t.Errorf("primary got %d connections, want its cached one only", c1)
	}
}
