package egress

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/moonpost/moonpost/core/rate"
)

// Rate is N events per period ("10/s", "100/min", "1000/h"), in the one
// rate syntax of the configuration and scripts; the zero Rate is none.
type Rate = rate.Rate

// Dest is what the egress policy is told about a destination.
type Dest struct {
	// Domain is the next hop's domain: the recipient domain for delivery
	// to its MX hosts, the host of a "[host]:port" next hop.
	Domain string
	// MX lists the MX host names of Domain, by preference, when the
	// transport is smtp and the next hop is a domain (looked up through
	// the daemon's resolver); otherwise the next hop's host alone.
	MX        []string
	Transport string
	Nexthop   string
	Tenant    string
}

// Policy is the shaping of one destination. Zero values mean "the
// queue manager's default" (queue.destination_concurrency and
// queue.initial_concurrency) or "no limit" for the rates.
type Policy struct {
	// ConnectionLimit bounds the deliveries in flight for the site.
	ConnectionLimit int
	// InitialConcurrency is the starting concurrency window, grown on
	// success and halved on failure up to ConnectionLimit.
	InitialConcurrency int
	// MaxMessageRate bounds the deliveries started for the site.
	MaxMessageRate Rate
	// MaxConnectionRate bounds the deliveries started that need a new
	// connection (see the queue manager's connection model).
	MaxConnectionRate Rate
	// MaxDeliveriesPerConnection and IdleTimeout are passed to the agent
	// and used by the connection model; 0: the defaults.
	MaxDeliveriesPerConnection int
	IdleTimeout                time.Duration
	// TLS is the security level asked of the agent; "" its default.
	TLS string
	// Source is a local address or the name of a source pool; "" any.
	Source string
	// Site names the group of destinations sharing these limits; "" is
	// the destination alone.
	Site string
}

// Keys are the names a policy table may hold, in documentation order.
var Keys = []string{"connection_limit", "initial_concurrency", "max_message_rate", "max_connection_rate",
	"max_deliveries_per_connection", "idle_timeout", "tls", "source", "site"}

// TLSLevels are the values tls may take.
var TLSLevels = []string{"none", "may", "encrypt", "verify", "secure", "dane"}

// maxCount bounds the counts a policy may set: beyond any real limit,
// and far from int overflow.
const maxCount = 100000

// Set decodes one key of a policy table. v is a string, a float64 (Lua
// numbers) or a bool; anything else, an unknown key or a bad value is
// an error naming the key.
func (p *Policy) Set(key string, v any) error {
	var err error
	switch key {
	case "connection_limit":
		p.ConnectionLimit, err = count(v, 1)
	case "initial_concurrency":
		p.InitialConcurrency, err = count(v, 1)
	case "max_deliveries_per_connection":
		p.MaxDeliveriesPerConnection, err = count(v, 1)
	case "max_message_rate":
		p.MaxMessageRate, err = rateOf(v)
	case "max_connection_rate":
		p.MaxConnectionRate, err = rateOf(v)
	case "idle_timeout":
		p.IdleTimeout, err = duration(v)
	case "tls":
		p.TLS, err = oneOf(v, TLSLevels)
	case "source":
		p.Source, err = source(v)
	case "site":
		p.Site, err = name(v)
	default:
		return fmt.Errorf("unknown key %q (want one of %s)", key, strings.Join(Keys, ", "))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// Check reports a policy whose parts disagree.
func (p *Policy) Check() error {
	if p.ConnectionLimit > 0 && p.InitialConcurrency > p.ConnectionLimit {
		return fmt.Errorf("initial_concurrency %d is above connection_limit %d", p.InitialConcurrency, p.ConnectionLimit)
	}
	return nil
}

func count(v any, least int) (int, error) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < float64(least) || f > maxCount {
		return 0, fmt.Errorf("want a whole number from %d to %d, not %s", least, maxCount, show(v))
	}
	return int(f), nil
}

func rateOf(v any) (Rate, error) {
	s, ok := v.(string)
	if !ok {
		return Rate{}, fmt.Errorf(`want a rate such as "10/s", "100/min" or "1000/h", not %s`, show(v))
	}
	r, err := rate.Parse(s)
	if err != nil {
		return Rate{}, fmt.Errorf(`want a rate such as "10/s", "100/min" or "1000/h", not %q`, s)
	}
	return r, nil
}

// duration takes "30s", "5m" (Go syntax) or a number of seconds.
func duration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case float64:
		if x <= 0 || x > 86400 {
			return 0, fmt.Errorf("want seconds from 1 to 86400, not %v", x)
		}
		d = time.Duration(x * float64(time.Second))
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil || d <= 0 || d > 24*time.Hour {
			return 0, fmt.Errorf("want a duration such as \"30s\" up to 24h, not %q", x)
		}
	default:
		return 0, fmt.Errorf("want a duration such as \"30s\", not %s", show(v))
	}
	return d, nil
}

func oneOf(v any, words []string) (string, error) {
	s, _ := v.(string)
	for _, w := range words {
		if s == w {
			return s, nil
		}
	}
	return "", fmt.Errorf("want one of %s, not %s", strings.Join(words, ", "), show(v))
}

// source is an IP address or a pool name.
func source(v any) (string, error) {
	s, ok := v.(string)
	if ok {
		if _, err := netip.ParseAddr(s); err == nil {
			return s, nil
		}
	}
	if n, err := name(v); err == nil {
		return n, nil
	}
	return "", fmt.Errorf("want an IP address or a pool name, not %s", show(v))
}

// name is a site or pool name: letters, digits and ".-_:", 1 to 128.
func name(v any) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" || len(s) > 128 {
		return "", fmt.Errorf("want a name of 1 to 128 letters, digits and .-_:, not %s", show(v))
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_:", r)) {
			return "", fmt.Errorf("want a name of 1 to 128 letters, digits and .-_:, not %q", s)
		}
	}
	return s, nil
}

func show(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case nil:
		return "nil"
	case float64, bool:
		return fmt.Sprint(x)
	}
	return fmt.Sprintf("a %T", v)
}

// DomainOf is the domain of a next hop: "example.com" for
// "example.com", "[mx.example.com]:25" or "mx.example.com:587".
func DomainOf(nexthop string) string {
	h := strings.TrimSpace(nexthop)
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			return strings.ToLower(h[1:i])
		}
	}
	if i := strings.LastIndex(h, ":"); i >= 0 && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
