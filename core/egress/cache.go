package egress

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Hook is the egress policy: the Lua "egress" handlers. A nil Policy
// with a nil error means no handler decided (the defaults apply).
type Hook func(ctx context.Context, d Dest) (*Policy, error)

// MXLookup returns the MX host names of domain, by preference.
type MXLookup func(ctx context.Context, domain string) ([]string, error)

// Cache asks the Hook once per destination (transport, next hop and
// tenant) and script generation, and hands every later caller the same
// answer. Callers that miss at the same time wait for the one call in
// progress, so a burst of mail to a new domain calls the hook once. An
// error is returned to the callers that waited for it and forgotten.
type Cache struct {
	Hook Hook
	// Generation reports the live script generation (nil: one forever);
	// a new one empties the cache.
	Generation func() int
	// LookupMX, when set, fills Dest.MX for smtp next hops that are
	// domains. A temporary failure (an error with Temporary() true) is
	// the caller's error, so that no policy decided without the MX hosts
	// is cached; any other failure (no such domain, null MX) leaves the
	// next hop's host as the list.
	LookupMX MXLookup
	// Max bounds the destinations remembered (0: DefaultCacheMax); past
	// it the cache starts again empty.
	Max int

	mu      sync.Mutex
	gen     int
	entries map[string]*entry
	calls   int // hook calls made, for tests and the benchmark
}

// DefaultCacheMax is Cache.Max when unset.
const DefaultCacheMax = 100000

type entry struct {
	done chan struct{} // closed when pol and err are set
	pol  *Policy
	err  error
}

// Policy returns the shaping of the destination (nil: the defaults).
// It may run in many goroutines at once, never on the queue manager's.
func (c *Cache) Policy(ctx context.Context, transport, nexthop, tenant string) (*Policy, error) {
	if c == nil || c.Hook == nil {
		return nil, nil
	}
	key := transport + "\x00" + nexthop + "\x00" + tenant
	e, owner := c.lookup(key)
	if !owner {
		select {
		case <-e.done:
			return e.pol, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e.pol, e.err = c.ask(ctx, transport, nexthop, tenant)
	close(e.done)
	if e.err != nil {
		c.forget(key, e)
	}
	return e.pol, e.err
}

// lookup finds or makes the entry of key; owner says the caller must
// fill it.
func (c *Cache) lookup(key string) (e *entry, owner bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := 0
	if c.Generation != nil {
		gen = c.Generation()
	}
	max := c.Max
	if max <= 0 {
		max = DefaultCacheMax
	}
	if c.entries == nil || gen != c.gen || len(c.entries) >= max {
		c.gen, c.entries = gen, map[string]*entry{}
	}
	if e := c.entries[key]; e != nil {
		return e, false
	}
	e = &entry{done: make(chan struct{})}
	c.entries[key] = e
	c.calls++
	return e, true
}

func (c *Cache) forget(key string, e *entry) {
	c.mu.Lock()
	if c.entries[key] == e {
		delete(c.entries, key)
	}
	c.mu.Unlock()
}

// Calls reports how many times the hook was asked.
func (c *Cache) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

func (c *Cache) ask(ctx context.Context, transport, nexthop, tenant string) (*Policy, error) {
	d := Dest{Domain: DomainOf(nexthop), Transport: transport, Nexthop: nexthop, Tenant: tenant}
	d.MX = []string{d.Domain}
	if c.LookupMX != nil && transport == "smtp" && !strings.HasPrefix(strings.TrimSpace(nexthop), "[") {
		mx, err := c.LookupMX(ctx, d.Domain)
		var tmp interface{ Temporary() bool }
		if errors.As(err, &tmp) && tmp.Temporary() {
			return nil, fmt.Errorf("MX lookup for the egress policy of %s: %w", d.Domain, err)
		}
		if err == nil && len(mx) > 0 {
			d.MX = mx
		}
	}
	p, err := c.Hook(ctx, d)
	if err == nil && p != nil {
		err = p.Check()
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}
