package resolve

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/moonpost/moonpost/core/policy"
	"github.com/moonpost/moonpost/core/queue"
)

// Destination is where one recipient goes.
type Destination struct {
	Transport string // an agent name: smtp, lmtp, local, pipe, discard, error
	Nexthop   string // transport-specific, see deliver.Request.Nexthop
	Options   map[string]string
	// Generation is the script generation that chose the route (0: the
	// Go default without scripts); it is not part of Key.
	Generation int
}

// Key groups recipients that can share a delivery. A request carries
// one set of options for all its recipients, so routes that differ only
// in options (two mailboxes of one domain) are never batched together.
// The price: each such route is also its own destination for the queue
// manager's concurrency window, which for local delivery is Postfix's
// own choice (one destination per recipient).
func (d Destination) Key() string {
	key := d.Transport + ":" + d.Nexthop
	if len(d.Options) == 0 {
		return key
	}
	names := make([]string, 0, len(d.Options))
	for k := range d.Options {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		key += "\x00" + k + "=" + d.Options[k]
	}
	return key
}

// Resolver checks and normalises the router's decisions.
type Resolver struct {
	Router policy.Router
	// Transports lists the agents that exist; a route to anything else
	// defers the recipient.
	Transports map[string]bool
	// Default routes what Router leaves undecided (a route without a
	// transport), and everything when Router is nil.
	Default Static
	// Cache, when set, remembers checked decisions (see Cache); only for
	// a Router that fills policy.Route.Reads truthfully.
	Cache *Cache
}

// Resolve decides the destination of rcpt. It may run in many goroutines
// at once.
func (r *Resolver) Resolve(ctx context.Context, rcpt string, env *queue.Envelope) (Destination, error) {
	if r.Cache != nil {
		if d, ok := r.Cache.get(rcpt, env); ok {
			return d, nil
		}
	}
	route, err := r.route(ctx, rcpt, env)
	if err != nil {
		return Destination{}, err
	}
	d, err := r.check(rcpt, route)
	if err == nil && r.Cache != nil {
		r.Cache.put(rcpt, env, route.Reads, d)
	}
	return d, err
}

// route asks the Router, then the Default for what it left undecided.
func (r *Resolver) route(ctx context.Context, rcpt string, env *queue.Envelope) (policy.Route, error) {
	var route policy.Route
	if r.Router != nil {
		var err error
		if route, err = r.Router.Route(ctx, rcpt, env); err != nil {
			return policy.Route{}, err
		}
	}
	if route.Transport != "" {
		return route, nil
	}
	reads, gen := route.Reads, route.Generation // what the scripts read before declining
	route, err := r.Default.Route(ctx, rcpt, env)
	route.Reads, route.Generation = reads, gen
	return route, err
}

// check normalises and checks one decision of the router.
func (r *Resolver) check(rcpt string, route policy.Route) (Destination, error) {
	d := Destination{Transport: strings.ToLower(route.Transport), Nexthop: route.Nexthop, Options: route.Options, Generation: route.Generation}
	if d.Transport == "relay" {
		d.Transport = "smtp"
	}
	if !r.Transports[d.Transport] {
		return Destination{}, fmt.Errorf("mail transport unavailable: %q", route.Transport)
	}
	if d.Nexthop == "" && (d.Transport == "smtp" || d.Transport == "lmtp") {
		return Destination{}, fmt.Errorf("transport %s without a next hop for %s", d.Transport, rcpt)
	}
	if strings.ContainsAny(d.Nexthop, "\r\n\x00") {
		return Destination{}, fmt.Errorf("next hop with control characters for %s", rcpt)
	}
	return d, nil
}

// Static is the one Go default route, Postfix's behaviour out of the
// box, used when no transport script decides: bare names and mydestination
// domains go to local; everything else, relay_domains included, goes to
// the relayhost when one is set, else over SMTP to the MX of the
// recipient's domain. relay_domains needs no case of its own: Postfix's
// relay_transport takes its next hop from relayhost, then the recipient
// domain, exactly as the default transport does, and its "relay" agent
// is smtp here.
type Static struct {
	IsLocal   func(domain string) bool // mydestination; nil: none
	RelayHost string                   // "[host]:port" or "" for MX delivery
}

// Route implements policy.Router.
func (s Static) Route(_ context.Context, rcpt string, _ *queue.Envelope) (policy.Route, error) {
	_, domain := Split(rcpt)
	switch {
	case domain == "" || (s.IsLocal != nil && s.IsLocal(domain)):
		return policy.Route{Transport: "local", Nexthop: domain}, nil
	case s.RelayHost != "":
		return policy.Route{Transport: "smtp", Nexthop: s.RelayHost}, nil
	}
	return policy.Route{Transport: "smtp", Nexthop: domain}, nil
}

// Split returns the local part and the lower-cased domain (without a
// trailing dot) of addr. The domain starts after the last "@" outside
// quotes, so a quoted local part may hold "@".
func Split(addr string) (local, domain string) {
	at := lastAt(addr)
	if at < 0 {
		return addr, ""
	}
	return addr[:at], strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
}

func lastAt(addr string) int {
	quoted, at := false, -1
	for i := 0; i < len(addr); i++ {
		switch addr[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case '@':
			if !quoted {
				at = i
			}
		}
	}
	return at
}
