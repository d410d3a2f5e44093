package lmtp

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/moonpost/moonpost/core/deliver/smtp"
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Config sets up an Agent. Zero values take the defaults given.
type Config struct {
	Lhlo   string   // name sent with LHLO; default os.Hostname()
	Dialer DialFunc // nil: a net.Dialer
	// ConnectTimeout bounds connecting (default 30s); CommandTimeout each
	// reply before the content, the greeting, LHLO and STARTTLS included
	// (default 300s); DataTimeout sending the content and, separately,
	// each recipient's reply after the final dot (default 600s: a
	// mailbox server may run filters per recipient).
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	DataTimeout    time.Duration
	// TLS is the STARTTLS policy: "none" (the default, as Postfix's
	// lmtp_tls_security_level: LMTP servers are local, and a socket
	// needs no encryption), "may", "encrypt" (certificate not checked),
	// "verify" or "secure" (certificate checked for the next hop's
	// host). The DANE levels need MX hosts, which LMTP has not.
	TLS       string
	TLSConfig *tls.Config // base TLS setup (RootCAs, client certificates)
	// MaxCached bounds idle connections kept for reuse (default 20;
	// negative disables reuse); MaxIdle is how long one is kept
	// (default 5s).
	MaxCached int
	MaxIdle   time.Duration
	// LineLengthLimit: as smtp.Config (default 998, Postfix's
	// lmtp_line_length_limit; negative: off).
	LineLengthLimit int
	Logger          *slog.Logger // nil: slog.Default()
}

func (c Config) withDefaults() (Config, error) {
	if c.Lhlo == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("lmtp: no Lhlo name and no hostname: %w", err)
		}
		c.Lhlo = h
	}
	if c.Dialer == nil {
		c.Dialer = (&net.Dialer{KeepAlive: -1}).DialContext // command timeouts bound a session
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.CommandTimeout <= 0 {
		c.CommandTimeout = 300 * time.Second
	}
	if c.DataTimeout <= 0 {
		c.DataTimeout = 600 * time.Second
	}
	if c.TLS == "" {
		c.TLS = "none"
	}
	if c.MaxCached == 0 {
		c.MaxCached = 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// client is the smtp client's configuration in LMTP mode.
func (c Config) client() (smtp.Config, error) {
	pol, err := smtp.ParseTLSPolicy(c.TLS)
	if err == nil && (pol == smtp.TLSDane || pol == smtp.TLSDaneOnly) {
		err = fmt.Errorf("TLS security level %q needs MX hosts: not for LMTP", c.TLS)
	}
	if err != nil {
		return smtp.Config{}, fmt.Errorf("lmtp: %w", err)
	}
	return smtp.Config{
		LMTP: true, Helo: c.Lhlo, Dialer: smtp.DialFunc(c.Dialer),
		ConnectTimeout: c.ConnectTimeout, HeloTimeout: c.CommandTimeout,
		CommandTimeout: c.CommandTimeout, DataTimeout: c.DataTimeout,
		TLS: pol, TLSConfig: c.TLSConfig, MaxCached: c.MaxCached, MaxIdle: c.MaxIdle,
		LineLengthLimit: c.LineLengthLimit, Logger: c.Logger,
	}, nil
}
