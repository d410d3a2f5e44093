package dns

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"
)

// Resolver is what consumers of DNS get. Every error is a *LookupError.
// Implementations are safe for concurrent use and honour ctx.
type Resolver interface {
	// LookupMX returns the mail exchangers of domain in the order they
	// should be tried: by preference, equal preferences shuffled. A
	// domain without MX but with an address gives one Implicit MX, the
	// domain itself. A null MX is an error of Kind NullMX.
	LookupMX(ctx context.Context, domain string) ([]MX, error)
	// LookupHost returns the IPv4 then IPv6 addresses of host. An IP
	// literal is returned as is.
	LookupHost(ctx context.Context, host string) ([]netip.Addr, error)
	// LookupTXT returns each TXT record with its strings joined.
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupPTR returns the names an address maps back to.
	LookupPTR(ctx context.Context, addr netip.Addr) ([]string, error)
}

// MX is one mail exchanger.
type MX struct {
	Host string // lower case, no trailing dot
	Pref uint16
	// Implicit is set when the domain has no MX records and Host is the
	// domain itself (RFC 5321 section 5.1).
	Implicit bool
}

// Clock tells the time; the cache reads it so tests can move time by hand.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config sets up a resolver. The zero value is usable.
type Config struct {
	// Servers are "host:port" addresses, tried in order. Empty: the
	// nameservers of /etc/resolv.conf, or 127.0.0.1:53 if it is unreadable.
	Servers []string
	// Timeout bounds one query to one server (default 5s). The caller's
	// context deadline still wins when it is earlier.
	Timeout time.Duration
	// Attempts is how many rounds over all servers a question gets
	// before it fails temporarily (default 2).
	Attempts int
	Clock    Clock // nil: the system clock
	// Rand orders equal-preference MX hosts; nil uses a shared random
	// source. Tests set a seeded one.
	Rand *rand.Rand
	// CacheSize bounds the number of cached answers (default 4096;
	// negative disables the cache).
	CacheSize int
	// MaxTTL caps how long any answer is kept (default 1h), so a record
	// with a huge TTL cannot pin a stale route.
	MaxTTL time.Duration
	Logger *slog.Logger // nil: slog.Default()
}

// resolver is the miekg/dns implementation of Resolver.
type resolver struct {
	servers  []string
	timeout  time.Duration
	attempts int
	clock    Clock
	cache    *cache // nil when disabled
	maxTTL   time.Duration
	log      *slog.Logger

	stats stats // for Stats (stats.go)

	randMu sync.Mutex // rand.Rand is not safe for concurrent use
	rand   *rand.Rand
}

// New builds a Resolver from cfg, filling defaults.
func New(cfg Config) Resolver {
	r := &resolver{
		servers:  cfg.Servers,
		timeout:  cfg.Timeout,
		attempts: cfg.Attempts,
		clock:    cfg.Clock,
		maxTTL:   cfg.MaxTTL,
		log:      cfg.Logger,
		rand:     cfg.Rand,
	}
	if len(r.servers) == 0 {
		r.servers = systemServers()
	}
	if r.timeout <= 0 {
		r.timeout = 5 * time.Second
	}
	if r.attempts <= 0 {
		r.attempts = 2
	}
	if r.clock == nil {
		r.clock = systemClock{}
	}
	if r.maxTTL <= 0 {
		r.maxTTL = time.Hour
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	switch {
	case cfg.CacheSize == 0:
		r.cache = newCache(4096)
	case cfg.CacheSize > 0:
		r.cache = newCache(cfg.CacheSize)
	}
	return r
}

// systemServers reads /etc/resolv.conf. A host without one still gets a
// resolver: a local caching server is the usual setup on a mail host.
func systemServers() []string {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(cc.Servers) == 0 {
		return []string{"127.0.0.1:53"}
	}
	out := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out
}

// toASCII turns a domain as written by a user into the lower-case A-label
// form used on the wire, without the trailing dot. ASCII names skip IDNA
// so service labels like "_dmarc" stay valid.
func toASCII(name string) (string, error) {
	name = strings.TrimSuffix(name, ".")
	if !isASCII(name) {
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return "", err
		}
		name = a
	}
	name = strings.ToLower(name)
	if name == "" {
		return "", errEmptyName
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return "", errBadName
	}
	return name, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// shuffle permutes n items with the configured random source.
func (r *resolver) shuffle(n int, swap func(i, j int)) {
	if r.rand == nil {
		rand.Shuffle(n, swap)
		return
	}
	r.randMu.Lock()
	defer r.randMu.Unlock()
	r.rand.Shuffle(n, swap)
}
