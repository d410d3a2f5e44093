package smtpd

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/moonpost/moonpost/core/throttle"
)

func rateOf(t *testing.T, s string) throttle.Rate {
	t.Helper()
	r, err := throttle.ParseRate(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Two messages per client per hour: the third MAIL of the client gets
// 450 4.7.1 with the time to wait, in a later session too, and nothing
// of the refused transaction is kept.
func TestRateLimitMessagesPerClient(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.LimitExceptions = []netip.Prefix{}
		c.Throttle = throttle.New(throttle.Options{})
		c.RateLimits = []RateLimit{{Per: "client", Count: "messages", Rate: rateOf(t, "2/h")}}
	})
	cl := dialReady(t, ts.smtp)
	for i := 0; i < 2; i++ {
		cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
		cl.cmd("RSET").expect("250 ")
	}
	got := cl.cmd("MAIL FROM:<a@b.example>").expect("450 4.7.1 ")
	if !strings.Contains(got, "too many messages from client 127.0.0.1, try again in") {
		t.Errorf("reply %q", got)
	}
	cl.cmd("RCPT TO:<x@local.example>").expect("503 ")
	cl.cmd("QUIT").expect("221 ")
	again := dialReady(t, ts.smtp)
	again.cmd("MAIL FROM:<other@b.example>").expect("450 4.7.1 ")
	if !strings.Contains(ts.logs.String(), "NOQUEUE: reject: MAIL from") || !strings.Contains(ts.logs.String(), "message rate limit exceeded for client 127.0.0.1") {
		t.Errorf("refusal not logged:\n%s", ts.logs)
	}
}

// Recipients per sender: the limit follows the MAIL FROM address, not
// the client, and a client in client_event_limit_exceptions (mynetworks
// by default) is not spared a per-sender limit.
func TestRateLimitRecipientsPerSender(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.MyNetworks = loopback
		c.Throttle = throttle.New(throttle.Options{})
		c.RateLimits = []RateLimit{
			{Per: "client", Count: "recipients", Rate: rateOf(t, "1/h")}, // spared: mynetworks
			{Per: "sender", Count: "recipients", Rate: rateOf(t, "3/h")},
		}
	})
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<Bulk@B.example>").expect("250 ")
	for i := 0; i < 3; i++ {
		cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
	}
	got := cl.cmd("RCPT TO:<y@local.example>").expect("450 4.7.1 ")
	if !strings.Contains(got, "too many recipients from sender Bulk@b.example") {
		t.Errorf("reply %q", got)
	}
	cl.cmd("RSET").expect("250 ")
	cl.cmd("MAIL FROM:<other@b.example>").expect("250 ")
	cl.cmd("RCPT TO:<x@local.example>").expect("250 ")
}

// A throttle that cannot decide (Redis down, fail_closed) refuses with
// 451 4.3.0: nothing is accepted past a limit by mistake.
func TestRateLimitUndecidedIsTemporary(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Throttle = failingThrottle{}
		c.RateLimits = []RateLimit{{Per: "client", Count: "messages", Rate: rateOf(t, "100/s")}}
		c.LimitExceptions = []netip.Prefix{}
	})
	cl := dialReady(t, ts.smtp)
	cl.cmd("MAIL FROM:<a@b.example>").expect("451 4.3.0 ")
}

// Per authenticated user: nothing is counted before AUTH, so the limit
// only applies to sessions that authenticated.
func TestRateLimitSubjectAbsent(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Throttle = throttle.New(throttle.Options{})
		c.RateLimits = []RateLimit{{Per: "sasl_username", Count: "messages", Rate: rateOf(t, "1/h")}}
	})
	cl := dialReady(t, ts.smtp)
	for i := 0; i < 3; i++ {
		cl.cmd("MAIL FROM:<a@b.example>").expect("250 ")
		cl.cmd("RSET").expect("250 ")
	}
}

type failingThrottle struct{}

func (failingThrottle) Check(context.Context, string, throttle.Rate) (throttle.Result, error) {
	return throttle.Result{}, errors.New("redis: connection refused")
}

