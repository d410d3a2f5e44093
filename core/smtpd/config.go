package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Flow paces arrivals to deliveries (Postfix's in_flow_delay): Wait,
// called before each message is submitted, returns at once while the
// queue keeps up, else after a bounded pause. It never refuses mail.
type Flow interface {
	Wait(ctx context.Context) bool
}

// Submitter is owned by smtpd: the cleanup stage implements it.
//
// Submit reads the message from r until EOF. r carries the Received:
// header smtpd prepends followed by the raw DATA bytes as go-smtp delivers
// them: CRLF line ends, dot-unstuffed, but possibly with bare LF or bare CR
// inside, which cleanup normalises to CRLF. env.ID is already minted (the
// Received: header names it) and must be used as the queue ID.
//
// Submit returns only after the queue file is durably committed (written,
// fsynced, renamed). Any error is sent to the client as the DATA reply via
// dsn.FromError: a *dsn.Status as is, anything else as 451 4.3.0. A read
// error from r (the message was too big, the client went away) must be
// returned, not swallowed.
//
// check, when not nil, is the transaction's DATA policy: the submitter
// runs it once the message is whole, filtered and its authentication
// checked, before its own policy, and refuses the message with the
// Status it returns. Running it there, not in smtpd, is what lets the
// "data" hook see the authentication results, which need the body.
type Submitter interface {
	SubmitSMTP(ctx context.Context, env *queue.Envelope, r io.Reader, check policy.DataCheck) (queue.ID, error)
}

// Domains answers whether a domain is one of a set. The argument is
// lower case, in A-label form, without a trailing dot; address literals
// come as "[192.0.2.1]" or "[IPv6:2001:db8::1]".
type Domains interface {
	Contains(domain string) bool
}

// DomainFunc adapts a function (a config table, a Lua lookup) to Domains.
type DomainFunc func(domain string) bool

// Contains calls f.
func (f DomainFunc) Contains(domain string) bool { return f(domain) }

// DomainSet is a fixed set of domains; NewDomainSet normalises its input.
type DomainSet map[string]struct{}

// NewDomainSet builds a set from names as an operator writes them
// ("Example.COM.", "bücher.example", "[192.0.2.1]").
func NewDomainSet(names ...string) (DomainSet, error) {
	s := DomainSet{}
	for _, n := range names {
		d, err := normDomain(n, true)
		if err != nil {
			return nil, fmt.Errorf("smtpd: bad domain %q", n)
		}
		s[d] = struct{}{}
	}
	return s, nil
}

// Contains reports membership.
func (s DomainSet) Contains(domain string) bool { _, ok := s[domain]; return ok }

// Listener is one listening socket.
type Listener struct {
	Name string // "smtp" or "submission"; shown in logs and policy.Session
	Addr string // host:port, e.g. "127.0.0.1:2525"
	// Submission makes this a mail submission port (RFC 6409): AUTH is
	// offered once the connection is encrypted, and MAIL requires AUTH.
	Submission bool
	// ImplicitTLS wraps the whole connection in TLS (port 465 style).
	ImplicitTLS bool
}

// Config is everything the SMTP server needs; the daemon maps its TOML
// configuration onto it. Zero limits take the Postfix-like defaults.
type Config struct {
	Hostname string // banner and Received: "by"
	// Banner follows the host name in the 220 greeting (Postfix's
	// smtpd_banner after $myhostname); "": go-smtp's "ESMTP Service Ready".
	Banner    string
	Listeners []Listener
	// TLSConfig enables STARTTLS (and ImplicitTLS listeners); nil: no TLS.
	TLSConfig *tls.Config

	LocalDomains Domains // final destinations; nil: none
	RelayDomains Domains // domains we relay to for anyone; nil: none
	// MyNetworks are trusted clients that may relay anywhere.
	MyNetworks []netip.Prefix

	MaxMessageBytes     int64         // default 10240000 (message_size_limit)
	MaxRecipients       int           // per message, default 1000 (smtpd_recipient_limit)
	MaxLineLength       int           // commands and message lines, default 2048 (line_length_limit)
	MaxConnections      int           // overall, default 100
	MaxConnectionsPerIP int           // default 50 (smtpd_client_connection_count_limit)
	IdleTimeout         time.Duration // per read or write, default 300s (smtpd_timeout)
	SessionTimeout      time.Duration // whole connection, default 30 min
	// ShutdownTimeout bounds the drain when Serve's context is cancelled.
	ShutdownTimeout time.Duration // default 10s
	// PolicyTimeout bounds each policy and authentication call.
	PolicyTimeout time.Duration // default 30s

	// Clients that make errors (Postfix's names; see errlimit.go). An
	// error is a 4xx or 5xx reply.
	ErrorSleepTime   time.Duration // pause before each error reply past SoftErrorLimit and after each failed AUTH; default 1s, negative: none (smtpd_error_sleep_time)
	SoftErrorLimit   int           // errors before the pauses start, default 10 (smtpd_soft_error_limit)
	HardErrorLimit   int           // errors that end the session with 421 4.7.0, default 20 (smtpd_hard_error_limit)
	AuthFailureLimit int           // failed AUTH attempts that end the session with 421 4.7.0, default 3

	// QueueMinFree is the free space the queue's file system must keep
	// (queue_minfree): MAIL gets 452 4.3.1 when less is free, or when the
	// declared SIZE does not fit (see diskspace.go). Default 1.5 ×
	// MaxMessageBytes; negative: only the SIZE checks.
	QueueMinFree int64
	// FreeSpace reports the bytes free for the queue; nil: not checked.
	// SpoolFreeSpace is the statfs(2) one.
	FreeSpace func() (int64, error)
	// PostmasterDomain completes a bare RCPT TO:<postmaster> (RFC 5321
	// 4.5.1), which is delivered as postmaster@PostmasterDomain; default
	// Hostname. It should be a local domain.
	PostmasterDomain string

	Policy    policy.SMTP          // nil: AllowAll
	Auth      policy.Authenticator // nil: no AUTH anywhere
	Submitter Submitter            // required
	Flow      Flow                 // nil: arrivals never pause
	Milters   Milters              // nil: none (see milter.go)
	Logger    *slog.Logger         // nil: slog.Default()
	Now       func() time.Time     // nil: time.Now; tests inject a clock

	// Defences under stress, after Postfix's stress mode and anvil(8);
	// see stress.go and anvil.go.
	StressIdleTimeout    time.Duration // IdleTimeout under stress, default 10s (smtpd_timeout = ${stress?10})
	StressSessionTimeout time.Duration // SessionTimeout under stress, default 120s
	ConnectionRateLimit  int           // connections per client per RateTimeUnit; 0: none (smtpd_client_connection_rate_limit)
	AuthFailureRateLimit int           // failed AUTH per client per RateTimeUnit; 0: none
	RateTimeUnit         time.Duration // default 60s (anvil_rate_time_unit)
	// ClientRates, when set, counts ConnectionRateLimit and
	// AuthFailureRateLimit in a throttle the nodes share instead of the
	// node's anvil (clientrate.go).
	ClientRates ClientRates
	// LimitExceptions are the clients that MaxConnectionsPerIP and the
	// rate limits do not apply to (smtpd_client_event_limit_exceptions).
	// nil: MyNetworks, as in Postfix; an empty slice: nobody.
	LimitExceptions []netip.Prefix
	// RateLimits are counted in Throttle (ratelimit.go); none apply
	// when Throttle is nil.
	RateLimits []RateLimit
	Throttle   Throttle
	shedGrace  time.Duration // tests shorten it; see stress.go
}

// withDefaults validates c and returns a copy with defaults filled in.
func (c Config) withDefaults() (Config, error) {
	if c.Submitter == nil {
		return c, errors.New("smtpd: Config.Submitter is required")
	}
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \r\n") {
		return c, errors.New("smtpd: Config.Hostname must be a host name")
	}
	if len(c.Listeners) == 0 {
		return c, errors.New("smtpd: no listeners")
	}
	if strings.ContainsAny(c.Banner, "\r\n") || len(c.Banner) > 400 {
		return c, errors.New("smtpd: the banner must be one line of at most 400 characters")
	}
	for _, l := range c.Listeners {
		if l.ImplicitTLS && c.TLSConfig == nil {
			return c, fmt.Errorf("smtpd: listener %s: ImplicitTLS needs TLSConfig", l.Name)
		}
	}
	setDefault(&c.MaxMessageBytes, 10240000)
	setDefault(&c.MaxRecipients, 1000)
	setDefault(&c.MaxLineLength, 2048)
	setDefault(&c.MaxConnections, 100)
	setDefault(&c.MaxConnectionsPerIP, 50)
	c.stressDefaults()
	setDefault(&c.IdleTimeout, 300*time.Second)
	setDefault(&c.SessionTimeout, 30*time.Minute)
	setDefault(&c.ShutdownTimeout, 10*time.Second)
	setDefault(&c.PolicyTimeout, 30*time.Second)
	if c.ErrorSleepTime == 0 {
		c.ErrorSleepTime = time.Second
	}
	setDefault(&c.SoftErrorLimit, 10)
	setDefault(&c.HardErrorLimit, 20)
	setDefault(&c.AuthFailureLimit, 3)
	if c.QueueMinFree == 0 {
		c.QueueMinFree = c.MaxMessageBytes / 2 * 3
	}
	if c.PostmasterDomain == "" {
		c.PostmasterDomain = c.Hostname
	}
	pd, err := normDomain(c.PostmasterDomain, true)
	if err != nil {
		return c, fmt.Errorf("smtpd: bad PostmasterDomain %q", c.PostmasterDomain)
	}
	c.PostmasterDomain = pd
	if c.Policy == nil {
		c.Policy = AllowAll{}
	}
	if c.LocalDomains == nil {
		c.LocalDomains = DomainSet{}
	}
	if c.RelayDomains == nil {
		c.RelayDomains = DomainSet{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}

// trusted reports whether ip is in MyNetworks.
func (c *Config) trusted(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range c.MyNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
