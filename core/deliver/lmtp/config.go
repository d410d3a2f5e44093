package lmtp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"
)

// DialFunc opens a connection, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Config sets up an Agent. Zero values take the defaults given.
type Config struct {
	Lhlo   string   // name sent with LHLO; default os.Hostname()
	Dialer DialFunc // nil: a net.Dialer
	// ConnectTimeout bounds connecting (default 30s); CommandTimeout each
	// reply before the content, the greeting included (default 300s);
	// DataTimeout sending the content and, separately, waiting for all
	// the replies after the final dot (default 600s: a mailbox server
	// may run filters per recipient).
	ConnectTimeout time.Duration
	CommandTimeout time.Duration
	DataTimeout    time.Duration
	Logger         *slog.Logger // nil: slog.Default()
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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
