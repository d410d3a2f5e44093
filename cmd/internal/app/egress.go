package app

import (
	"context"

	"github.com/moonpost/moonpost/core/dns"
	"github.com/moonpost/moonpost/core/egress"
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
