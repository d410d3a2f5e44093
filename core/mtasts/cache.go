package mtasts

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/dns"
	"golang.org/x/net/idna"
)

// FailureTTL is how long a failed fetch is remembered before the next
// try: a domain whose policy server is down costs one fetch per
// interval, not one per delivery.
const FailureTTL = 5 * time.Minute

// maxFailures bounds the remembered failures; past it, expired ones are
// dropped, then the whole set.
const maxFailures = 10000

// Clock tells the time.
type Clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Cache gives the policy in force for a domain, fetching and keeping
// policies as RFC 8461 §5.1 describes. It is safe for concurrent use.
type Cache struct {
	Resolver dns.Resolver // TXT lookups; the daemon's one resolver
	Fetcher  *Fetcher     // Init already called
	// Dir, when not "", keeps the policies across restarts, one file per
	// domain.
	Dir    string
	Clock  Clock        // nil: the system clock
	Logger *slog.Logger // nil: slog.Default()

	once     sync.Once
	mu       sync.Mutex
	policies map[string]*entry
	failed   map[string]failure
	inflight map[string]*call
}

// entry is a policy with what decides its life.
type entry struct {
	ID      string    `json:"id"`
	Fetched time.Time `json:"fetched"`
	Expires time.Time `json:"expires"`
	Body    string    `json:"policy"` // as published; parsed again at load
	policy  *Policy
}

// failure is a fetch that failed, for the policy id the TXT record gave.
type failure struct {
	id    string
	until time.Time
	err   error
}

// call is a fetch in progress that others wait for.
type call struct {
	done chan struct{}
	ent  *entry
	err  error
}

func (c *Cache) init() {
	c.once.Do(func() {
		if c.Clock == nil {
			c.Clock = systemClock{}
		}
		if c.Logger == nil {
			c.Logger = slog.Default()
		}
		c.policies = map[string]*entry{}
		c.failed = map[string]failure{}
		c.inflight = map[string]*call{}
		if c.Dir != "" {
			c.load()
		}
	})
}

// Policy returns the policy in force for domain (lower case ASCII, no
// trailing dot). nil with a nil error: the domain has no policy. nil
// with an *Error: the domain announces a policy that could not be had
// and none is cached, so mail goes out as without one and the failure
// is reported. A policy of mode none is returned as is.
func (c *Cache) Policy(ctx context.Context, domain string) (*Policy, error) {
	c.init()
	domain, err := aLabel(domain)
	if err != nil {
		return nil, nil // not a name a policy host can have
	}
	now := c.Clock.Now()
	cached := c.cached(domain, now)
	txts, err := c.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil {
		if !dns.IsNotFound(err) {
			c.Logger.Info("mta-sts: TXT lookup failed", "domain", domain, "err", err)
		}
		return cached.get(), nil // §5.1: a fresh cached policy survives a missing record
	}
	id, err := ParseRecord(txts)
	if err != nil {
		c.Logger.Info("mta-sts: bad TXT record", "domain", domain, "err", err)
		return cached.get(), nil
	}
	if cached != nil && cached.ID == id {
		if now.Sub(cached.Fetched) >= cached.policy.MaxAge/2 {
			c.start(ctx, domain, id) // refreshed ahead of expiry (§5.1), not waited for
		}
		return cached.policy, nil
	}
	ent, err := c.fetch(ctx, domain, id)
	if err == nil {
		return ent.policy, nil
	}
	if cached != nil {
		c.Logger.Info("mta-sts: refresh failed, keeping the cached policy", "domain", domain, "err", err)
		return cached.policy, nil
	}
	return nil, err
}

// aLabel is domain as the policy host's name and the cache key: lower
// case, IDNs in their A-label form.
func aLabel(domain string) (string, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	for i := 0; i < len(domain); i++ {
		if domain[i] >= 0x80 {
			return idna.Lookup.ToASCII(domain)
		}
	}
	return domain, nil
}

func (e *entry) get() *Policy {
	if e == nil {
		return nil
	}
	return e.policy
}

// cached is domain's policy if it has not expired.
func (c *Cache) cached(domain string, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.policies[domain]
	if e != nil && !now.Before(e.Expires) {
		delete(c.policies, domain)
		c.remove(domain)
		return nil
	}
	return e
}

// fetch gets domain's policy for id, once at a time per domain, unless
// a fetch for the same id failed within FailureTTL.
func (c *Cache) fetch(ctx context.Context, domain, id string) (*entry, error) {
	cl, err := c.start(ctx, domain, id)
	if cl == nil {
		return nil, err
	}
	return cl.wait(ctx, domain)
}

// start begins a fetch for domain, or joins the one running; nil and
// the error when a fetch for id failed within FailureTTL.
func (c *Cache) start(ctx context.Context, domain, id string) (*call, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.failed[domain]; ok && f.id == id && c.Clock.Now().Before(f.until) {
		return nil, f.err
	}
	if cl := c.inflight[domain]; cl != nil {
		return cl, nil
	}
	cl := &call{done: make(chan struct{})}
	c.inflight[domain] = cl
	// The fetch outlives a caller that gives up: its result serves the
	// next delivery. Fetcher.Timeout bounds it.
	go c.run(context.WithoutCancel(ctx), domain, id, cl)
	return cl, nil
}

func (c *Cache) run(ctx context.Context, domain, id string, cl *call) {
	ent, err := c.fetchNow(ctx, domain, id)
	c.mu.Lock()
	cl.ent, cl.err = ent, err
	delete(c.inflight, domain)
	c.settle(domain, id, cl)
	c.mu.Unlock()
	close(cl.done)
}

func (cl *call) wait(ctx context.Context, domain string) (*entry, error) {
	select {
	case <-cl.done:
		return cl.ent, cl.err
	case <-ctx.Done():
		return nil, &Error{Domain: domain, Type: FetchFailed, Err: ctx.Err()}
	}
}

// fetchNow runs one fetch and persists what it got.
func (c *Cache) fetchNow(ctx context.Context, domain, id string) (*entry, error) {
	p, err := c.Fetcher.Fetch(ctx, domain)
	if err != nil {
		c.Logger.Info("mta-sts: policy fetch failed", "domain", domain, "id", id, "err", err)
		return nil, err
	}
	now := c.Clock.Now()
	e := &entry{ID: id, Fetched: now, Expires: now.Add(p.MaxAge), Body: joinLines(p.Lines), policy: p}
	c.Logger.Info("mta-sts: policy fetched", "domain", domain, "id", id, "mode", string(p.Mode), "max_age", p.MaxAge.String())
	if err := c.save(domain, e); err != nil {
		c.Logger.Warn("mta-sts: cannot store policy", "domain", domain, "err", err)
	}
	return e, nil
}

// settle records a finished fetch; the caller holds mu.
func (c *Cache) settle(domain, id string, cl *call) {
	if cl.err == nil {
		c.policies[domain] = cl.ent
		delete(c.failed, domain)
		return
	}
	var e *Error
	if !errors.As(cl.err, &e) {
		cl.err = &Error{Domain: domain, Type: FetchFailed, Err: cl.err}
	}
	if len(c.failed) >= maxFailures {
		c.pruneFailures()
	}
	c.failed[domain] = failure{id: id, until: c.Clock.Now().Add(FailureTTL), err: cl.err}
}

func (c *Cache) pruneFailures() {
	now := c.Clock.Now()
	for d, f := range c.failed {
		if !now.Before(f.until) {
			delete(c.failed, d)
		}
	}
	if len(c.failed) >= maxFailures {
		clear(c.failed)
	}
}

func joinLines(lines []string) string {
	s := ""
	for _, l := range lines {
		s += l + "\n"
	}
	return s
}
