package smtp

import "sync/atomic"

// cacheCounters are the connection cache's figures, for CacheStats.
type cacheCounters struct {
	hits, misses, stored, full, expired, broken atomic.Uint64
}

// CacheStats describe the use of the connection cache since start.
type CacheStats struct {
	Idle, Max int    // sessions cached now, and the bound
	Hits      uint64 // cached sessions taken for a delivery (Broken of them were dead)
	Misses    uint64 // deliveries that found none and connected
	Stored    uint64 // sessions kept after a transaction
	Full      uint64 // sessions closed because the cache was full
	Expired   uint64 // sessions closed after idling too long
	Broken    uint64 // cached sessions found dead when reused
}

// CacheStats returns the connection cache's figures (zero when the
// agent caches nothing).
func (a *Agent) CacheStats() CacheStats {
	c := a.cache
	if c == nil {
		return CacheStats{}
	}
	c.mu.Lock()
	idle := c.n
	c.mu.Unlock()
	k := &c.counts
	return CacheStats{Idle: idle, Max: c.max, Hits: k.hits.Load(), Misses: k.misses.Load(), Stored: k.stored.Load(),
		Full: k.full.Load(), Expired: k.expired.Load(), Broken: k.broken.Load()}
}
