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

// New builds an Agent. The only error is a missing Resolver (for SMTP)
// or host name.
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
	w := a.newWalk(req)
	key := nh.String()
	if len(w.pending) > 0 && !a.tryCached(ctx, key, w) {
		a.tryHosts(ctx, key, nh, w)
	}
	return w.final()
}

// Target is a server to deliver to that the caller found itself: the
// lmtp agent's socket or host, which is not looked up by MX.
type Target struct {
	Network string // "tcp" or "unix"
	Addr    string // as net.Dial takes it
	Host    string // name the TLS certificate must carry
	Relay   string // how results name the server
}

// DeliverTo delivers req to targets, in order, with the same session
// handling as Deliver (cached sessions under key first, TLS policy,
// pipelining, moving recipients a server deferred on to the next
// target). It does not log the results; the lmtp agent uses it.
func (a *Agent) DeliverTo(ctx context.Context, req *deliver.Request, key string, targets []Target) []deliver.Result {
	if len(req.Recipients) == 0 {
		return nil
	}
	w := a.newWalk(req)
	if len(w.pending) == 0 || a.tryCached(ctx, key, w) {
		return w.final()
	}
	for _, t := range targets {
		if w.done(a.cfg, ctx) {
			break
		}
		a.tryTarget(ctx, key, target{host: t.Host, network: t.Network, addr: t.Addr, name: t.Relay}, w)
	}
	return w.final()
}

// tryCached runs a transaction on an idle session for key, if any. A
// session that turns out dead before the content went out is dropped
// and the next one (or a fresh connection) tried; the sender never
// sees the difference. It reports whether every recipient is placed.
func (a *Agent) tryCached(ctx context.Context, key string, w *walk) bool {
	if a.cache == nil {
		return false
	}
	for i := 0; i < a.cfg.MaxCached; i++ { // stale sessions are skipped, bounded
		s := a.cache.get(key)
		if s == nil {
			return false
		}
		t := w.next()
		reusable, err := a.transact(ctx, s, t)
		if err == nil {
			w.sessions++
			a.record(w, t, s)
			a.release(key, s, reusable)
			return w.done(a.cfg, ctx)
		}
		a.cache.counts.broken.Add(1)
		a.log.Debug("cached connection unusable", "queue_id", w.req.QueueID, "relay", s.relay, "err", err)
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

// tryHosts walks the mail exchangers and their addresses until every
// recipient is placed or the limits are spent.
func (a *Agent) tryHosts(ctx context.Context, key string, nh Nexthop, w *walk) {
	hosts, err := a.hosts(ctx, nh)
	if err != nil {
		a.log.Info("next hop lookup failed", "queue_id", w.req.QueueID, "nexthop", key, "err", err)
		w.fail(dns.StatusOf(err), "none")
		return
	}
	for _, h := range hosts {
		addrs, err := a.cfg.Resolver.LookupHost(ctx, h)
		if err != nil {
			a.log.Info("MX host lookup failed", "queue_id", w.req.QueueID, "host", h, "err", err)
			w.fail(dns.StatusOf(err).WithText("cannot find address of mail exchanger "+h), "none")
			continue
		}
		for _, ip := range addrs {
			if w.done(a.cfg, ctx) {
				return
			}
			a.tryTarget(ctx, key, mxTarget(h, netip.AddrPortFrom(ip, uint16(nh.Port))), w)
		}
	}
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
// TLS broke) and runs a transaction for the recipients not yet placed.
func (a *Agent) tryTarget(ctx context.Context, key string, t target, w *walk) {
	if w.tried[t.addr] {
		return // a cached session to it already answered in this attempt
	}
	w.tried[t.addr] = true
	w.tries++
	s, err := a.open(ctx, t, true)
	if errors.Is(err, errTLSFallback) {
		s, err = a.open(ctx, t, false)
	}
	if err != nil {
		var he *hostError
		if !errors.As(err, &he) {
			he = &hostError{ioStatus(t.relay(), "setting up the session", err), err}
		}
		a.log.Info("host failed", "queue_id", w.req.QueueID, "relay", t.relay(), "err", he.err)
		w.fail(he.st, t.relay())
		return
	}
	tx := w.next()
	reusable, err := a.transact(ctx, s, tx)
	w.sessions++
	if err != nil {
		a.log.Info("session failed", "queue_id", w.req.QueueID, "relay", s.relay, "err", err)
		w.fail(ioStatus(s.relay, "sending the envelope", err), s.relay)
		s.close()
		return
	}
	a.record(w, tx, s)
	a.release(key, s, reusable)
}

// record takes a transaction's results into the walk, and logs the
// deferrals another server may still take.
func (a *Agent) record(w *walk, t *tx, s *session) {
	w.record(t, s)
	if n := len(w.pending); n > 0 {
		a.log.Info("server deferred recipients", "queue_id", w.req.QueueID, "relay", s.relay, "recipients", n)
	}
}
