package lmtp

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Nexthop is where an LMTP server listens.
type Nexthop struct {
	Network string // "unix" or "tcp"
	Addr    string // socket path, or "host:port"
}

// ParseNexthop reads "unix:/path/to/socket", "inet:host:port",
// "inet:[2001:db8::1]:24" or "[host]:port". The port is required for
// TCP: LMTP has no well-known port in practice.
func ParseNexthop(s string) (Nexthop, error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		path := s[len("unix:"):]
		if path == "" || strings.ContainsRune(path, 0) {
			return Nexthop{}, fmt.Errorf("lmtp next hop %q: empty socket path", s)
		}
		return Nexthop{Network: "unix", Addr: path}, nil
	case strings.HasPrefix(s, "inet:"):
		return parseHostPort(s, s[len("inet:"):])
	case strings.HasPrefix(s, "["):
		return parseHostPort(s, s)
	}
	return Nexthop{}, fmt.Errorf("lmtp next hop %q: want unix:PATH, inet:HOST:PORT or [HOST]:PORT", s)
}

func parseHostPort(orig, hp string) (Nexthop, error) {
	host, port, err := net.SplitHostPort(hp)
	if err == nil {
		err = checkHost(host)
	}
	if err == nil {
		if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			err = errors.New("bad port")
		}
	}
	if err != nil {
		return Nexthop{}, fmt.Errorf("lmtp next hop %q: %w", orig, err)
	}
	if strings.HasPrefix(strings.ToLower(host), "ipv6:") {
		host = host[len("ipv6:"):]
	}
	return Nexthop{Network: "tcp", Addr: net.JoinHostPort(host, port)}, nil
}

func checkHost(h string) error {
	if h == "" || strings.ContainsAny(h, " \t\r\n/[]\x00") {
		return errors.New("bad host")
	}
	return nil
}

// String is the relay name used in results: "unix:/path" or "host:port".
func (n Nexthop) String() string {
	if n.Network == "unix" {
		return "unix:" + n.Addr
	}
	return n.Addr
}
