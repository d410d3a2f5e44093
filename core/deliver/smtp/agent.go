package smtp

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"

	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/dsn"
)

// badNexthop defers mail routed to a next hop that does not parse: the
// fix is in the operator's configuration, not the sender's message.
var badNexthop = dsn.New(451, "4.3.5", "mail system configuration error: bad next hop")

// Agent is the smtp delivery agent. It is safe for concurrent use.
type Agent struct {
	cfg   Config
	log   *slog.Logger
	cache *connCache // nil when reuse is disabled
}

var _ deliver.Agent = (*Agent)(nil)

// New builds an Agent. The only error is a missing Resolver or host name.
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger}
	if cfg.MaxCached > 0 {
		a.cache = newConnCache(cfg.MaxCached, cfg.MaxIdle, cfg.Clock)
	}
	return a, nil
}

// Close closes the cached connections. Deliver may not be called after.
func (a *Agent) Close() error {
	if a.cache != nil {
		a.cache.closeAll()
	}
	return nil
}

// Deliver implements deliver.Agent.
func (a *Agent) Deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	res := a.deliver(ctx, req)
	deliver.LogResults(a.log, req, res)
	return res
}

func (a *Agent) deliver(ctx context.Context, req *deliver.Request) []deliver.Result {
	n := len(req.Recipients)
	if n == 0 {
		return nil
	}
	// No option is defined for this transport.
	if res := deliver.RefuseOptions(a.log, req); res != nil {
		return res
	}
	nh, err := ParseNexthop(req.Nexthop)
	if err != nil {
		a.log.Error("bad next hop", "queue_id", req.QueueID, "err", err)
		return deliver.AllResults(n, badNexthop, "none")
	}
	if a.cfg.Port != 0 && !nh.PortGiven {
		nh.Port = a.cfg.Port
	}
	key := nh.String()
	res := make([]deliver.Result, n)
	if a.tryCached(ctx, key, req, res) {
		return res
	}
	return a.tryHosts(ctx, key, nh, req, res)
}

// tryCached runs the transaction on an idle session for key, if any. A
// session that turns out dead before MAIL is accepted is dropped and the
// caller connects afresh; the sender never sees the difference.
func (a *Agent) tryCached(ctx context.Context, key string, req *deliver.Request, res []deliver.Result) bool {
	if a.cache == nil {
		return false
	}
	for i := 0; i < a.cfg.MaxCached; i++ { // stale sessions are skipped, bounded
		s := a.cache.get(key)
		if s == nil {
			return false
		}
		reusable, err := a.transact(ctx, s, req, res)
		if err == nil {
			a.release(key, s, reusable)
			return true
		}
		a.log.Debug("cached connection unusable", "queue_id", req.QueueID, "relay", s.relay, "err", err)
		s.close()
	}
	return false
}

// release caches a session that may carry another transaction.
func (a *Agent) release(key string, s *session, reusable bool) {
	if reusable && a.cache != nil {
		a.cache.put(key, s)
		return
	}
	s.close()
}

// attempt records the last failure over hosts, for the final result.
type attempt struct {
	st    *dsn.Status
	relay string
	temp  bool // some failure on the way was temporary
}

func (at *attempt) fail(st *dsn.Status, relay string) {
	at.st, at.relay = st, relay
	at.temp = at.temp || st.Temporary()
}

// tryHosts walks the mail exchangers and their addresses until one
// session completes a transaction.
func (a *Agent) tryHosts(ctx context.Context, key string, nh Nexthop, req *deliver.Request, res []deliver.Result) []deliver.Result {
	hosts, err := a.hosts(ctx, nh)
	if err != nil {
		a.log.Info("next hop lookup failed", "queue_id", req.QueueID, "nexthop", key, "err", err)
		return deliver.AllResults(len(res), dns.StatusOf(err), "none")
	}
	at := &attempt{st: dsn.ConnectFailed, relay: "none"}
	tries := 0
	for _, h := range hosts {
		addrs, err := a.cfg.Resolver.LookupHost(ctx, h)
		if err != nil {
			a.log.Info("MX host lookup failed", "queue_id", req.QueueID, "host", h, "err", err)
			at.fail(dns.StatusOf(err).WithText("cannot find address of mail exchanger "+h), "none")
			continue
		}
		for _, ip := range addrs {
			if tries >= a.cfg.MaxAddresses || ctx.Err() != nil {
				return a.final(at, res)
			}
			tries++
			t := target{host: h, addr: netip.AddrPortFrom(ip, uint16(nh.Port))}
			if a.tryTarget(ctx, key, t, req, res, at) {
				return res
			}
		}
	}
	return a.final(at, res)
}

// hosts lists the names to connect to, in order.
func (a *Agent) hosts(ctx context.Context, nh Nexthop) ([]string, error) {
	if nh.NoMX {
		return []string{nh.Host}, nil
	}
	mxs, err := a.cfg.Resolver.LookupMX(ctx, nh.Host)
	if err != nil {
		return nil, err
	}
	hosts := make([]string, len(mxs))
	for i, mx := range mxs {
		hosts[i] = mx.Host
	}
	return hosts, nil
}

// tryTarget opens a session to t (again in plaintext if opportunistic
// TLS broke) and runs the transaction. It reports whether res is final.
func (a *Agent) tryTarget(ctx context.Context, key string, t target, req *deliver.Request, res []deliver.Result, at *attempt) bool {
	s, err := a.open(ctx, t, true)
	if errors.Is(err, errTLSFallback) {
		s, err = a.open(ctx, t, false)
	}
	if err != nil {
		var he *hostError
		if !errors.As(err, &he) {
			he = &hostError{ioStatus(t.relay(), "setting up the session", err), err}
		}
		a.log.Info("host failed", "queue_id", req.QueueID, "relay", t.relay(), "err", he.err)
		at.fail(he.st, t.relay())
		return false
	}
	reusable, err := a.transact(ctx, s, req, res)
	if err != nil {
		a.log.Info("session failed", "queue_id", req.QueueID, "relay", s.relay, "err", err)
		at.fail(ioStatus(s.relay, "sending MAIL FROM", err), s.relay)
		s.close()
		return false
	}
	a.release(key, s, reusable)
	return true
}

// final is the outcome when no host took the transaction: the last
// failure, except that a permanent DNS answer for one MX host does not
// bounce mail that another host only deferred.
func (a *Agent) final(at *attempt, res []deliver.Result) []deliver.Result {
	st := at.st
	if at.temp && st.Permanent() && at.relay == "none" {
		st = dsn.DNSTemp
	}
	return deliver.AllResults(len(res), st, at.relay)
}
