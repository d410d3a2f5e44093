package smtpd

import (
	"context"
	"time"

	"github.com/moonpost/moonpost/core/dsn"
	"github.com/moonpost/moonpost/core/rate"
)

// Shared client rates. Without ClientRates, ConnectionRateLimit and
// AuthFailureRateLimit count in this node's anvil (anvil.go). With it
// — the daemon's throttle on Redis, when [redis] is set — they count
// there instead, so a client that spreads its connections or password
// guesses over the nodes meets one limit. The throttle is GCRA: a
// limit of N per RateTimeUnit lets N through at once and then one every
// unit/N, and a refused event is not counted (the anvil counts refused
// connections too, so a client that keeps hammering stays refused
// there until it pauses; here it gets one connection per unit/N).
//
// The connection is counted when its banner is written, in the
// connection's own goroutine, so the accept loop never waits on Redis;
// over the limit the banner is replaced by 421 4.7.0 and the
// connection closed. Failed AUTH attempts are counted each with a
// check, and AUTH asks first with a peek, which counts nothing. When the
// throttle cannot decide (Redis down and fail_closed) a connection gets
// 421 4.3.0 and AUTH 454 4.7.0, both temporary.

// ClientRates is the throttle the per-client rates count in when they
// are shared: Allow counts one event (local false: shared), Peek
// answers whether one more would pass without counting it. Both run
// concurrently in session goroutines and honour ctx.
type ClientRates interface {
	Throttle
	Peek(ctx context.Context, key string, r rate.Rate) (ok bool, retryAfter time.Duration, err error)
}

// RateUnavailable answers a connection whose shared rate could not be
// checked.
var RateUnavailable = dsn.New(421, "4.3.0", "Error: service temporarily unavailable, try again later")

// clientRate is a per-client limit of n events per RateTimeUnit.
func (c *conn) clientRate(n int) rate.Rate {
	return rate.Rate{N: int64(n), Per: c.cfg.RateTimeUnit}
}

// sharedClient reports whether the per-client limit n applies to c and
// counts in the shared throttle.
func (c *conn) sharedClient(n int) bool {
	return c.cfg.ClientRates != nil && n > 0 && !c.srv.exempt(c.ip)
}

// bannerRefusal counts the connection against the shared connection
// rate, at the banner; a refusal replaces the banner and ends the
// session after it.
func (c *conn) bannerRefusal() *dsn.Status {
	limit := c.srv.config().ConnectionRateLimit
	if !c.sharedClient(limit) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	ok, retry, err := c.cfg.ClientRates.Allow(ctx, "smtpd:conn:"+c.ip.String(), c.clientRate(limit), false)
	var st *dsn.Status
	switch {
	case err != nil:
		c.srv.log.Error("NOQUEUE: connection rate check failed for "+c.client(), "err", err)
		st = RateUnavailable
	case !ok:
		c.srv.log.Warn("warning: Connection rate limit exceeded from "+c.ip.String()+" for service "+c.listener.Name,
			"limit", limit, "per", c.cfg.RateTimeUnit, "retry_after", retry.Round(time.Second))
		st = dsn.TooManyFromHost
	default:
		return nil
	}
	c.srv.countReject("CONNECT", st)
	c.srv.log.Warn("NOQUEUE: reject: CONNECT from "+c.client()+": "+st.Error(), "listener", c.listener.Name)
	c.expire() // go-smtp closes on the next read
	return st
}

// authKey is the shared failed-AUTH count of c's address.
func (c *conn) authKey() string { return "smtpd:authfail:" + c.ip.String() }

// sharedAuthRefusal is authRefusal with the shared count.
func (s *Server) sharedAuthRefusal(c *conn, limit int) *dsn.Status {
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	ok, _, err := c.cfg.ClientRates.Peek(ctx, c.authKey(), c.clientRate(limit))
	switch {
	case err != nil:
		s.log.Error("warning: "+c.client()+": AUTH failure rate check failed", "err", err)
		return dsn.AuthTemp
	case ok:
		return nil
	}
	s.log.Warn("warning: AUTH failure rate limit exceeded from "+c.client()+" for service "+c.listener.Name,
		"limit", limit, "per", c.cfg.RateTimeUnit)
	c.expire()
	return AuthRateLimited
}

// noteSharedAuthFailure counts one failed AUTH in the shared throttle;
// an error is logged by the throttle and leaves the failure uncounted.
func (s *Server) noteSharedAuthFailure(c *conn, limit int) {
	ctx, cancel := context.WithTimeout(context.Background(), rateTimeout)
	defer cancel()
	_, _, _ = c.cfg.ClientRates.Allow(ctx, c.authKey(), c.clientRate(limit), false)
}
