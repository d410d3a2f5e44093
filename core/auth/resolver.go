package auth

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/moonpost/moonpost/core/dns"
)

// errBudget is a lookup refused because the message used up its share.
var errBudget = errors.New("too many DNS lookups for one message")

// lookups is the daemon's resolver seen by the authentication libraries:
// every answer through its cache, errors as *net.DNSError (which is
// what the libraries classify: not found, or temporary), and a budget of
// questions per message shared by DKIM and DMARC.
type lookups struct {
	res    dns.Resolver
	budget atomic.Int64 // questions left; SPF counts on its own
}

func newLookups(res dns.Resolver, budget int) *lookups {
	l := &lookups{res: res}
	l.budget.Store(int64(budget))
	return l
}

// txt is a budgeted TXT lookup for DKIM keys and DMARC records.
func (l *lookups) txt(ctx context.Context, name string) ([]string, error) {
	if l.budget.Add(-1) < 0 {
		return nil, &net.DNSError{Err: errBudget.Error(), Name: name, IsTemporary: true}
	}
	return l.LookupTXT(ctx, name)
}

// LookupTXT implements spf.DNSResolver.
func (l *lookups) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := l.res.LookupTXT(ctx, name)
	return txts, netError(name, err)
}

// LookupMX implements spf.DNSResolver. An implicit MX (the domain's own
// address) is not an MX record for SPF's "mx" mechanism.
func (l *lookups) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := l.res.LookupMX(ctx, name)
	if err != nil {
		return nil, netError(name, err)
	}
	var out []*net.MX
	for _, m := range mxs {
		if !m.Implicit {
			out = append(out, &net.MX{Host: m.Host + ".", Pref: m.Pref})
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no MX records", Name: name, IsNotFound: true}
	}
	return out, nil
}

// LookupIPAddr implements spf.DNSResolver.
func (l *lookups) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	addrs, err := l.res.LookupHost(ctx, host)
	if err != nil {
		return nil, netError(host, err)
	}
	out := make([]net.IPAddr, len(addrs))
	for i, a := range addrs {
		out[i] = net.IPAddr{IP: a.AsSlice()}
	}
	return out, nil
}

// LookupAddr implements spf.DNSResolver.
func (l *lookups) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr, IsNotFound: true}
	}
	names, err := l.res.LookupPTR(ctx, ip)
	return names, netError(addr, err)
}

// netError maps a core/dns error to the *net.DNSError the libraries
// read: NotFound and a null MX stay permanent, everything else (timeouts included)
// is temporary, so a slow DNS gives temperror, never fail.
func netError(name string, err error) error {
	if err == nil {
		return nil
	}
	var le *dns.LookupError
	if dns.IsNotFound(err) || errors.As(err, &le) && le.Kind == dns.NullMX {
		// A null MX (RFC 7505) names no host: for SPF's "mx" that is
		// no match, not an error (RFC 7208 5.4).
		return &net.DNSError{Err: err.Error(), Name: name, IsNotFound: true}
	}
	timeout := errors.Is(err, context.DeadlineExceeded)
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true, IsTimeout: timeout}
}
