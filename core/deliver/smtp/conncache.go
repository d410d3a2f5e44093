package smtp

import (
	"sync"
	"time"

	"github.com/moonpost/moonpost/core/dns"
)

// connCache keeps idle sessions after a successful transaction, keyed by
// next hop, source and TLS policy, so the next request to the same
// destination skips connect, greeting, EHLO and TLS. It is bounded in
// count and idle age (the session's own maxIdle, from the egress
// policy, else the cache's); a timer per entry closes it when it has
// been idle too long, and get also checks age against the injected
// clock so tests need not wait.
type connCache struct {
	mu      sync.Mutex
	max     int
	maxIdle time.Duration
	clock   dns.Clock
	idle    map[string][]*cached // newest last
	n       int
	closed  bool
	counts  cacheCounters // for Agent.CacheStats (cachestats.go)
}

type cached struct {
	s     *session
	timer *time.Timer // closes the session when idle too long
}

func newConnCache(max int, maxIdle time.Duration, clock dns.Clock) *connCache {
	return &connCache{max: max, maxIdle: maxIdle, clock: clock, idle: map[string][]*cached{}}
}

// get takes the newest idle session for key, dropping stale ones.
func (c *connCache) get(key string) *session {
	var stale []*session
	defer func() {
		for _, s := range stale {
			s.close()
		}
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock.Now()
	for list := c.idle[key]; len(list) > 0; list = c.idle[key] {
		e := list[len(list)-1]
		c.remove(key, e)
		e.timer.Stop()
		if now.Sub(e.s.idleSince) < c.idleLimit(e.s) {
			c.counts.hits.Add(1)
			return e.s
		}
		c.counts.expired.Add(1)
		stale = append(stale, e.s)
	}
	c.counts.misses.Add(1)
	return nil
}

// put keeps s for reuse, or closes it when the cache is full or closed.
func (c *connCache) put(key string, s *session) {
	c.mu.Lock()
	if c.closed || c.n >= c.max {
		if !c.closed {
			c.counts.full.Add(1)
		}
		c.mu.Unlock()
		s.close()
		return
	}
	s.idleSince = c.clock.Now()
	e := &cached{s: s}
	e.timer = time.AfterFunc(c.idleLimit(s), func() { c.expire(key, e) })
	c.idle[key] = append(c.idle[key], e)
	c.n++
	c.counts.stored.Add(1)
	c.mu.Unlock()
}

// idleLimit is how long s may stay idle.
func (c *connCache) idleLimit(s *session) time.Duration {
	if s.maxIdle > 0 {
		return s.maxIdle
	}
	return c.maxIdle
}

// expire closes e if it is still idle in the cache.
func (c *connCache) expire(key string, e *cached) {
	c.mu.Lock()
	found := c.remove(key, e)
	c.mu.Unlock()
	if found {
		c.counts.expired.Add(1)
		e.s.close()
	}
}

// remove unlinks e; the caller holds mu.
func (c *connCache) remove(key string, e *cached) bool {
	list := c.idle[key]
	for i, x := range list {
		if x == e {
			c.idle[key] = append(list[:i:i], list[i+1:]...)
			if len(c.idle[key]) == 0 {
				delete(c.idle, key)
			}
			c.n--
			return true
		}
	}
	return false
}

// closeAll closes every idle session and refuses new ones.
func (c *connCache) closeAll() {
	c.mu.Lock()
	c.closed = true
	var all []*cached
	for _, list := range c.idle {
		all = append(all, list...)
	}
	c.idle = map[string][]*cached{}
	c.n = 0
	c.mu.Unlock()
	for _, e := range all {
		e.timer.Stop()
		e.s.close()
	}
}
