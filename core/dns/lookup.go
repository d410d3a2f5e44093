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
	mxs, _, err := r.LookupMXSecure(ctx, domain)
	return mxs, err
}

// LookupMXSecure implements SecureResolver. An implicit MX is secure
// when both the empty MX answer and the address answer are.
func (r *resolver) LookupMXSecure(ctx context.Context, domain string) ([]MX, bool, error) {
	name, err := toASCII(domain)
	if err != nil {
		return nil, false, &LookupError{Name: domain, Type: "MX", Kind: NotFound, Err: err}
	}
	ans, err := r.resolve(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, false, err
	}
	if ans.nxdomain {
		return nil, false, &LookupError{Name: name, Type: "MX", Kind: NotFound, Err: errNXDomain}
	}
	mxs, null := mxRecords(ans.rrs)
	if null {
		return nil, false, &LookupError{Name: name, Type: "MX", Kind: NullMX}
	}
	if len(mxs) == 0 {
		mxs, secure, err := r.implicitMX(ctx, name)
		return mxs, secure && ans.secure, err
	}
	r.sortMX(mxs)
	return mxs, ans.secure, nil
}

// implicitMX applies RFC 5321 5.1: no MX, but an address, means the
// domain is its own mail exchanger.
func (r *resolver) implicitMX(ctx context.Context, name string) ([]MX, bool, error) {
	_, secure, err := r.LookupHostSecure(ctx, name)
	if err != nil {
		var le *LookupError
		if errors.As(err, &le) && le.Kind == NotFound {
			return nil, false, &LookupError{Name: name, Type: "MX", Kind: NotFound, Err: errNoAddress}
		}
		return nil, false, err
	}
	return []MX{{Host: name, Pref: 0, Implicit: true}}, secure, nil
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
	addrs, _, err := r.LookupHostSecure(ctx, host)
	return addrs, err
}

// LookupHostSecure implements SecureResolver: secure when both families
// answered with the AD bit. An IP literal is not secure: no DNS vouched
// for it.
func (r *resolver) LookupHostSecure(ctx context.Context, host string) ([]netip.Addr, bool, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{ip.Unmap()}, false, nil
	}
	name, err := toASCII(host)
	if err != nil {
		return nil, false, &LookupError{Name: host, Type: "A/AAAA", Kind: NotFound, Err: err}
	}
	var addrs []netip.Addr
	var tempErr error
	nx := 0
	secure := true
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		ans, err := r.resolve(ctx, name, qtype)
		if err != nil {
			tempErr, secure = err, false
			continue
		}
		if ans.nxdomain {
			nx++
		}
		secure = secure && ans.secure
		addrs = append(addrs, addrRecords(ans.rrs)...)
	}
	switch {
	case len(addrs) > 0:
		return addrs, secure, nil
	case tempErr != nil:
		return nil, false, tempErr
	case nx > 0:
		return nil, false, &LookupError{Name: name, Type: "A/AAAA", Kind: NotFound, Err: errNXDomain}
	}
	return nil, false, &LookupError{Name: name, Type: "A/AAAA", Kind: NotFound, Err: errNoData}
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
