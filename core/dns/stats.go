package dns

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// statTypes are the query types counted apart; any other is "other".
var statTypes = [...]uint16{dns.TypeMX, dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypePTR, dns.TypeTLSA}

// stats are a resolver's counters, by statTypes index (the last: other).
type stats struct {
	lookups  [len(statTypes) + 1]atomic.Uint64 // questions asked of the resolver
	hits     [len(statTypes) + 1]atomic.Uint64 // of which answered from the cache
	queries  [len(statTypes) + 1]atomic.Uint64 // messages sent to servers
	failures [len(statTypes) + 1]atomic.Uint64 // questions that failed temporarily
}

func typeIndex(qtype uint16) int {
	for i, t := range statTypes {
		if t == qtype {
			return i
		}
	}
	return len(statTypes)
}

// Stats are one query type's figures since start.
type Stats struct {
	Lookups  uint64 // questions asked (each CNAME link followed is not one more)
	Hits     uint64 // answered from the cache
	Queries  uint64 // queries sent to servers, retries and TCP fallbacks included
	Failures uint64 // questions that failed temporarily (no usable answer)
}

// Counted is a Resolver that reports its figures (the one New returns).
type Counted interface {
	Stats() map[string]Stats // by query type: "MX", "A", ..., "other"
}

// Stats implements Counted.
func (r *resolver) Stats() map[string]Stats {
	out := make(map[string]Stats, len(statTypes)+1)
	for i := range r.stats.lookups {
		name := "other"
		if i < len(statTypes) {
			name = dns.TypeToString[statTypes[i]]
		}
		out[name] = Stats{Lookups: r.stats.lookups[i].Load(), Hits: r.stats.hits[i].Load(),
			Queries: r.stats.queries[i].Load(), Failures: r.stats.failures[i].Load()}
	}
	return out
}
