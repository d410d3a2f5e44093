package smtp

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
)

func relay(host, ip string, port int) string { return fmt.Sprintf("%s[%s]:%d", host, ip, port) }

func TestDeliverViaMX(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), nil,
		"example.test. 60 IN MX 10 mx.example.test.", "mx.example.test. 60 IN A 127.0.0.1")
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test", "y@example.test"))
	r := relay("mx.example.test", "127.0.0.1", e.port)
	want(t, res, 0, 250, "2.0.0", r)
	want(t, res, 1, 250, "2.0.0", r)
	_, msgs := b.snapshot()
	if len(msgs) != 1 {
		t.Fatalf("peer got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.data != msg {
		t.Errorf("content changed on the way (dot-stuffing?):\n%q\n%q", m.data, msg)
	}
	if m.from != "a@src.test" || strings.Join(m.rcpts, ",") != "x@example.test,y@example.test" {
		t.Errorf("envelope = %s %v", m.from, m.rcpts)
	}
	if m.mailOpts.Size != int64(len(msg)) {
		t.Errorf("SIZE = %d", m.mailOpts.Size)
	}
}

func TestFallbackFromDeadMXToNext(t *testing.T) {
	ln := listen(t, "127.0.0.2", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	// 127.0.0.3 has nothing listening on the port: connection refused.
	e := newEnv(t, portOf(ln), nil,
		"example.test. 60 IN MX 10 dead.example.test.", "dead.example.test. 60 IN A 127.0.0.3",
		"example.test. 60 IN MX 20 live.example.test.", "live.example.test. 60 IN A 127.0.0.2")
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", relay("live.example.test", "127.0.0.2", e.port))
}

func TestAllHostsDeadDefers(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	port := portOf(ln)
	ln.Close() // nothing listens on this port any more
	e := newEnv(t, port, nil,
		"example.test. 60 IN MX 10 a.example.test.", "a.example.test. 60 IN A 127.0.0.3",
		"example.test. 60 IN MX 20 b.example.test.", "b.example.test. 60 IN A 127.0.0.4")
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test", "y@example.test"))
	want(t, res, 0, 451, "4.4.1", relay("b.example.test", "127.0.0.4", port))
	want(t, res, 1, 451, "4.4.1", "")
}

func TestSilentPeerTimesOutAndNextMXTakesMail(t *testing.T) {
	lns, _ := listenSamePort(t, "127.0.0.1", "127.0.0.2")
	silent, live := lns[0], lns[1]
	serveRaw(t, silent, rawPeer{})
	b := &backend{}
	serveGoSMTP(t, live, b, nil)
	e := newEnv(t, portOf(silent), func(c *Config) { c.HeloTimeout = 200 * time.Millisecond },
		"example.test. 60 IN MX 10 silent.example.test.", "silent.example.test. 60 IN A 127.0.0.1",
		"example.test. 60 IN MX 20 live.example.test.", "live.example.test. 60 IN A 127.0.0.2")
	start := time.Now()
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", relay("live.example.test", "127.0.0.2", e.port))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("silent peer held delivery for %v", d)
	}
}

func TestSilentPeerAloneDefers(t *testing.T) {
	silent := listen(t, "127.0.0.1", 0)
	serveRaw(t, silent, rawPeer{})
	e := newEnv(t, portOf(silent), func(c *Config) { c.HeloTimeout = 200 * time.Millisecond })
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test"))
	want(t, res, 0, 451, "4.4.2", relay("127.0.0.1", "127.0.0.1", e.port))
}

func TestContextDeadlineBoundsDelivery(t *testing.T) {
	silent := listen(t, "127.0.0.1", 0)
	serveRaw(t, silent, rawPeer{})
	e := newEnv(t, portOf(silent), func(c *Config) { c.HeloTimeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	res := e.agent.Deliver(ctx, request("[127.0.0.1]", "x@example.test"))
	if !res[0].Status.Temporary() {
		t.Errorf("status = %v", res[0].Status)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ignored ctx: %v", d)
	}
}

func TestGreeting421MovesOn(t *testing.T) {
	lns, _ := listenSamePort(t, "127.0.0.1", "127.0.0.2")
	busy, live := lns[0], lns[1]
	serveRaw(t, busy, rawPeer{greeting: "421 4.7.0 busy, come back later"})
	serveGoSMTP(t, live, &backend{}, nil)
	e := newEnv(t, portOf(busy), nil,
		"example.test. 60 IN MX 10 busy.example.test.", "busy.example.test. 60 IN A 127.0.0.1",
		"example.test. 60 IN MX 20 live.example.test.", "live.example.test. 60 IN A 127.0.0.2")
	res := e.agent.Deliver(context.Background(), request("example.test", "x@example.test"))
	want(t, res, 0, 250, "2.0.0", relay("live.example.test", "127.0.0.2", e.port))

	alone := e.agent.Deliver(context.Background(), request("[busy.example.test]", "x@example.test"))
	want(t, alone, 0, 421, "4.7.0", relay("busy.example.test", "127.0.0.1", e.port))
}

func TestGreeting5xxFromLastHostIsPermanent(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	serveRaw(t, ln, rawPeer{greeting: "554 5.7.1 no mail from you"})
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test"))
	want(t, res, 0, 554, "5.7.1", "")
	if !strings.Contains(res[0].Status.Text, "no mail from you") {
		t.Errorf("text = %q", res[0].Status.Text)
	}
}

func TestPerRecipientResults(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{rcptErr: map[string]*gosmtp.SMTPError{
		"full@example.test":    {Code: 452, EnhancedCode: gosmtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"},
		"unknown@example.test": {Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	}}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(),
		request("[127.0.0.1]", "full@example.test", "ok@example.test", "unknown@example.test"))
	want(t, res, 0, 452, "4.2.2", "")
	want(t, res, 1, 250, "2.0.0", "")
	want(t, res, 2, 550, "5.1.1", "")
	_, msgs := b.snapshot()
	if len(msgs) != 1 || strings.Join(msgs[0].rcpts, ",") != "ok@example.test" {
		t.Errorf("peer got %+v", msgs)
	}
}

func TestAllRecipientsRefusedSendsNoData(t *testing.T) {
	var sawData atomic.Bool
	ln := listen(t, "127.0.0.1", 0)
	serveRaw(t, ln, rawPeer{greeting: "220 peer.test", reply: func(cmd string) string {
		switch {
		case strings.HasPrefix(cmd, "RCPT"):
			return "550 5.1.1 no"
		case cmd == "DATA":
			sawData.Store(true)
		}
		return ""
	}})
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "a@example.test", "b@example.test"))
	want(t, res, 0, 550, "5.1.1", "")
	want(t, res, 1, 550, "5.1.1", "")
	// The client waits for each reply, so a DATA would be seen by now.
	if sawData.Load() {
		t.Error("DATA sent with no accepted recipient")
	}
}

func TestDataReplies(t *testing.T) {
	for _, c := range []struct {
		code int
		enh  string
		ec   gosmtp.EnhancedCode
	}{{554, "5.6.0", gosmtp.EnhancedCode{5, 6, 0}}, {451, "4.3.0", gosmtp.EnhancedCode{4, 3, 0}}} {
		ln := listen(t, "127.0.0.1", 0)
		b := &backend{dataErr: &gosmtp.SMTPError{Code: c.code, EnhancedCode: c.ec, Message: "content refused"}}
		serveGoSMTP(t, ln, b, nil)
		e := newEnv(t, portOf(ln), nil)
		res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "a@example.test", "b@example.test"))
		want(t, res, 0, c.code, c.enh, "")
		want(t, res, 1, c.code, c.enh, "")
	}
}

func TestLostConnectionAfterDotDefers(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	serveRaw(t, ln, rawPeer{greeting: "220 peer.test", afterDot: "close"})
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "a@example.test"))
	want(t, res, 0, 451, "4.4.2", "")
}

func TestRcpt421DefersTheRest(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	n := 0
	serveRaw(t, ln, rawPeer{greeting: "220 peer.test", reply: func(cmd string) string {
		if strings.HasPrefix(cmd, "RCPT") {
			if n++; n == 2 {
				return "421 4.3.2 shutting down"
			}
		}
		return ""
	}})
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "a@example.test", "b@example.test", "c@example.test"))
	for i := range res {
		want(t, res, i, 421, "4.3.2", "")
	}
}

func TestMessageLargerThanPeerSIZE(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, func(s *gosmtp.Server) { s.MaxMessageBytes = 10 })
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "a@example.test", "b@example.test"))
	want(t, res, 0, 552, "5.3.4", "")
	want(t, res, 1, 552, "5.3.4", "")
	if _, msgs := b.snapshot(); len(msgs) != 0 {
		t.Error("oversized message was sent")
	}
}

// TestOptionsDefer: smtp takes no transport option; a route that sets
// one is deferred (4.3.5) before any connection is made.
func TestOptionsDefer(t *testing.T) {
	e := newEnv(t, 25, nil)
	req := request("[127.0.0.1]", "x@example.test")
	req.Options = map[string]string{"mailbox": "/m/"}
	res := e.agent.Deliver(context.Background(), req)
	want(t, res, 0, 451, "4.3.5", "none")
	e.dials.mu.Lock()
	defer e.dials.mu.Unlock()
	if n := len(e.dials.conns); n != 0 {
		t.Errorf("%d connections for a refused route", n)
	}
}

// An address with a line break (a script could make one) is never put
// on the wire, where it would inject a command: it fails alone, and
// the others go out.
func TestAddressWithLineBreakNotSent(t *testing.T) {
	ln := listen(t, "127.0.0.1", 0)
	b := &backend{}
	serveGoSMTP(t, ln, b, nil)
	e := newEnv(t, portOf(ln), nil)
	res := e.agent.Deliver(context.Background(), request("[127.0.0.1]", "x@example.test>\r\nRCPT TO:<evil@example.test", "y@example.test"))
	want(t, res, 0, 553, "5.1.3", "none")
	want(t, res, 1, 250, "2.0.0", "")
	req := request("[127.0.0.1]", "y@example.test")
	req.Sender = "a@src.test>\r\nRSET"
	want(t, e.agent.Deliver(context.Background(), req), 0, 553, "5.1.7", "none")
	if _, msgs := b.snapshot(); len(msgs) != 1 || strings.Join(msgs[0].rcpts, ",") != "y@example.test" {
		t.Errorf("peer got %+v", msgs)
	}
}
