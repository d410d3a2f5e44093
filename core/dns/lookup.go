package dns

import (
	"context"
	"errors"
	"net/netip"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

var (
	errEmptyName = errors.New("empty domain name")
	errBadName   = errors.New("malformed domain name")
	errNoAddress = errors.New("no MX and no address records")
)

// LookupMX implements Resolver.
func (r *resolver) LookupMX(ctx context.Context, domain string) ([]MX, error) {
	name, err := toASCII(domain)
	if err != nil {
		return nil, &LookupError{Name: domain, Type: "MX", Kind: NotFound, Err: err}
	}
	ans, err := r.resolve(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	if ans.nxdomain {
		return nil, &LookupError{Name: name, Type: "MX", Kind: NotFound, Err: errNXDomain}
	}
	mxs, null := mxRecords(ans.rrs)
	if null {
		return nil, &LookupError{Name: name, Type: "MX", Kind: NullMX}
	}
	if len(mxs) == 0 {
		return r.implicitMX(ctx, name)
	}
	r.sortMX(mxs)
	return mxs, nil
}

// implicitMX applies RFC 5321 5.1: no MX, but an address, means the
// domain is its own mail exchanger.
func (r *resolver) implicitMX(ctx context.Context, name string) ([]MX, error) {
	if _, err := r.LookupHost(ctx, name); err != nil {
		var le *LookupError
		if errors.As(err, &le) && le.Kind == NotFound {
			return nil, &LookupError{Name: name, Type: "MX", Kind: NotFound, Err: errNoAddress}
		}
		return nil, err
	}
	return []MX{{Host: name, Pref: 0, Implicit: true}}, nil
}

// mxRecords converts MX RRs. A lone "MX 0 ." is RFC 7505's null MX; a
// "." mixed with real hosts is a misconfiguration and is just dropped.
func mxRecords(rrs []dns.RR) (mxs []MX, null bool) {
	var dots int
	for _, rr := range rrs {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		if mx.Mx == "." {
			dots++
			continue
		}
		mxs = append(mxs, MX{Host: normalize(mx.Mx), Pref: mx.Preference})
	}
	return mxs, len(mxs) == 0 && dots > 0
}

// sortMX orders by preference and shuffles each run of equal preference,
// spreading load over equal mail exchangers as RFC 5321 asks.
func (r *resolver) sortMX(mxs []MX) {
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	for i := 0; i < len(mxs); {
		j := i + 1
		for j < len(mxs) && mxs[j].Pref == mxs[i].Pref {
			j++
		}
		run := mxs[i:j]
		r.shuffle(len(run), func(a, b int) { run[a], run[b] = run[b], run[a] })
		i = j
	}
}

// LookupHost implements Resolver. One family failing temporarily while
// the other answers is not an error: there is an address to try.
func (r *resolver) LookupHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	name, err := toASCII(host)
	if err != nil {
		return nil, &LookupError{Name: host, Type: "A/AAAA", Kind: NotFound, Err: err}
	}
	var addrs []netip.Addr
	var tempErr error
	nx := 0
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := r.resolve(ctx, name, qtype)
		if err != nil {
			tempErr = err
			continue
		}
		if ans.nxdomain {
			nx++
		}
		addrs = append(addrs, addrRecords(ans.rrs)...)
	}
	switch {
	case len(addrs) > 0:
		return addrs, nil
	case tempErr != nil:
		return nil, tempErr
	case nx > 0:
		return nil, &LookupError{Name: name, Type: "A/AAAA", Kind: NotFound, Err: errNXDomain}
	}
	return nil, &LookupError{Name: name, Type: "A/AAAA", Kind: NotFound, Err: errNoData}
}

func addrRecords(rrs []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		var ip netip.Addr
		var ok bool
		switch v := rr.(type) {
		case *dns.A:
			ip, ok = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			ip, ok = netip.AddrFromSlice(v.AAAA.To16())
		}
		if ok {
			out = append(out, ip)
		}
	}
	return out
}

// LookupTXT implements Resolver. The strings of one record are joined, as
// SPF and DKIM readers expect.
func (r *resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := r.lookupData(ctx, name, dns.TypeTXT, "TXT")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// LookupPTR implements Resolver.
func (r *resolver) LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error) {
	arpa, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return nil, &LookupError{Name: addr.String(), Type: "PTR", Kind: NotFound, Err: err}
	}
	rrs, err := r.lookupData(ctx, arpa, dns.TypePTR, "PTR")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, normalize(p.Ptr))
		}
	}
	return out, nil
}

// lookupData resolves a name whose answer is just data: NXDOMAIN and
// "no records of this type" are both NotFound.
func (r *resolver) lookupData(ctx context.Context, name string, qtype uint16, typ string) ([]dns.RR, error) {
	a, err := toASCII(name)
	if err != nil {
		return nil, &LookupError{Name: name, Type: typ, Kind: NotFound, Err: err}
	}
	ans, err := r.resolve(ctx, a, qtype)
	if err != nil {
		return nil, err
	}
	if ans.nxdomain {
		return nil, &LookupError{Name: a, Type: typ, Kind: NotFound, Err: errNXDomain}
	}
	if len(ans.rrs) == 0 {
		return nil, &LookupError{Name: a, Type: typ, Kind: NotFound, Err: errNoData}
	}
	return ans.rrs, nil
}

// normalize turns a wire name into the form callers see.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
