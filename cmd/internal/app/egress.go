package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/egress"
	"github.com/moonpost/moonpost/core/resolve"
)

// newShaper is the egress policy for the queue manager: the scripts'
// "egress" handlers, asked once per destination and generation, with
// MX host names from the daemon's one resolver (and its cache). A
// generation without egress handlers answers nil (the defaults) and
// looks nothing up.
func newShaper(pol *policies, res dns.Resolver) *egress.Cache {
	eng := pol.engine
	hook := func(ctx context.Context, d egress.Dest) (*egress.Policy, error) {
		if !eng.Handles("egress") {
			return nil, nil
		}
		return eng.Egress(ctx, d)
	}
	return &egress.Cache{Hook: hook, Generation: func() int { n, _ := eng.Generation(); return n },
		LookupMX: func(ctx context.Context, domain string) ([]string, error) {
			if !eng.Handles("egress") {
				return nil, nil
			}
			mxs, err := res.LookupMX(ctx, domain)
			hosts := make([]string, len(mxs))
			for i, mx := range mxs {
				hosts[i] = mx.Host
			}
			return hosts, err
		}}
}

// explainEgress is the egress step of moonpost route: the egress hook
// asked afresh (a new cache each time, so the script line that decides
// is traced), its answer as the keys it set.
func explainEgress(pol *policies, res dns.Resolver) func(context.Context, resolve.Destination, string) (string, error) {
	return func(ctx context.Context, d resolve.Destination, tenant string) (string, error) {
		if pol.engine == nil || !pol.engine.Handles("egress") {
			return "", resolve.ErrNoEgress
		}
		p, err := newShaper(pol, res).Policy(ctx, d.Transport, d.Nexthop, tenant)
		if err != nil || p == nil {
			return "", err
		}
		var parts []string
		add := func(k string, v any, set bool) {
			if set {
				parts = append(parts, fmt.Sprintf("%s=%v", k, v))
			}
		}
		add("site", p.Site, p.Site != "")
		add("connection_limit", p.ConnectionLimit, p.ConnectionLimit > 0)
		add("initial_concurrency", p.InitialConcurrency, p.InitialConcurrency > 0)
		add("max_message_rate", p.MaxMessageRate, p.MaxMessageRate.N > 0)
		add("max_connection_rate", p.MaxConnectionRate, p.MaxConnectionRate.N > 0)
		add("max_deliveries_per_connection", p.MaxDeliveriesPerConnection, p.MaxDeliveriesPerConnection > 0)
		add("idle_timeout", p.IdleTimeout, p.IdleTimeout > 0)
		add("tls", p.TLS, p.TLS != "")
		add("source", p.Source, p.Source != "")
		return strings.Join(parts, " "), nil
	}
}
