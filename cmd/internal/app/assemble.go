package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/moonpost/moonpost/core/bounce"
	"github.com/moonpost/moonpost/core/cleanup"
	"github.com/moonpost/moonpost/core/config"
	"github.com/moonpost/moonpost/core/deliver"
	"github.com/moonpost/moonpost/core/deliver/discard"
	"github.com/moonpost/moonpost/core/deliver/lmtp"
	"github.com/moonpost/moonpost/core/deliver/local"
	"github.com/moonpost/moonpost/core/deliver/pipe"
	smtpc "github.com/moonpost/moonpost/core/deliver/smtp"
	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/pickup"
	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/qmgr"
	"github.com/moonpost/moonpost/core/queue"
	"github.com/moonpost/moonpost/core/rate"
	"github.com/moonpost/moonpost/core/resolve"
	"github.com/moonpost/moonpost/core/smtpd"
	"github.com/moonpost/moonpost/core/throttle"
	"github.com/moonpost/moonpost/core/tlsrpt"
	"github.com/moonpost/moonpost/core/webhook"
	"github.com/moonpost/moonpost/hooks"
)

// services is the running daemon's parts.
type services struct {
	smtpd  *smtpd.Server
	pickup *pickup.Service
	qmgr   *qmgr.Manager
	clean  *cleanup.Cleanup
	engine *hooks.Engine      // the Lua policy, for the REPL's hooks module
	route  *resolve.Explainer // moonpost route over the control socket
	dns    dns.Resolver       // the one resolver, for candidate scripts too
	closer func()             // releases what policy holds
	// reloader re-reads the configuration (reload.go); set by run.
	reloader *reloader
	sinks    []*webhook.Sink // [[webhook]] sinks, for /metrics
	tlsrpt   *tlsrpt.Service // TLS reports; nil when [tlsrpt] is off
}

// policies are the operator decisions the engine calls.
type policies struct {
	smtp     policy.SMTP
	auth     policy.Authenticator
	cleanup  policy.Cleanup
	rewriter policy.Rewriter
	aliases  policy.Aliases
	router   policy.Router
	events   policy.Events
	engine   *hooks.Engine
	close    func()
}

// role names the service a logger's lines come from ("smtpd", "qmgr"):
// the syslog format writes it as moonpost/ROLE[pid], as Postfix's
// daemons do, and the other formats carry it as the "service" attribute.
func role(log *slog.Logger, name string) *slog.Logger { return log.With(slog.String("service", name)) }

// inFlowLimit × queue.max_deliveries is how many messages the queue
// manager may hold before new mail is paced (qmgr.Flow): a full pipeline
// for every delivery slot, twice over.
const inFlowLimit = 2

func assemble(cfg *config.Config, store *queue.Store, log *slog.Logger) (*services, error) {
	res := newResolver(cfg, log) // the one DNS resolver and cache
	pol, err := scriptPolicies(cfg, res, log)
	if err != nil {
		return nil, err
	}
	mgr := &qmgr.Manager{Store: store, Events: pol.events, Log: role(log, "qmgr"), Config: qmgrConfig(cfg),
		Flow: qmgr.NewFlow(inFlowLimit*cfg.Queue.MaxDeliveries, cfg.Queue.InFlowDelay.D())}
	mgr.Init()
	if mgr.Classes, err = bounceClassifier(cfg); err != nil {
		return nil, err
	}
	signer, err := buildSigner(cfg, log)
	if err != nil {
		return nil, err
	}
	clean := &cleanup.Cleanup{Store: store, Hostname: cfg.Hostname, SizeLimit: cfg.SMTPD.MessageSizeLimit,
		HeaderLimit: cfg.SMTPD.HeaderSizeLimit, Policy: pol.cleanup, Rewriter: rewriter(cfg, pol.rewriter), NotifyTenant: mgr.WakeTenant, Handoff: mgr, Log: role(log, "cleanup"),
		DKIM: signer, Verify: buildVerifier(cfg, res, log)}
	milters, err := buildMilters(cfg, pol, log)
	if err != nil {
		return nil, err
	}
	if milters != nil {
		clean.Filter = milters
	}
	out := newOutboundTLS(cfg, res, clean, log)
	agents, err := buildAgents(cfg, pol, clean, res, out, log)
	if err != nil {
		return nil, err
	}
	transports := map[string]bool{}
	for name := range agents {
		transports[name] = true
	}
	mgr.Agents = agents
	rcpts := newRecipientResolver(cfg, pol, transports)
	mgr.Resolver = rcpts
	mgr.Egress = newShaper(pol, res)
	mgr.Rates = egressGate(pol)
	mgr.Notifier = &bounce.Service{Hostname: cfg.Hostname, Postmaster: cfg.Postmaster,
		RetryFor: cfg.Queue.MaxLifetime.D(), Submitter: clean, Log: role(log, "bounce")}
	srv, err := buildSMTPD(cfg, pol, clean, milterConfig(milters), mgr.Flow, role(log, "smtpd"))
	if err != nil {
		return nil, err
	}
	pick := &pickup.Service{Store: store, Cleanup: clean, ScanInterval: cfg.Pickup.ScanInterval.D(),
		MaxSize: cfg.Pickup.MaxSize, MaxRcpts: cfg.SMTPD.RecipientLimit, Flow: mgr.Flow, Log: role(log, "pickup")}
	sinks, err := startWebhooks(cfg, log)
	if err != nil {
		return nil, err
	}
	mgr.Events = withSinks(pol.events, sinks)
	closer := func() { closeSinks(sinks); pol.close() }
	return &services{smtpd: srv, pickup: pick, qmgr: mgr, clean: clean, engine: pol.engine, closer: closer, sinks: sinks,
		route: newExplainer(cfg, clean, rcpts, pol.engine, res), dns: res, tlsrpt: out.report}, nil
}

// newRecipientResolver is the trivial-rewrite role: the transport
// scripts, then the Go default (mydestination, relayhost) for what they
// leave undecided, checked, and cached per script generation.
func newRecipientResolver(cfg *config.Config, pol *policies, transports map[string]bool) *resolve.Resolver {
	return &resolve.Resolver{Router: pol.router, Transports: transports,
		Default: resolve.Static{IsLocal: cfg.IsLocal, RelayHost: cfg.RelayHost},
		Cache:   &resolve.Cache{Generation: func() int { n, _ := pol.engine.Generation(); return n }}}
}

// rewriter is the address rewriting of cleanup: myorigin for bare names
// (the Go default, Postfix's append_at_myorigin), then the scripts.
func rewriter(cfg *config.Config, scripts policy.Rewriter) policy.Rewriter {
	return cleanup.Chain{cleanup.AppendOrigin{Origin: cfg.Origin}, scripts}
}

func qmgrConfig(cfg *config.Config) qmgr.Config {
	q := cfg.Queue
	return qmgr.Config{
		MinBackoff: q.MinBackoff.D(), MaxBackoff: q.MaxBackoff.D(), MaxLifetime: q.MaxLifetime.D(),
		BounceLifetime: q.BounceLifetime.D(), DelayWarning: q.DelayWarning.D(), ScanInterval: q.ScanInterval.D(),
		ActiveLimit: q.ActiveLimit, Concurrency: q.Concurrency, InitConcurrency: q.InitConcurrency,
		RcptLimit: q.RcptLimit, TransportRcpts: map[string]int{"local": 1, "pipe": 1},
		DeliveryTimeout: q.DeliveryTimeout.D(), MaxDeliveries: q.MaxDeliveries,
		Rules: cfg.EgressRules(),
	}
}

func buildAgents(cfg *config.Config, pol *policies, clean *cleanup.Cleanup, res dns.Resolver, out outboundTLS, log *slog.Logger) (map[string]deliver.Agent, error) {
	loc, err := local.New(local.Config{
		Aliases: pol.aliases, Forwarder: cleanup.Forwarder{Cleanup: clean}, Mailbox: cfg.Local.Mailbox,
		LocalDomains: cfg.Destinations, RecipientDelimiter: cfg.Local.RecipientDelimiter,
		AllowFileDirs: cfg.Local.AllowFileDirs, IncludeDirs: cfg.Local.IncludeDirs, MailboxDirs: cfg.Local.MailboxDirs, Commands: permit(cfg.Local.AllowCommands), Files: local.PermitAliases,
		CommandTimeout: cfg.Local.CommandTimeout.D(), Hostname: cfg.Hostname, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("local delivery: %w", err)
	}
	generic, err := pipe.New(pipe.Config{Name: "pipe", NexthopArgv: true, Logger: log})
	if err != nil {
		return nil, err
	}
	agents := map[string]deliver.Agent{
		"local": loc, "pipe": generic,
		"discard": &discard.Agent{Logger: log}, "error": &discard.ErrorAgent{Logger: log},
	}
	for name, p := range cfg.Pipes {
		a, err := pipe.New(pipe.Config{Name: name, Argv: p.Argv, Timeout: p.Timeout.D(), SizeLimit: p.SizeLimit,
			RecipientLimit: p.RecipientLimit, CRLF: p.CRLF, User: p.User, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("pipe.%s: %w", name, err)
		}
		agents[name] = a
	}
	if err := addNetworkAgents(agents, cfg, res, out, log); err != nil {
		return nil, err
	}
	return agents, nil
}

func permit(on bool) local.Permit {
	if on {
		return local.PermitAliases
	}
	return local.PermitNone
}

func buildSMTPD(cfg *config.Config, pol *policies, clean *cleanup.Cleanup, milters smtpd.Milters, flow smtpd.Flow, log *slog.Logger) (*smtpd.Server, error) {
	c := smtpd.Config{
		Hostname:     cfg.Hostname,
		LocalDomains: smtpd.DomainFunc(cfg.IsLocal), RelayDomains: smtpd.DomainFunc(cfg.IsRelay),
		MyNetworks: cfg.Networks(), MaxMessageBytes: cfg.SMTPD.MessageSizeLimit,
		MaxRecipients: cfg.SMTPD.RecipientLimit,
		Policy:        pol.smtp, Auth: pol.auth, Submitter: clean, Flow: flow, Milters: milters, Logger: log,
		FreeSpace:        smtpd.SpoolFreeSpace(cfg.SpoolDir),
		PostmasterDomain: postmasterDomain(cfg),
		RateTimeUnit:     cfg.SMTPD.RateTimeUnit.D(),
		Throttle:         engineThrottle(pol),
		ClientRates:      clientRates(pol),
	}
	if err := smtpdSettings(&c, cfg); err != nil {
		return nil, err
	}
	return smtpd.New(c)
}

// smtpdSettings sets the [smtpd] settings a reload may change (see
// liveSMTPD) from cfg; the daemon's start and each reload call it.
func smtpdSettings(c *smtpd.Config, cfg *config.Config) error {
	tlsCfg, err := loadTLS(cfg)
	if err != nil {
		return err
	}
	c.TLSConfig, c.MaxLineLength, c.Banner = tlsCfg, cfg.SMTPD.LineLengthLimit, cfg.SMTPD.Banner
	c.MaxConnections, c.MaxConnectionsPerIP = cfg.SMTPD.MaxConnections, cfg.SMTPD.MaxPerClient
	c.IdleTimeout, c.SessionTimeout = cfg.SMTPD.IdleTimeout.D(), cfg.SMTPD.SessionTimeout.D()
	c.ErrorSleepTime, c.SoftErrorLimit = sleepOrNone(cfg.SMTPD.ErrorSleepTime.D()), cfg.SMTPD.SoftErrorLimit
	c.HardErrorLimit, c.AuthFailureLimit = cfg.SMTPD.HardErrorLimit, cfg.SMTPD.AuthFailureLimit
	c.QueueMinFree = cfg.SMTPD.QueueMinFree
	c.StressIdleTimeout, c.StressSessionTimeout = cfg.SMTPD.StressIdleTimeout.D(), cfg.SMTPD.StressSessionTimeout.D()
	c.ConnectionRateLimit, c.AuthFailureRateLimit = cfg.SMTPD.ConnRateLimit, cfg.SMTPD.AuthFailRateLimit
	c.LimitExceptions, c.RateLimits = cfg.LimitExceptions(), rateLimits(cfg)
	c.Listeners = nil
	for _, a := range cfg.SMTPD.Listen {
		c.Listeners = append(c.Listeners, smtpd.Listener{Name: "smtp", Addr: a})
	}
	for _, a := range cfg.SMTPD.SubmissionListen {
		c.Listeners = append(c.Listeners, smtpd.Listener{Name: "submission", Addr: a, Submission: true})
	}
	return nil
}

// rateLimits converts [[smtpd.rate_limit]]; config validation already
// checked every rate.
func rateLimits(cfg *config.Config) []smtpd.RateLimit {
	var out []smtpd.RateLimit
	for _, r := range cfg.SMTPD.RateLimits {
		rt, _ := rate.Parse(r.Rate)
		out = append(out, smtpd.RateLimit{Per: r.Per, Count: r.Count, Rate: rt, Local: r.Local})
	}
	return out
}

// engineThrottle is the scripts' throttle, shared through [redis] when
// it is configured, so the engine's limits and the scripts' count alike.
func engineThrottle(pol *policies) smtpd.Throttle {
	if pol.engine == nil || pol.engine.Throttle() == nil {
		return nil
	}
	return limiterThrottle{pol.engine.Throttle()}
}

// limiterThrottle is smtpd's view of the throttle.
type limiterThrottle struct{ l *throttle.Limiter }

func (t limiterThrottle) Allow(ctx context.Context, key string, r rate.Rate, local bool) (bool, time.Duration, error) {
	if local {
		key = throttle.LocalPrefix + key
	}
	res, err := t.l.Check(ctx, key, r)
	return res.Allowed, res.RetryAfter, err
}

// clientRates shares smtpd's per-client connection and failed-AUTH
// rates through the throttle when [redis] is set; nil (smtpd's own
// node-local anvil) when it is not.
func clientRates(pol *policies) smtpd.ClientRates {
	if pol.engine == nil || pol.engine.Throttle() == nil || !pol.engine.Throttle().Shared() {
		return nil
	}
	return limiterThrottle{pol.engine.Throttle()}
}

func (t limiterThrottle) Peek(ctx context.Context, key string, r rate.Rate) (bool, time.Duration, error) {
	res, err := t.l.Peek(ctx, key, r)
	return res.Allowed, res.RetryAfter, err
}

// egressGate shares the egress rates of destinations and sites through
// the throttle when [redis] is set; nil (node-local pacing only) when
// it is not.
func egressGate(pol *policies) qmgr.RateGate {
	if pol.engine == nil || pol.engine.Throttle() == nil || !pol.engine.Throttle().Shared() {
		return nil
	}
	return sharedGate{pol.engine.Throttle()}
}

// sharedGate is the queue manager's view of the throttle.
type sharedGate struct{ l *throttle.Limiter }

func (g sharedGate) Allow(ctx context.Context, key string, r rate.Rate) (bool, time.Duration, error) {
	res, err := g.l.Check(ctx, key, r)
	return res.Allowed, res.RetryAfter, err
}

// sleepOrNone maps the configured "0" (no pause) to smtpd's negative.
func sleepOrNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// postmasterDomain completes a bare RCPT TO:<postmaster>, as Postfix
// appends myorigin: myhostname when it is local, else the first local
// domain, so the mail stays here.
func postmasterDomain(cfg *config.Config) string {
	if cfg.IsLocal(cfg.Hostname) || len(cfg.Destinations) == 0 {
		return cfg.Hostname
	}
	return cfg.Destinations[0]
}

// addNetworkAgents adds the smtp and lmtp clients; smtp's MX lookups go
// through res, the resolver (and cache) the scripts use too.
func addNetworkAgents(agents map[string]deliver.Agent, cfg *config.Config, res dns.Resolver, out outboundTLS, log *slog.Logger) error {
	scfg := smtpc.Config{Helo: cfg.SMTP.HeloName, Resolver: res, Port: cfg.SMTP.Port,
		ConnectTimeout: cfg.SMTP.ConnectTimeout.D(), CommandTimeout: cfg.SMTP.CommandTimeout.D(),
		HeloTimeout: cfg.SMTP.HeloTimeout.D(), DataTimeout: cfg.SMTP.DataTimeout.D(),
		MaxCached: cfg.Queue.MaxDeliveries, Logger: log,
		LineLengthLimit: lineLimit(cfg.SMTP.LineLengthLimit),
		MXSessionLimit:  noLimit(cfg.SMTP.MXSessionLimit, -1), MaxAddresses: noLimit(cfg.SMTP.MXAddressLimit, 1<<30)}
	if err := smtpTLS(&scfg, cfg); err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	out.wire(&scfg)
	sc, err := smtpc.New(scfg)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	lc, err := lmtp.New(lmtp.Config{Lhlo: cfg.SMTP.HeloName, ConnectTimeout: cfg.SMTP.ConnectTimeout.D(),
		CommandTimeout: cfg.SMTP.CommandTimeout.D(), DataTimeout: cfg.SMTP.DataTimeout.D(), Logger: log,
		TLS: cfg.SMTP.LMTPTLS, TLSConfig: scfg.TLSConfig, MaxCached: cfg.Queue.MaxDeliveries, LineLengthLimit: lineLimit(cfg.SMTP.LineLengthLimit)})
	if err != nil {
		return fmt.Errorf("lmtp client: %w", err)
	}
	agents["smtp"], agents["lmtp"] = sc, lc
	return nil
}

// lineLimit maps smtp.line_length_limit (0 off) to the agent's setting
// (negative off, 0 the default).
func lineLimit(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// noLimit maps a Postfix-style 0 ("no limit") to the agent's spelling.
func noLimit(n, unlimited int) int {
	if n == 0 {
		return unlimited
	}
	return n
}
