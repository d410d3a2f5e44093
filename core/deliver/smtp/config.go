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
	"github.com/moonpost/moonpost/core/tlsrpt"
)

// TLSPolicy says when to use STARTTLS, like Postfix's
// smtp_tls_security_level.
type TLSPolicy int

const (
	// TLSMay: STARTTLS when offered, certificate not verified (an
	// unverified channel still beats plaintext against passive snooping).
	// A failed handshake is retried once in plaintext, so a broken TLS
	// stack at the peer delays no mail. This is the default.
	TLSMay TLSPolicy = iota
	// TLSNone: never STARTTLS.
	TLSNone
	// TLSEncrypt: STARTTLS is required and the certificate must verify
	// against TLSConfig.RootCAs (or the system roots) for the MX name;
	// otherwise the host is skipped and mail is deferred.
	TLSEncrypt
)

// String gives the Postfix level name.
func (p TLSPolicy) String() string {
	switch p {
	case TLSMay:
		return "may"
	case TLSNone:
		return "none"
	case TLSEncrypt:
		return "encrypt"
	}
	return fmt.Sprintf("TLSPolicy(%d)", int(p))
}

// ParseTLSPolicy reads a Postfix level name: "none", "may" or
// "encrypt".
func ParseTLSPolicy(s string) (TLSPolicy, error) {
	for _, p := range []TLSPolicy{TLSMay, TLSNone, TLSEncrypt} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("TLS policy %q: want none, may or encrypt", s)
}

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

	TLS TLSPolicy
	// TLSConfig is the base TLS setup (RootCAs, client certificates);
	// ServerName and InsecureSkipVerify are set per connection.
	TLSConfig *tls.Config
	// MTASTS, when set, applies the MTA-STS policy (RFC 8461) of the
	// domain of each MX delivery (sts.go); nil: none.
	MTASTS STSSource
	// TLSReport, when set, hears the TLS outcome of each new session to
	// an MX host, for TLS-RPT (RFC 8460); nil: none.
	TLSReport tlsrpt.Recorder
	// TLSReportSender is the envelope sender of our own TLS reports,
	// whose deliveries are held to no MTA-STS policy and not reported
	// (RFC 8460 §5.3); "" when reports are off.
	TLSReportSender string

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
	// peer's own idle timeout is usually 300s).
	MaxIdle time.Duration
	Clock   dns.Clock    // nil: the system clock; ages cached connections
	Logger  *slog.Logger // nil: slog.Default()
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
		c.Dialer = (&net.Dialer{KeepAlive: -1}).DialContext // command timeouts bound a session
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
