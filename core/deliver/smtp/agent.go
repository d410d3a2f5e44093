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
	cfg     Config
	log     *slog.Logger
	cache   *connCache // nil when reuse is disabled
	sources *sources
}

var _ deliver.Agent = (*Agent)(nil)

// New builds an Agent. The errors are a missing Resolver (for SMTP) or
// host name, and bad sources or pools.
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	srcs, err := newSources(cfg)
	if err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, sources: srcs}
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
	if err := deliver.CheckOptions(req.Options, OptTLSLevel); err != nil {
		a.log.Error("route refused", "queue_id", req.QueueID, "err", err)
		return deliver.AllResults(n, dsn.ConfigError, "none")
	}
	nh, err := ParseNexthop(req.Nexthop)
	if err != nil {
		a.log.Error("bad next hop", "queue_id", req.QueueID, "err", err)
		return deliver.AllResults(n, badNexthop, "none")
	}
	if a.cfg.Port != 0 && !nh.PortGiven {
		nh.Port = a.cfg.Port
	}
	src, st := a.source(req)
	if st != nil {
		return deliver.AllResults(n, st, "none")
	}
	plan, st := a.plan(ctx, req, nh)
	if st != nil {
		return deliver.AllResults(n, st, "none")
	}
	w := a.newWalk(req, src)
	key := connKey(nh.String(), src, plan.cacheTag())
	if len(w.pending) > 0 && !a.tryCached(ctx, key, w) {
		a.tryHosts(ctx, key, nh, plan, w)
	}
	return w.final()
}

// source is the delivery's source address (nil: any), or the deferral
// of a source the configuration does not define.
func (a *Agent) source(req *deliver.Request) (*Source, *dsn.Status) {
	if req.Egress == nil {
		return nil, nil
	}
	src, err := a.sources.pick(req.Egress.Source)
	if err != nil {
		a.log.Error("egress source refused", "queue_id", req.QueueID, "err", err)
		return nil, badSource
	}
	return src, nil
}

// connKey names the connections a delivery may reuse: same next hop,
// same source, same TLS policy.
func connKey(nexthop string, src *Source, tlsTag string) string {
	from := ""
	if src != nil {
		from = src.Name + "=" + src.Addr.String()
	}
	return nexthop + "\x00" + from + "\x00" + tlsTag
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
	src, st := a.source(req)
	if st != nil {
		return deliver.AllResults(len(req.Recipients), st, "none")
	}
	level, _, err := a.requestedLevel(req)
	if err == nil && level.isDane() {
		err = errors.New("DANE needs MX hosts")
	}
	if err != nil {
		a.log.Error("bad TLS security level", "queue_id", req.QueueID, "err", err)
		return deliver.AllResults(len(req.Recipients), badTLSLevel, "none")
	}
	w := a.newWalk(req, src)
	key = connKey(key, src, level.String())
	if len(w.pending) == 0 || a.tryCached(ctx, key, w) {
		return w.final()
	}
	for _, t := range targets {
		if w.done(a.cfg, ctx) {
			break
		}
		h := hostTLS{level: level, name: level.String(), host: t.Host, domain: t.Host, rptTyp: "no-policy-found"}
		a.tryTarget(ctx, key, target{host: t.Host, network: t.Network, addr: t.Addr, name: t.Relay}, h, w)
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

// release caches a session that may carry another transaction: one
// that has not reached its bound of deliveries.
func (a *Agent) release(key string, s *session, reusable bool) {
	s.uses++
	if reusable && a.cache != nil && (s.maxUses <= 0 || s.uses < s.maxUses) {
		a.cache.put(key, s)
		return
	}
	s.close()
}

// tryHosts walks the mail exchangers and their addresses until every
// recipient is placed or the limits are spent.
func (a *Agent) tryHosts(ctx context.Context, key string, nh Nexthop, plan tlsPlan, w *walk) {
	hosts, secure, err := a.hosts(ctx, nh, plan)
	if err != nil {
		a.log.Info("next hop lookup failed", "queue_id", w.req.QueueID, "nexthop", nh.String(), "err", err)
		w.fail(dns.StatusOf(err), "none")
		return
	}
	plan.dnssec = secure
	for _, h := range hosts {
		addrs, secure, err := a.lookupHost(ctx, h, plan)
		if err != nil {
			a.log.Info("MX host lookup failed", "queue_id", w.req.QueueID, "host", h, "err", err)
			w.fail(dns.StatusOf(err).WithText("cannot find address of mail exchanger "+h), "none")
			continue
		}
		ht, err := a.forHost(ctx, plan, h, nh.Port, secure)
		if err == nil {
			err = a.stsAllows(&ht)
		}
		if err != nil {
			a.hostFailed(w, h, err)
			continue
		}
		for _, ip := range addrs {
			if w.done(a.cfg, ctx) {
				return
			}
			a.tryTarget(ctx, key, mxTarget(h, netip.AddrPortFrom(ip, uint16(nh.Port))), ht, w)
		}
	}
}

// hostFailed records a mail exchanger that its TLS policy rules out.
func (a *Agent) hostFailed(w *walk, host string, err error) {
	var he *hostError
	if !errors.As(err, &he) {
		he = &hostError{dsn.ConfigError, err, ""}
	}
	a.log.Info("host refused by TLS policy", "queue_id", w.req.QueueID, "host", host, "err", he.err)
	w.fail(he.st, host)
	w.last.tls = he.tls
}

// hosts lists the names to connect to, in order, and whether the list
// is DNSSEC validated (a bracketed next hop needs no MX answer).
func (a *Agent) hosts(ctx context.Context, nh Nexthop, plan tlsPlan) ([]string, bool, error) {
	if nh.NoMX {
		return []string{nh.Host}, true, nil
	}
	var mxs []dns.MX
	var secure bool
	var err error
	if sr, ok := a.cfg.Resolver.(dns.SecureResolver); ok && a.cfg.DNSSEC && plan.level.isDane() {
		mxs, secure, err = sr.LookupMXSecure(ctx, nh.Host)
	} else {
		mxs, err = a.cfg.Resolver.LookupMX(ctx, nh.Host)
	}
	if err != nil {
		return nil, false, err
	}
	hosts := make([]string, len(mxs))
	for i, mx := range mxs {
		hosts[i] = mx.Host
	}
	return hosts, secure, nil
}

// lookupHost finds a mail exchanger's addresses, and whether they are
// validated when DANE may use them.
func (a *Agent) lookupHost(ctx context.Context, h string, plan tlsPlan) ([]netip.Addr, bool, error) {
	if sr, ok := a.cfg.Resolver.(dns.SecureResolver); ok && a.cfg.DNSSEC && plan.level.isDane() && plan.dnssec {
		return sr.LookupHostSecure(ctx, h)
	}
	addrs, err := a.cfg.Resolver.LookupHost(ctx, h)
	return addrs, false, err
}

// tryTarget opens a session to t (again in plaintext if opportunistic
// TLS broke) and runs a transaction for the recipients not yet placed.
func (a *Agent) tryTarget(ctx context.Context, key string, t target, h hostTLS, w *walk) {
	if w.tried[t.addr] {
		return // a cached session to it already answered in this attempt
	}
	w.tried[t.addr] = true
	if familyMismatch(w.src, t) {
		a.log.Info("no source address of the server's family", "queue_id", w.req.QueueID, "relay", t.relay(), "source", w.src.Name)
		w.fail(noSourceFamily.WithText("no source address of the family of "+t.relay()), t.relay())
		return
	}
	w.tries++
	s, err := a.open(ctx, t, h, w.src, true)
	if errors.Is(err, errTLSFallback) {
		s, err = a.open(ctx, t, h, w.src, false)
	}
	if err != nil {
		var he *hostError
		if !errors.As(err, &he) {
			he = &hostError{ioStatus(t.relay(), "setting up the session", err), err, ""}
		}
		a.log.Info("host failed", "queue_id", w.req.QueueID, "relay", t.relay(), "err", he.err)
		w.fail(he.st, t.relay())
		w.last.tls = he.tls
		return
	}
	a.limit(s, w.req)
	tx := w.next()
	reusable, err := a.transact(ctx, s, tx)
	w.sessions++
	if err != nil {
		a.log.Info("session failed", "queue_id", w.req.QueueID, "relay", s.relay, "err", err)
		w.fail(ioStatus(s.relay, "sending the envelope", err), s.relay)
		w.last.tls = s.tlsInfo
		s.close()
		return
	}
	a.record(w, tx, s)
	a.release(key, s, reusable)
}

// noSourceFamily defers mail to a server the chosen source cannot reach.
var noSourceFamily = dsn.New(451, "4.4.4", "no source address of the server's address family")

// limit sets a new session's bounds: the egress policy's, else the
// agent's.
func (a *Agent) limit(s *session, req *deliver.Request) {
	s.maxUses, s.maxIdle = a.cfg.MaxDeliveriesPerConnection, 0
	if e := req.Egress; e != nil {
		if e.MaxDeliveriesPerConnection > 0 {
			s.maxUses = e.MaxDeliveriesPerConnection
		}
		s.maxIdle = e.IdleTimeout
	}
}

// record takes a transaction's results into the walk, and logs the
// deferrals another server may still take.
func (a *Agent) record(w *walk, t *tx, s *session) {
	w.record(t, s)
	if n := len(w.pending); n > 0 {
		a.log.Info("server deferred recipients", "queue_id", w.req.QueueID, "relay", s.relay, "recipients", n)
	}
}
