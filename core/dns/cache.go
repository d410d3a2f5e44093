package dns

import (
	"container/list"
	"sync"
	"time"
)

// cacheKey names one question.
type cacheKey struct {
	name  string // normalized: lower case, no trailing dot
	qtype uint16
}

type cacheEntry struct {
	key     cacheKey
	ans     answer
	expires time.Time
}

// cache is a size-bounded LRU of answers with absolute expiry times.
// Time comes from the caller, so tests drive expiry with a fake clock.
type cache struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used *cacheEntry
	items map[cacheKey]*list.Element
}

func newCache(max int) *cache {
	return &cache{max: max, order: list.New(), items: make(map[cacheKey]*list.Element)}
}

// get returns a live answer; an expired one is dropped on the way.
func (c *cache) get(k cacheKey, now time.Time) (answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return answer{}, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, k)
		return answer{}, false
	}
	c.order.MoveToFront(el)
	return e.ans, true
}

// put stores an answer, evicting the least recently used past max.
func (c *cache) put(k cacheKey, ans answer, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		el.Value = &cacheEntry{key: k, ans: ans, expires: expires}
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, ans: ans, expires: expires})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(*cacheEntry).key)
	}
}

// len reports the number of entries, live or not, for tests.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
