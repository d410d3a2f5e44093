package smtp

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// Source is a local address outbound connections may be bound to, with
// the name said in EHLO from it (the name its PTR record should give).
type Source struct {
	Name string
	Addr netip.Addr
	Helo string // "": Config.Helo
}

// Pool is a named group of sources; each delivery through the pool
// takes the next source in weighted round-robin order.
type Pool struct {
	Name    string
	Sources []string // names of Config.Sources
	// Weights, when set, has one positive weight per source: a source of
	// weight 2 takes twice the connections of one of weight 1.
	Weights []int
}

// sources resolves deliver.Egress.Source: a source or pool name, or a
// literal address.
type sources struct {
	byName map[string]*Source
	byAddr map[netip.Addr]*Source
	pools  map[string]*pool
	helo   string
}

// pool is a Pool ready to pick from: each source listed as often as its
// weight, taken in turn.
type pool struct {
	order []*Source
	next  atomic.Uint64
}

func newSources(cfg Config) (*sources, error) {
	s := &sources{byName: map[string]*Source{}, byAddr: map[netip.Addr]*Source{}, pools: map[string]*pool{}, helo: cfg.Helo}
	for i := range cfg.Sources {
		src := cfg.Sources[i]
		if src.Name == "" || !src.Addr.IsValid() {
			return nil, fmt.Errorf("smtp: source %d: a name and an address are required", i)
		}
		if _, dup := s.byName[src.Name]; dup {
			return nil, fmt.Errorf("smtp: source %q defined twice", src.Name)
		}
		if src.Helo == "" {
			src.Helo = cfg.Helo
		}
		src.Addr = src.Addr.Unmap()
		s.byName[src.Name] = &src
		s.byAddr[src.Addr] = &src
	}
	for _, p := range cfg.Pools {
		if err := s.addPool(p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *sources) addPool(p Pool) error {
	if _, dup := s.byName[p.Name]; dup || s.pools[p.Name] != nil || p.Name == "" {
		return fmt.Errorf("smtp: pool %q: name empty or already used", p.Name)
	}
	if len(p.Sources) == 0 || (p.Weights != nil && len(p.Weights) != len(p.Sources)) {
		return fmt.Errorf("smtp: pool %q: needs sources, and one weight per source when weighted", p.Name)
	}
	pl := &pool{}
	for i, name := range p.Sources {
		src, ok := s.byName[name]
		if !ok {
			return fmt.Errorf("smtp: pool %q: unknown source %q", p.Name, name)
		}
		w := 1
		if p.Weights != nil {
			w = p.Weights[i]
		}
		if w <= 0 || w > 1000 {
			return fmt.Errorf("smtp: pool %q: weight %d of %q: want 1 to 1000", p.Name, w, name)
		}
		for ; w > 0; w-- {
			pl.order = append(pl.order, src)
		}
	}
	pl.order = interleave(pl.order)
	s.pools[p.Name] = pl
	return nil
}

// interleave spreads repeated sources over the order (a a b → a b a),
// so a weighted pool alternates instead of sending in bursts.
func interleave(order []*Source) []*Source {
	out := make([]*Source, 0, len(order))
	left := map[*Source]int{}
	var uniq []*Source
	for _, s := range order {
		if left[s] == 0 {
			uniq = append(uniq, s)
		}
		left[s]++
	}
	for len(out) < len(order) {
		for _, s := range uniq {
			if left[s] > 0 {
				out = append(out, s)
				left[s]--
			}
		}
	}
	return out
}

// CheckSource reports whether spec (an egress policy's source) names a
// configured source or pool, or is an address literal, without taking
// a turn of a pool: for checking a policy before it is used.
func (a *Agent) CheckSource(spec string) error {
	if spec == "" || a.sources.byName[spec] != nil || a.sources.pools[spec] != nil {
		return nil
	}
	_, err := a.sources.pick(spec)
	return err
}

// pick resolves spec: nil for "" (the system's choice of address).
func (s *sources) pick(spec string) (*Source, error) {
	if spec == "" {
		return nil, nil
	}
	if src, ok := s.byName[spec]; ok {
		return src, nil
	}
	if p, ok := s.pools[spec]; ok {
		n := p.next.Add(1) - 1
		return p.order[n%uint64(len(p.order))], nil
	}
	ip, err := netip.ParseAddr(spec)
	if err != nil || ip.Zone() != "" {
		return nil, fmt.Errorf("unknown source address, source or pool %q", spec)
	}
	ip = ip.Unmap()
	if src, ok := s.byAddr[ip]; ok {
		return src, nil
	}
	return &Source{Name: ip.String(), Addr: ip, Helo: s.helo}, nil
}

// localAddrKey carries the chosen source address to the dialer.
type localAddrKey struct{}

// LocalAddr is the local address a connection opened with ctx must be
// bound to, when the delivery chose a source. A custom Config.Dialer
// must honour it; the default dialer does.
func LocalAddr(ctx context.Context) (netip.Addr, bool) {
	ip, ok := ctx.Value(localAddrKey{}).(netip.Addr)
	return ip, ok
}

func withLocalAddr(ctx context.Context, src *Source) context.Context {
	if src == nil {
		return ctx
	}
	return context.WithValue(ctx, localAddrKey{}, src.Addr)
}

// dialFrom is the default dialer: bound to LocalAddr(ctx) when set.
// Keep-alives are off; command timeouts bound a session.
func dialFrom(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1}
	if ip, ok := LocalAddr(ctx); ok && network != "unix" {
		d.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
	}
	return d.DialContext(ctx, network, addr)
}

// familyMismatch reports a source that cannot reach addr: an IPv4
// source for an IPv6 server or the reverse. Sending from another
// address than the policy chose would spoil that address's reputation
// bookkeeping, so such a server is skipped.
func familyMismatch(src *Source, t target) bool {
	if src == nil || t.network != "tcp" {
		return false
	}
	ap, err := netip.ParseAddrPort(t.addr)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().Is4() != src.Addr.Is4()
}
