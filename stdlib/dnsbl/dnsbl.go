package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/moonpost/moonpost/stdlib/dns"
)

// Resolver is the part of the daemon's resolver the module needs; the
// "dns" module's Resolver satisfies it. Names that do not exist give
// dns.ErrNotFound (or a *net.DNSError with IsNotFound).
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Site is one list, parsed from "domain[=filter][*weight]".
type Site struct {
	Domain string
	Filter [4]octet // the zero filter accepts any answer
	Any    bool     // no filter given
	Weight int
}

// octet matches one octet of an answer: a set of values as a bitmap.
type octet [4]uint64

func (o *octet) set(lo, hi int) {
	for v := lo; v <= hi; v++ {
		o[v/64] |= 1 << (v % 64)
	}
}

func (o octet) has(v byte) bool { return o[v/64]&(1<<(v%64)) != 0 }

// ParseSite reads a site in postscreen_dnsbl_sites syntax.
func ParseSite(s string) (Site, error) {
	site := Site{Weight: 1, Any: true}
	rest := strings.TrimSpace(s)
	if i := strings.LastIndexByte(rest, '*'); i >= 0 {
		w, err := strconv.Atoi(rest[i+1:])
		if err != nil || w < -1000 || w > 1000 {
			return site, fmt.Errorf("dnsbl site %q: bad weight", s)
		}
		site.Weight, rest = w, rest[:i]
	}
	domain, filter, hasFilter := strings.Cut(rest, "=")
	site.Domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if !validDomain(site.Domain) {
		return site, fmt.Errorf("dnsbl site %q: bad domain", s)
	}
	if hasFilter {
		f, err := parseFilter(filter)
		if err != nil {
			return site, fmt.Errorf("dnsbl site %q: %v", s, err)
		}
		site.Filter, site.Any = f, false
	}
	return site, nil
}

func validDomain(d string) bool {
	if d == "" || len(d) > 200 || strings.Contains(d, "..") || strings.HasPrefix(d, ".") {
		return false
	}
	for _, c := range d {
		if !(c == '.' || c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// parseFilter reads "127.0.0.[2..11]" or "127.0.[0..255].[1;3]".
func parseFilter(s string) ([4]octet, error) {
	var f [4]octet
	parts := splitOctets(s)
	if len(parts) != 4 {
		return f, fmt.Errorf("filter %q: want four octets", s)
	}
	for i, p := range parts {
		if err := parseOctet(&f[i], p); err != nil {
			return f, fmt.Errorf("filter %q: %v", s, err)
		}
	}
	return f, nil
}

// splitOctets splits on the dots outside brackets.
func splitOctets(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		case '.':
			if depth == 0 {
				out, start = append(out, s[start:i]), i+1
			}
		}
	}
	return append(out, s[start:])
}

func parseOctet(o *octet, p string) error {
	inner, bracketed := strings.CutPrefix(p, "[")
	if bracketed {
		var ok bool
		if inner, ok = strings.CutSuffix(inner, "]"); !ok {
			return fmt.Errorf("unclosed [ in %q", p)
		}
	}
	if !bracketed {
		v, err := byteValue(p)
		if err != nil {
			return err
		}
		o.set(v, v)
		return nil
	}
	for _, item := range strings.Split(inner, ";") {
		lo, hi, isRange := strings.Cut(item, "..")
		a, err := byteValue(lo)
		if err != nil {
			return err
		}
		b := a
		if isRange {
			if b, err = byteValue(hi); err != nil {
				return err
			}
		}
		if b < a {
			return fmt.Errorf("empty range %q", item)
		}
		o.set(a, b)
	}
	return nil
}

func byteValue(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 255 || s == "" || (len(s) > 1 && s[0] == '+') {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	return v, nil
}

// Match reports whether an answer counts for the site.
func (s Site) Match(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	if s.Any {
		return true
	}
	b := a.As4()
	for i := range b {
		if !s.Filter[i].has(b[i]) {
			return false
		}
	}
	return true
}

// Reverse gives the DNSBL query prefix of an address (RFC 5782).
func Reverse(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is4() {
		b := ip.As4()
		return fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
	}
	b := ip.As16()
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 63)
	for i := len(b) - 1; i >= 0; i-- {
		out = append(out, hex[b[i]&0xf], '.', hex[b[i]>>4], '.')
	}
	return string(out[:len(out)-1])
}

// Hit is one site listing the address.
type Hit struct {
	Site   string
	Addr   string // the first answer that matched the filter
	Weight int
}

// Result is the combined verdict of the sites.
type Result struct {
	Score  int
	Hits   []Hit
	Errors map[string]error // site domain → look-up failure
}

// Check looks ip up on every site at once and sums the weights of those
// that list it. It returns when all answered or ctx ends.
func Check(ctx context.Context, r Resolver, ip netip.Addr, sites []Site) Result {
	res := Result{Errors: map[string]error{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	prefix := Reverse(ip)
	hits := make([]*Hit, len(sites))
	for i, s := range sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := lookup(ctx, r, prefix, s)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Errors[s.Domain] = err
			}
			hits[i] = h
		}()
	}
	wg.Wait()
	for _, h := range hits { // in the order the sites were given
		if h != nil {
			res.Hits = append(res.Hits, *h)
			res.Score += h.Weight
		}
	}
	return res
}

func lookup(ctx context.Context, r Resolver, prefix string, s Site) (*Hit, error) {
	addrs, err := r.LookupHost(ctx, prefix+"."+s.Domain)
	if err != nil {
		if notFound(err) {
			return nil, nil
		}
		return nil, err
	}
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil && s.Match(ip) {
			return &Hit{Site: s.Domain, Addr: a, Weight: s.Weight}, nil
		}
	}
	return nil, nil
}

func notFound(err error) bool {
	if errors.Is(err, dns.ErrNotFound) {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}
