package smtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/moonpost/moonpost/core/dns"
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Config sets up an Agent. Zero durations and counts take the defaults
// given, which follow Postfix's smtp_*_timeout settings.
type Config struct {
	Helo     string       // name for EHLO/HELO (LHLO); default os.Hostname()
	Resolver dns.Resolver // required, except for LMTP
	// LMTP speaks LMTP (RFC 2033): LHLO instead of EHLO, and one reply
	// per accepted recipient after the final dot. Set by the lmtp agent,
	// which finds its servers itself (Agent.DeliverTo).
	LMTP   bool
	Dialer DialFunc // nil: a net.Dialer
	// Port, when not 0, is the port used for destinations that name
	// none (MX hosts, "[host]" without ":port"), like the port of
	// Postfix's smtp service. Tests use it to reach MX hosts on
	// 127.0.0.x at a test listener's port.
	Port int

	ConnectTimeout time.Duration // TCP connect (default 30s)
	// HeloTimeout bounds the greeting, EHLO/HELO and STARTTLS exchange,
	// each reply separately (default 300s).
	HeloTimeout time.Duration
	// CommandTimeout bounds each reply to MAIL, RCPT, DATA, RSET
	// (default 300s).
	CommandTimeout time.Duration
	// DataTimeout bounds sending the content and, separately, the reply
	// to the final dot (default 600s).
	DataTimeout time.Duration

	// TLS is the default TLS security level (TLSUnset: TLSMay), as
	// Postfix's smtp_tls_security_level. A route's tls_security_level
	// option, then the egress policy's TLS, override it per delivery.
	TLS TLSPolicy
	// TLSConfig is the base TLS setup (RootCAs, client certificates);
	// ServerName and the verification are set per connection. RootCAs
	// nil verifies against the system roots.
	TLSConfig *tls.Config
	// DNSSEC trusts the AD bit of the resolver's answers, as Postfix's
	// smtp_dns_support_level = dnssec: the configured servers validate
	// and the path to them is safe (a resolver on the loopback). It
	// makes the DANE levels possible; Resolver must then be a
	// dns.SecureResolver. Without it dane acts as may and dane-only
	// defers.
	DNSSEC bool
	// Policy, when set, is asked for a domain's external TLS policy
	// (MTA-STS); see PolicyFunc.
	Policy PolicyFunc
	// Report, when set, receives the TLS outcome of sessions (TLS-RPT);
	// see ReportFunc.
	Report ReportFunc
	// TLSReportSender is the envelope sender of the daemon's own TLS
	// reports ("" when it sends none). Their deliveries skip Policy,
	// take the opportunistic dane level as may, and are not reported
	// (RFC 8460 section 5.3); a mandatory level set for the
	// destination still applies.
	TLSReportSender string

	// Sources are the local addresses mail may be sent from, each with
	// its EHLO name; Pools group them. The egress policy picks one per
	// delivery (deliver.Egress.Source); without one the system picks
	// the address and Helo is said.
	Sources []Source
	Pools   []Pool

	// MaxAddresses bounds the addresses tried per delivery over all MX
	// hosts (default 5, Postfix's smtp_mx_address_limit).
	MaxAddresses int
	// MXSessionLimit bounds the sessions per delivery that get as far as
	// a mail transaction (default 2, Postfix's smtp_mx_session_limit;
	// negative: no limit). A server's 4xx to MAIL, RCPT, DATA or the
	// final dot moves the recipients it deferred on to the next address
	// while this allows.
	MXSessionLimit int
	// LineLengthLimit is the longest line of content sent, CRLF not
	// counted; longer header and body lines are broken with CRLF SPACE
	// (default DefaultLineLengthLimit, Postfix's smtp_line_length_limit;
	// negative sends lines as they are).
	LineLengthLimit int
	// MaxCached bounds idle connections kept for reuse, over all next
	// hops (default 100, as many as the queue manager's default
	// deliveries at once: fewer made concurrent deliveries to one busy
	// next hop close and reopen connections all the time; negative
	// disables reuse).
	MaxCached int
	// MaxIdle is how long an idle connection is kept (default 5s; the
	// peer's own idle timeout is usually 300s); the egress policy's
	// IdleTimeout overrides it per destination.
	MaxIdle time.Duration
	// MaxDeliveriesPerConnection bounds the transactions on one
	// connection before it is closed (0: no bound, as Postfix's
	// smtp_connection_reuse_count_limit); the egress policy's
	// MaxDeliveriesPerConnection overrides it per destination.
	MaxDeliveriesPerConnection int
	Clock                      dns.Clock    // nil: the system clock; ages cached connections
	Logger                     *slog.Logger // nil: slog.Default()
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// withDefaults fills zero fields.
func (c Config) withDefaults() (Config, error) {
	if c.Resolver == nil && !c.LMTP {
		return c, fmt.Errorf("smtp: Config.Resolver is required")
	}
	if c.Helo == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("smtp: no Helo name and no hostname: %w", err)
		}
		c.Helo = h
	}
	if c.Dialer == nil {
		c.Dialer = dialFrom
	}
	if c.TLS == TLSUnset {
		c.TLS = TLSMay
	}
	if c.DNSSEC {
		if _, ok := c.Resolver.(dns.SecureResolver); !ok {
			return c, fmt.Errorf("smtp: DNSSEC needs a resolver that reports validated answers")
		}
	}
	setDur(&c.ConnectTimeout, 30*time.Second)
	setDur(&c.HeloTimeout, 300*time.Second)
	setDur(&c.CommandTimeout, 300*time.Second)
	setDur(&c.DataTimeout, 600*time.Second)
	setDur(&c.MaxIdle, 5*time.Second)
	if c.MaxAddresses <= 0 {
		c.MaxAddresses = 5
	}
	if c.MXSessionLimit == 0 {
		c.MXSessionLimit = 2
	}
	if c.LineLengthLimit == 0 {
		c.LineLengthLimit = DefaultLineLengthLimit
	}
	if c.MaxCached == 0 {
		c.MaxCached = 100
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

func setDur(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}
