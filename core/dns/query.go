package dns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxCNAME bounds CNAME chains, in one answer and across queries, so a
// loop costs a few queries and then fails temporarily.
const maxCNAME = 8

// defaultNegTTL is how long a negative answer without an SOA is kept.
const defaultNegTTL = time.Minute

var (
	errNXDomain = errors.New("NXDOMAIN")
	errNoData   = errors.New("no records of that type")
	errLoop     = errors.New("CNAME chain too long or looping")
)

// answer is the outcome of one question once CNAMEs are followed. It is
// what the cache holds.
type answer struct {
	rrs      []dns.RR // records of the asked type; empty for NODATA
	nxdomain bool
	ttl      time.Duration // smallest TTL along the chain, or the negative TTL
	// secure is set when every response on the way carried the AD bit:
	// the (trusted, validating) server checked the DNSSEC signatures.
	secure bool
}

// resolve answers (name, qtype) from the cache or the servers. The only
// error is a Temporary *LookupError.
func (r *resolver) resolve(ctx context.Context, name string, qtype uint16) (answer, error) {
	key := cacheKey{name: name, qtype: qtype}
	now := r.clock.Now()
	ti := typeIndex(qtype)
	r.stats.lookups[ti].Add(1)
	if r.cache != nil {
		if ans, ok := r.cache.get(key, now); ok {
			r.stats.hits[ti].Add(1)
			return ans, nil
		}
	}
	ans, err := r.chase(ctx, name, qtype)
	if err != nil {
		r.stats.failures[ti].Add(1)
		typ := dns.TypeToString[qtype]
		r.log.Debug("dns lookup failed", "name", name, "type", typ, "err", err)
		return answer{}, tempErr(name, typ, err)
	}
	if ans.ttl > r.maxTTL {
		ans.ttl = r.maxTTL
	}
	if r.cache != nil && ans.ttl > 0 {
		r.cache.put(key, ans, now.Add(ans.ttl))
	}
	return ans, nil
}

// chase asks the servers, following CNAMEs that an answer leaves
// unresolved with new queries, up to maxCNAME links in total.
func (r *resolver) chase(ctx context.Context, name string, qtype uint16) (answer, error) {
	cur := name
	ttl := time.Duration(-1)
	secure := true
	for hops := 0; ; {
		msg, err := r.exchange(ctx, cur, qtype)
		if err != nil {
			return answer{}, err
		}
		secure = secure && msg.AuthenticatedData
		if msg.Rcode == dns.RcodeNameError {
			return answer{nxdomain: true, ttl: minTTL(ttl, negTTL(msg)), secure: secure}, nil
		}
		rrs, next, used, chainTTL := extract(msg, cur, qtype, maxCNAME-hops)
		if hops += used; hops > maxCNAME {
			return answer{}, errLoop
		}
		ttl = minTTL(ttl, chainTTL)
		if len(rrs) > 0 {
			return answer{rrs: rrs, ttl: minTTL(ttl, rrsTTL(rrs)), secure: secure}, nil
		}
		if next == cur {
			return answer{ttl: minTTL(ttl, negTTL(msg)), secure: secure}, nil
		}
		cur = next
	}
}

// extract reads the records of qtype for name from msg's answer
// section, following CNAMEs inside it. It returns the records, the name
// the chain ended at (name itself when there was no CNAME), the links
// followed (more than budget means it gave up) and the smallest CNAME
// TTL (-1 when there was none).
func extract(msg *dns.Msg, name string, qtype uint16, budget int) ([]dns.RR, string, int, time.Duration) {
	cur := dns.Fqdn(name)
	ttl := time.Duration(-1)
	for used := 0; ; {
		var rrs []dns.RR
		var target string
		for _, rr := range msg.Answer {
			h := rr.Header()
			if !sameName(h.Name, cur) {
				continue
			}
			if h.Rrtype == qtype {
				rrs = append(rrs, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && target == "" {
				target = c.Target
				ttl = minTTL(ttl, time.Duration(h.Ttl)*time.Second)
			}
		}
		if len(rrs) > 0 || target == "" {
			return rrs, normalize(cur), used, ttl
		}
		if used++; used > budget {
			return nil, normalize(target), used, ttl
		}
		cur = dns.Fqdn(target)
	}
}

// sameName compares two names as DNS does: case-insensitive over the
// wire form, so a name written with a raw space matches the escaped
// "\032" form records are unpacked in.
func sameName(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	if !strings.ContainsRune(a, '\\') && !strings.ContainsRune(b, '\\') {
		return false
	}
	var wa, wb [256]byte
	na, errA := dns.PackDomainName(a, wa[:], 0, nil, false)
	nb, errB := dns.PackDomainName(b, wb[:], 0, nil, false)
	return errA == nil && errB == nil && bytes.EqualFold(wa[:na], wb[:nb])
}

// exchange sends one question to the servers in turn, Attempts rounds,
// and returns the first answer that is NOERROR or NXDOMAIN.
func (r *resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, false) // the DNS flag day 2020 size: no IP fragments
	// AD in a query asks a validating server to say whether it validated
	// the answer (RFC 6840 5.7), without the RRSIGs that DO would bring.
	m.AuthenticatedData = true
	var last error
	for a := 0; a < r.attempts; a++ {
		for _, srv := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			resp, err := r.exchangeOne(ctx, m, srv)
			if err != nil {
				last = err
				continue
			}
			if resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError {
				return resp, nil
			}
			last = fmt.Errorf("%s answered %s", srv, dns.RcodeToString[resp.Rcode])
		}
	}
	return nil, last
}

// exchangeOne asks one server over UDP, and over TCP when the UDP answer
// was truncated.
func (r *resolver) exchangeOne(ctx context.Context, m *dns.Msg, srv string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m.Id = dns.Id()
	ti := typeIndex(m.Question[0].Qtype)
	r.stats.queries[ti].Add(1)
	c := &dns.Client{Net: "udp", Timeout: r.timeout}
	resp, _, err := c.ExchangeContext(ctx, m, srv)
	if err != nil || !resp.Truncated {
		return resp, err
	}
	c.Net = "tcp"
	r.stats.queries[ti].Add(1)
	resp, _, err = c.ExchangeContext(ctx, m, srv)
	return resp, err
}

// negTTL is RFC 2308's negative caching time: the SOA's TTL capped by
// its minimum field.
func negTTL(msg *dns.Msg) time.Duration {
	for _, rr := range msg.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return defaultNegTTL
}

func rrsTTL(rrs []dns.RR) time.Duration {
	ttl := time.Duration(-1)
	for _, rr := range rrs {
		ttl = minTTL(ttl, time.Duration(rr.Header().Ttl)*time.Second)
	}
	return ttl
}

// minTTL is min where -1 means "not set yet".
func minTTL(a, b time.Duration) time.Duration {
	if a < 0 {
		return b
	}
	if b < 0 {
		return a
	}
	return min(a, b)
}
